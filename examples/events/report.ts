import type { FunctionContext, FunctionEvent } from 'kubefaas';

/**
 * Runs on a schedule (a CronTrigger) and announces it on the `reports` topic: the event's `type`
 * names the cron trigger, its body is the trigger's `data`.
 */
export default async function report(event: FunctionEvent, context: FunctionContext): Promise<void> {
  const data = event.body.length > 0 ? event.json<Record<string, unknown>>() : {};
  await context.publish('reports', { at: event.time, type: event.type, source: event.source, ...data });
}
