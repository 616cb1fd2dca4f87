/**
 * The Python runtime cannot import src/contract/: check that the names it repeats (environment
 * variables, endpoints, metric names, the entry file) are the contract's.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLOUDEVENTS_SPEC_VERSION,
  DEFAULT_QUEUE_CONFIG,
  Endpoints,
  Env,
  Headers,
  MessageHeaders,
  MetricNames,
  PLATFORM_HEADER_PREFIX,
  PythonEnv,
  PythonPaths,
  QueueEnv,
  QueueEventTypes,
  type QueueSubscription,
} from '../../src/contract';
import { CallbackHeaders } from '../../src/queue';
import { callbackSubscription } from '../../src/queue/callback-queue';
import {
  callsBucketStreamConfig,
  callsStreamConfig,
  consumerConfig,
  topicsStreamConfig,
} from '../../src/queue/resources';
import { testPython } from './process';

const dir = join(__dirname, '..', '..', 'src', 'runtime-python');
const source = readdirSync(dir)
  .filter((f) => f.endsWith('.py'))
  .map((f) => readFileSync(join(dir, f), 'utf8'))
  .join('\n');

it('reads the contract environment variables', () => {
  for (const name of [
    Env.PORT,
    Env.FUNCTION_NAME,
    Env.HANDLER_PATH,
    Env.TIMEOUT_MS,
    Env.MAX_CONCURRENCY,
    Env.MAX_BODY_BYTES,
    Env.SHUTDOWN_GRACE_MS,
    PythonEnv.CODE_DIR,
    PythonEnv.THREADS,
  ]) {
    expect(source).toContain(`"${name}"`);
  }
});

it('serves the contract endpoints and headers and exports the contract metric names', () => {
  for (const path of Object.values(Endpoints)) expect(source).toContain(`"${path}"`);
  expect(source).toContain(`"${Headers.requestId}"`);
  expect(source).toContain(`"${Headers.traceparent}"`);
  expect(source).toContain(`"${Headers.params}"`);
  expect(source).toContain(`"${Headers.auth}"`);
  for (const name of [
    MetricNames.functionInvocations,
    MetricNames.functionDuration,
    MetricNames.functionInFlight,
    MetricNames.functionColdStarts,
  ]) {
    expect(source).toContain(`"${name}"`);
  }
});

it('has the entry file and dependency directory the constructs name', () => {
  expect(readdirSync(dir)).toContain(PythonPaths.runtimeMain);
  expect(source).toContain(`"${PythonPaths.depsDir}"`);
});

/** Constants of the Python queue modules, read by the interpreter itself. */
function pythonQueueConstants(): Record<string, any> {
  const script = String.raw`
import json
import kubefaas_headers as H, kubefaas_queue_settings as Q, kubefaas_queue_metrics as M
headers = {k: getattr(H, k) for k in dir(H) if k.isupper() and isinstance(getattr(H, k), str)}
print(json.dumps({
  "headers": headers, "defaultConfig": Q.DEFAULT_QUEUE_CONFIG,
  "env": [Q.NATS_URL, Q.QUEUE_CONFIG, Q.SUBSCRIPTIONS, Q.NATS_USER, Q.NATS_PASSWORD, Q.NATS_TLS_DIR, Q.CALLBACK_POLICY, Q.EXPOSE_ERROR_MESSAGES, Q.PUBLISHES],
  "metrics": [M.DELIVERIES, M.RETRIES, M.DEAD_LETTERS, M.CONSUMER_LAG, M.ASYNC_CALLS],
}))
`;
  const run = spawnSync(testPython(), ['-c', script], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', PYTHONPATH: dir, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout);
}

it('uses the queue contract: env names, message headers, event types, default config, metric names', () => {
  const py = pythonQueueConstants();
  expect([...py.env].sort()).toEqual([...Object.values(QueueEnv), Env.EXPOSE_ERROR_MESSAGES].sort());
  const values = new Set(Object.values(py.headers as Record<string, string>));
  for (const name of Object.values(MessageHeaders)) expect(values).toContain(name);
  for (const type of Object.values(QueueEventTypes)) expect(values).toContain(type);
  expect(values).toContain(CLOUDEVENTS_SPEC_VERSION);
  expect(values).toContain(Headers.callId);
  expect(values).toContain(Headers.functionName);
  expect(values).toContain(Headers.auth);
  expect(values).toContain(CallbackHeaders.status);
  expect(values).toContain(CallbackHeaders.state);
  expect(py.headers.PLATFORM_PREFIX).toBe(PLATFORM_HEADER_PREFIX);
  expect(py.defaultConfig).toEqual(DEFAULT_QUEUE_CONFIG);
  expect([...py.metrics].sort()).toEqual(
    [
      MetricNames.queueDeliveries,
      MetricNames.queueRetries,
      MetricNames.queueDeadLetters,
      MetricNames.queueConsumerLag,
      MetricNames.asyncCalls,
    ].sort(),
  );
});

it('creates the streams and consumers with the configurations the Node side creates', () => {
  const config = { ...DEFAULT_QUEUE_CONFIG, maxAgeMs: 90_000, maxBytes: 1 << 30, replicas: 3 };
  const subs: QueueSubscription[] = [
    {
      kind: 'topic',
      subject: 'topics.orders',
      durable: 'fn_topic_orders',
      trigger: 'orders',
      maxInFlight: 16,
      ackWaitMs: 35_000,
      maxRetries: 3,
      backoffMs: [1000],
      ordered: false,
    },
    {
      kind: 'async',
      subject: 'async.fn',
      durable: 'fn_async',
      trigger: 'async',
      maxInFlight: 200,
      ackWaitMs: 5000,
      maxRetries: 2,
      backoffMs: [],
      ordered: true,
    },
  ];
  const script = String.raw`
import json, sys
from kubefaas_jetstream import consumer_config, stream_configs
from kubefaas_callback import callback_subscription
given = json.load(sys.stdin)
print(json.dumps({
  "streams": stream_configs(given["config"]),
  "consumers": [consumer_config(s) for s in given["subs"]],
  "callbacks": callback_subscription(given["config"], "fn", given["subs"][1]),
}))
`;
  const run = spawnSync(testPython(), ['-c', script], {
    cwd: dir,
    input: JSON.stringify({ config, subs }),
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', PYTHONPATH: dir, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (run.status !== 0) throw new Error(run.stderr);
  const py = JSON.parse(run.stdout);
  const node = JSON.parse(
    JSON.stringify({
      streams: [topicsStreamConfig(config), callsStreamConfig(config), callsBucketStreamConfig(config)],
      consumers: subs.map(consumerConfig),
      callbacks: callbackSubscription(config, 'fn', subs[1]),
    }),
  );
  expect(py).toEqual(node);
});
