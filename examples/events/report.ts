import type { FunctionContext, FunctionEvent } from 'kubefaas';

/**
 * Runs on a schedule (a CronTrigger) and announces it on the `reports` topic. A tick's body is
 * `{ function, trigger, schedule, timeZone, firedAt, data }`, `data` being the trigger's `data`.
 */
export default async function report(event: FunctionEvent, context: FunctionContext): Promise<void> {
  const tick = event.body.length > 0 ? event.json<Record<string, unknown>>() : {};
  await context.publish('reports', { type: event.type, source: event.source, ...tick });
}
