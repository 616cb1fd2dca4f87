import type { QueueSubscription } from '../contract';
import type { Delivery, QueueEvent, QueueReply } from '../queue';
import { InvocationContext, noCalls, type Publisher } from './context';
import type { FunctionCalls } from './invoke';
import { clientErrorStatus } from './errors';
import type { LogSink } from './log';
import { Outcome, type RuntimeMetrics } from './metrics';
import type { Handler } from '../contract';

/**
 * Runs the user's handler for a queue delivery, with the same context as an HTTP invocation, and
 * turns its return value into a reply the way the HTTP side turns it into a response. A thrown
 * error fails the attempt (retry, then dead-letter), except a deliberate 4xx: that is the call's
 * answer (an async call reports it), so retrying would only repeat it.
 */
export function queueHandlerFor(
  handler: Handler,
  functionName: string,
  timeoutMs: number,
  sink: LogSink,
  publish: Publisher,
  metrics: RuntimeMetrics,
  calls: FunctionCalls = noCalls,
): (sub: QueueSubscription) => (event: QueueEvent, delivery: Delivery) => Promise<QueueReply | undefined> {
  return (sub) => {
    const stats = metrics.trigger(sub.kind === 'topic' ? 'queue' : sub.kind);
    return async (event, delivery) => {
      const started = performance.now();
      const traceparent = event.traceparent;
      const traceId = typeof traceparent === 'string' ? traceparent.split('-')[1] : undefined;
      const context = new InvocationContext(
        functionName,
        event.id,
        Date.now() + timeoutMs,
        sink,
        publish,
        traceId,
        undefined,
        calls,
      );
      // Not through delivery.signal: that would make an AbortController for every delivery.
      delivery.onAbort(() => context.abort('timed out or stopping'));
      metrics.inFlight++;
      if (metrics.coldStarts === 0) metrics.coldStarts = 1;
      try {
        const reply = await toReply(await handler(event, context));
        stats.count(Outcome.success);
        return reply;
      } catch (err) {
        const status = clientErrorStatus(err);
        if (status !== undefined) {
          stats.count(Outcome.success);
          return {
            status,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ error: (err as Error).message }),
          };
        }
        stats.count(delivery.signal.aborted ? Outcome.timeout : Outcome.error);
        (context.log as { error(msg: string, fields?: Record<string, unknown>): void }).error('handler failed', {
          trigger: sub.trigger,
          attempt: delivery.attempt,
          error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
        });
        throw err;
      } finally {
        metrics.inFlight--;
        stats.observe((performance.now() - started) / 1000);
      }
    };
  };
}

/** Same mapping as HTTP responses: string/bytes → body, Response → as is, object → JSON, nothing → 204. */
async function toReply(result: unknown): Promise<QueueReply | undefined> {
  if (result === undefined || result === null) return undefined;
  if (typeof result === 'string')
    return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: result };
  if (result instanceof Uint8Array)
    return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: result };
  const candidate = result as Partial<Response>;
  if (typeof candidate.status === 'number' && typeof candidate.arrayBuffer === 'function' && candidate.headers) {
    const headers: Record<string, string> = {};
    (candidate.headers as globalThis.Headers).forEach((value, key) => (headers[key] = value));
    return { status: candidate.status, headers, body: new Uint8Array(await candidate.arrayBuffer()) };
  }
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(result) };
}
