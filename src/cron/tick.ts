import { randomUUID } from 'node:crypto';
import { CronEnv, QueueEnv } from '../contract';
import { connectQueue } from '../queue/connection';
import { readQueueSettings, type QueueSettings } from '../queue/config';
import { publishEvent } from '../queue/publisher';
import { CLOUDEVENTS_SPEC_VERSION, QueueEventTypes, cronSubject, cronTickBody } from '../contract';

/** One cron tick, as the CronJob's pod sees it. */
export interface CronTick {
  readonly functionName: string;
  readonly trigger: string;
  readonly id: string;
  readonly time: string;
  readonly source: string;
  readonly data: unknown;
  readonly timeoutMs: number;
}

/** @default 30000: how long the sender waits for the publish ack or the function's answer. */
export const DEFAULT_CRON_TIMEOUT_MS = 30_000;

export function readCronTick(env: NodeJS.ProcessEnv = process.env, now = new Date()): CronTick {
  const functionName = env[CronEnv.FUNCTION];
  const trigger = env[CronEnv.TRIGGER];
  if (!functionName) throw new Error(`${CronEnv.FUNCTION} is not set`);
  if (!trigger) throw new Error(`${CronEnv.TRIGGER} is not set`);
  let payload: unknown;
  const raw = env[CronEnv.DATA];
  if (raw !== undefined && raw !== '') {
    try {
      payload = JSON.parse(raw);
    } catch (err) {
      throw new Error(`${CronEnv.DATA} is not valid JSON: ${(err as Error).message}`);
    }
  }
  const timeoutMs = Number(env[CronEnv.TIMEOUT_MS] ?? DEFAULT_CRON_TIMEOUT_MS);
  return {
    functionName,
    trigger,
    // The Job name is unique per scheduled run: retries of the same run share the id and are de-duplicated.
    id: env[CronEnv.JOB_NAME] || randomUUID(),
    time: now.toISOString(),
    source: `/kubefaas/cron/${functionName}/${trigger}`,
    data: cronTickBody({
      functionName,
      trigger,
      schedule: env[CronEnv.SCHEDULE] ?? null,
      timeZone: env[CronEnv.TIME_ZONE] ?? null,
      firedAt: now.toISOString(),
      data: payload,
    }),
    timeoutMs: Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : DEFAULT_CRON_TIMEOUT_MS,
  };
}

/** Delivers the tick: through JetStream when the platform has a queue, else through the router. */
export async function sendTick(tick: CronTick, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const queue = readQueueSettings(env);
  if (queue) return publishTick(tick, queue);
  const router = env[CronEnv.ROUTER_URL];
  if (!router)
    throw new Error(`neither ${QueueEnv.NATS_URL} nor ${CronEnv.ROUTER_URL} is set: nowhere to deliver the tick`);
  return postTick(tick, router);
}

async function publishTick(tick: CronTick, queue: QueueSettings): Promise<string> {
  const { servers, config } = queue;
  // connectQueue, not QueueClient: the sender only publishes, and its bundle stays small.
  const { nc } = await withDeadline(
    connectQueue({
      servers,
      config,
      name: `cron-${tick.functionName}-${tick.trigger}`,
      auth: queue.auth,
      tls: queue.tls,
      updateStreams: false,
    }),
    tick.timeoutMs,
    'connecting to NATS',
  );
  try {
    const subject = cronSubject(config, tick.functionName, tick.trigger);
    await publishEvent(nc.jetstream({ timeout: Math.min(5000, tick.timeoutMs) }), subject, tick.data, {
      id: tick.id,
      source: tick.source,
      type: QueueEventTypes.cronTick,
      timeoutMs: tick.timeoutMs,
    });
    return subject;
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}

async function postTick(tick: CronTick, router: string): Promise<string> {
  const url = `${router.replace(/\/+$/, '')}/function/${encodeURIComponent(tick.functionName)}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': CLOUDEVENTS_SPEC_VERSION,
      'ce-id': tick.id,
      'ce-type': QueueEventTypes.cronTick,
      'ce-source': tick.source,
      'ce-time': tick.time,
    },
    body: JSON.stringify(tick.data),
    signal: AbortSignal.timeout(tick.timeoutMs),
  });
  const text = await res.text().catch(() => '');
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`router answered ${res.status} for ${url}: ${text.slice(0, 200)}`);
  }
  return url;
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
