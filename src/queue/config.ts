import { DEFAULT_QUEUE_CONFIG, QueueEnv, type QueueConfig, type QueueSubscription } from '../contract';

/** What a component reads from QueueEnv: where NATS is, the shared config and (runtime only) its subscriptions. */
export interface QueueSettings {
  /** Comma-separated NATS URLs, as given. */
  readonly servers: string[];
  readonly config: QueueConfig;
  readonly subscriptions: readonly QueueSubscription[];
}

/**
 * Reads the queue settings from the environment; `undefined` when NATS_URL is unset (the platform
 * has no queue). Malformed JSON fails loudly with the variable's name: a pod that silently ignored
 * its subscriptions would look healthy and never consume anything.
 */
export function readQueueSettings(env: NodeJS.ProcessEnv = process.env): QueueSettings | undefined {
  const url = env[QueueEnv.NATS_URL]?.trim();
  if (!url) return undefined;
  const servers = url.split(',').map((s) => s.trim()).filter(Boolean);
  const rawConfig = parseJson(env, QueueEnv.QUEUE_CONFIG);
  const config = rawConfig === undefined ? DEFAULT_QUEUE_CONFIG : checkConfig({ ...DEFAULT_QUEUE_CONFIG, ...(rawConfig as object) });
  const rawSubs = parseJson(env, QueueEnv.SUBSCRIPTIONS) ?? [];
  if (!Array.isArray(rawSubs)) throw new Error(`${QueueEnv.SUBSCRIPTIONS} must be a JSON array of subscriptions`);
  return { servers, config, subscriptions: rawSubs.map((s, i) => checkSubscription(s, i)) };
}

function parseJson(env: NodeJS.ProcessEnv, name: string): unknown {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new Error(`${name} is not valid JSON: ${(err as Error).message}`);
  }
}

function checkConfig(c: QueueConfig): QueueConfig {
  for (const key of ['topicsStream', 'topicsPrefix', 'callsStream', 'asyncPrefix', 'cronPrefix', 'callsBucket'] as const) {
    if (typeof c[key] !== 'string' || c[key] === '') throw new Error(`${QueueEnv.QUEUE_CONFIG}.${key} must be a non-empty string`);
  }
  for (const key of ['maxAgeMs', 'callStateTtlMs', 'maxBytes', 'replicas'] as const) {
    if (typeof c[key] !== 'number' || !Number.isFinite(c[key])) throw new Error(`${QueueEnv.QUEUE_CONFIG}.${key} must be a number`);
  }
  return c;
}

function checkSubscription(raw: unknown, index: number): QueueSubscription {
  const where = `${QueueEnv.SUBSCRIPTIONS}[${index}]`;
  if (raw === null || typeof raw !== 'object') throw new Error(`${where} must be an object`);
  const s = raw as Partial<QueueSubscription>;
  if (s.kind !== 'topic' && s.kind !== 'async' && s.kind !== 'cron') throw new Error(`${where}.kind must be topic, async or cron`);
  for (const key of ['subject', 'durable', 'trigger'] as const) {
    if (typeof s[key] !== 'string' || s[key] === '') throw new Error(`${where}.${key} must be a non-empty string`);
  }
  for (const key of ['maxInFlight', 'ackWaitMs', 'maxRetries'] as const) {
    const v = s[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`${where}.${key} must be a non-negative integer`);
  }
  if (s.maxInFlight! < 1) throw new Error(`${where}.maxInFlight must be at least 1`);
  if (!Array.isArray(s.backoffMs) || s.backoffMs.some((n) => typeof n !== 'number' || n < 0)) {
    throw new Error(`${where}.backoffMs must be an array of non-negative numbers`);
  }
  return { ...s, ordered: s.ordered === true } as QueueSubscription;
}
