import { defineHandler, http } from 'kubefaas/refs';
import { rawReadings, type Reading } from './model';

/** `POST /readings` with `{ "city": string, "tempF": number }`: queued for conversion, answered 202. */
export default defineHandler(http(), async (event, ctx) => {
  const reading = event.json<Partial<Reading>>();
  if (typeof reading.city !== 'string' || typeof reading.tempF !== 'number') {
    return Response.json({ error: 'expected { "city": string, "tempF": number }' }, { status: 400 });
  }
  // Typed: publishing anything but a Reading to rawReadings does not compile.
  await ctx.publish(rawReadings, { city: reading.city, tempF: reading.tempF });
  return Response.json({ city: reading.city, status: 'accepted' }, { status: 202 });
});
