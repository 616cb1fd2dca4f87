import type { QueueSubscription } from '../../src/contract';
import type { Delivery, QueueEvent } from '../../src/queue';
import { LogSink } from '../../src/runtime/log';
import { RuntimeMetrics } from '../../src/runtime/metrics';
import { queueHandlerFor } from '../../src/runtime/queue-trigger';
import type { FunctionContext } from '../../src/contract';

const sub: QueueSubscription = {
  kind: 'async',
  subject: 'async.fn',
  durable: 'fn_async',
  trigger: 'async',
  maxInFlight: 1,
  ackWaitMs: 1000,
  maxRetries: 0,
  backoffMs: [],
  ordered: false,
};

/** A Delivery whose abort the test triggers; `signal` is never created unless asked for. */
function delivery(): Delivery & { abort(reason: Error): void; signalCreated: boolean } {
  const listeners: ((r: Error) => void)[] = [];
  let controller: AbortController | undefined;
  return {
    attempt: 1,
    maxAttempts: 1,
    deadline: Date.now() + 1000,
    subscription: sub,
    signalCreated: false,
    get signal() {
      this.signalCreated = true;
      controller ??= new AbortController();
      return controller.signal;
    },
    onAbort: (l) => listeners.push(l),
    abort(reason) {
      controller?.abort(reason);
      for (const l of listeners) l(reason);
    },
  };
}

const event = {
  id: 'call-1',
  traceparent: '00-11111111111111111111111111111111-2222222222222222-01',
  text: () => 'x',
} as unknown as QueueEvent;

test('a delivery abort (timeout, stop) aborts the invocation context, without the delivery making a signal', async () => {
  let context!: FunctionContext;
  let release!: () => void;
  const forSub = queueHandlerFor(
    async (_e, ctx) => {
      context = ctx;
      await new Promise<void>((r) => (release = r));
      return 'done';
    },
    'fn',
    1000,
    new LogSink(() => undefined),
    async () => undefined,
    new RuntimeMetrics('fn'),
  );
  const d = delivery();
  const running = forSub(sub)(event, d);
  await new Promise((r) => setImmediate(r));
  expect(d.signalCreated).toBe(false);
  d.abort(new Error('handler timed out after 1000 ms'));
  expect(context.signal.aborted).toBe(true);
  expect(String((context.signal.reason as Error).message)).toMatch(/timed out or stopping/);
  release();
  await expect(running).resolves.toMatchObject({ status: 200, body: 'done' });
  expect(d.signalCreated).toBe(false);
});
