import { defineHandler, http, InvokeError } from 'kubefaas/refs';
import { converter } from './model';

/** `GET /convert/:city?tempF=50`: a synchronous call of `converter`, straight to its Service. */
export default defineHandler(http(), async (event, ctx) => {
  const tempF = Number(event.query.tempF);
  if (!Number.isFinite(tempF)) return Response.json({ error: 'give ?tempF=<number>' }, { status: 400 });
  try {
    return await ctx.invoke(converter, { city: event.params.city, tempF });
  } catch (err) {
    // The callee's status and body, typed; anything else is a 500.
    if (err instanceof InvokeError) return Response.json({ error: err.message }, { status: 502 });
    throw err;
  }
});
