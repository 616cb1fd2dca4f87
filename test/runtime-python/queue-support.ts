/** Helpers of the Python runtime's queue tests: a Python consumer process, topics read by a Node consumer. */
import { QueueEnv, type QueueConfig, type QueueSubscription } from '../../src/contract';
import type { QueueClient, QueueEvent } from '../../src/queue';
import { PythonRuntimeProcess } from './process';

export const FUNCTION = 'test-fn';

/** A topic subscription of the Python function, as the constructs render one. */
export function pyTopic(
  config: QueueConfig,
  topic: string,
  overrides: Partial<QueueSubscription> = {},
): QueueSubscription {
  return {
    kind: 'topic',
    subject: `${config.topicsPrefix}.${topic}`,
    durable: `${FUNCTION}_${topic.replace(/\./g, '_')}`,
    trigger: topic,
    maxInFlight: 4,
    ackWaitMs: 5000,
    maxRetries: 2,
    backoffMs: [50, 100],
    deadLetterSubject: `${config.topicsPrefix}.dead-letter.${FUNCTION}`,
    ordered: false,
    ...overrides,
  };
}

/** The implicit async-call subscription every consuming function gets (constructs/queue/registry.ts). */
export function pyAsync(config: QueueConfig, overrides: Partial<QueueSubscription> = {}): QueueSubscription {
  return {
    kind: 'async',
    subject: `${config.asyncPrefix}.${FUNCTION}`,
    durable: `${FUNCTION}_async`,
    trigger: 'async',
    maxInFlight: 4,
    ackWaitMs: 5000,
    maxRetries: 2,
    backoffMs: [50],
    ordered: false,
    ...overrides,
  };
}

/** The Python runtime with `handler.py`, consuming `subscriptions`; resolves once its consumers run. */
export async function startPythonConsumer(
  handler: string,
  natsUrl: string,
  config: QueueConfig,
  subscriptions: readonly QueueSubscription[],
  env: Record<string, string> = {},
): Promise<PythonRuntimeProcess> {
  const rt = await PythonRuntimeProcess.start(handler, {
    [QueueEnv.NATS_URL]: natsUrl,
    [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config),
    [QueueEnv.SUBSCRIPTIONS]: JSON.stringify(subscriptions),
    KUBEFAAS_SHUTDOWN_GRACE_MS: '5000',
    ...env,
  });
  await Promise.race([
    rt.waitForLog((l) => l.msg === 'queue consumers started'),
    rt.exited.then(({ code }) => {
      throw new Error(`python runtime exited with ${code}: ${rt.stderr}`);
    }),
  ]);
  return rt;
}

/** Messages of `topic`, as a Node consumer (durable `reader_<topic>`) receives them. */
export async function readTopic(q: QueueClient, config: QueueConfig, topic: string): Promise<QueueEvent[]> {
  const seen: QueueEvent[] = [];
  await q.subscribe(
    'reader',
    {
      kind: 'topic',
      subject: `${config.topicsPrefix}.${topic}`,
      durable: `reader_${topic.replace(/\./g, '_')}`,
      trigger: topic,
      maxInFlight: 16,
      ackWaitMs: 5000,
      maxRetries: 0,
      backoffMs: [],
      ordered: false,
    },
    (event) => {
      seen.push(event);
    },
  );
  return seen;
}

/** One sample of the runtime's /metrics (`name{labels} value` lines). */
export async function metricValue(rt: PythonRuntimeProcess, series: string): Promise<number | undefined> {
  const text = (await rt.request('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
