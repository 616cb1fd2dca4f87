import { existsSync } from 'node:fs';
import {
  DEFAULT_QUEUE_CONFIG,
  QueueEnv,
  readCallbackUrlPolicy,
  type CallbackUrlPolicy,
  type QueueConfig,
  type QueueSubscription,
} from '../contract';

/** What a component reads from QueueEnv: where NATS is, the shared config and (runtime only) its subscriptions. */
export interface QueueSettings {
  /** Comma-separated NATS URLs, as given. */
  readonly servers: string[];
  readonly config: QueueConfig;
  readonly subscriptions: readonly QueueSubscription[];
  /** This component's NATS credentials (queue isolation); undefined = connect without auth. */
  readonly auth?: QueueAuth;
  /** TLS to the servers; undefined = plain TCP. */
  readonly tls?: QueueTls;
  /** Where async-call callbacks may go (runtime only); undefined = nowhere. */
  readonly callbacks?: CallbackUrlPolicy;
  /** Topics `context.publish` may reach (runtime only, QueueEnv.PUBLISHES); undefined = no check. */
  readonly publishes?: readonly string[];
}

export interface QueueAuth {
  readonly user: string;
  readonly password: string;
}

/** `QueueEnv.NATS_TLS_DIR`: the CA certificate (the `ca.crt` key of the queue's TLS Secret, mounted alone). */
export interface QueueTls {
  readonly caFile: string;
}

/**
 * Reads the queue settings from the environment; `undefined` when NATS_URL is unset (the platform
 * has no queue). Malformed JSON fails loudly with the variable's name: a pod that silently ignored
 * its subscriptions would look healthy and never consume anything.
 */
export function readQueueSettings(env: NodeJS.ProcessEnv = process.env): QueueSettings | undefined {
  const url = env[QueueEnv.NATS_URL]?.trim();
  if (!url) return undefined;
  const servers = url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const rawConfig = parseJson(env, QueueEnv.QUEUE_CONFIG);
  const config =
    rawConfig === undefined ? DEFAULT_QUEUE_CONFIG : checkConfig({ ...DEFAULT_QUEUE_CONFIG, ...(rawConfig as object) });
  const rawSubs = parseJson(env, QueueEnv.SUBSCRIPTIONS) ?? [];
  if (!Array.isArray(rawSubs)) throw new Error(`${QueueEnv.SUBSCRIPTIONS} must be a JSON array of subscriptions`);
  return {
    servers,
    config,
    subscriptions: rawSubs.map((s, i) => checkSubscription(s, i)),
    auth: readAuth(env),
    tls: readTls(env),
    callbacks: readCallbacks(env),
    publishes: readPublishes(env),
  };
}

function readPublishes(env: NodeJS.ProcessEnv): readonly string[] | undefined {
  const raw = parseJson(env, QueueEnv.PUBLISHES);
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.some((t) => typeof t !== 'string'))
    throw new Error(`${QueueEnv.PUBLISHES} must be a JSON array of topic names`);
  return raw as string[];
}

function readCallbacks(env: NodeJS.ProcessEnv): CallbackUrlPolicy | undefined {
  const raw = parseJson(env, QueueEnv.CALLBACK_POLICY);
  if (raw === undefined) return undefined;
  const policy = readCallbackUrlPolicy(raw);
  if (typeof policy === 'string') throw new Error(`${QueueEnv.CALLBACK_POLICY}: ${policy}`);
  return policy;
}

function readAuth(env: NodeJS.ProcessEnv): QueueAuth | undefined {
  const user = env[QueueEnv.NATS_USER]?.trim();
  if (!user) return undefined;
  const password = env[QueueEnv.NATS_PASSWORD];
  if (!password) {
    // The synthesized secretKeyRef names the key after the user: say which one is missing.
    throw new Error(
      `${QueueEnv.NATS_USER}=${user} is set but ${QueueEnv.NATS_PASSWORD} is empty: add key "${user}" to the queue's auth Secret`,
    );
  }
  if (!NATS_PASSWORD_PATTERN.test(password)) {
    // nats.conf reads it as a bare `$VARIABLE` value: anything else may parse as a number or fail.
    throw new Error(
      `${QueueEnv.NATS_PASSWORD} of NATS user ${user} must start with a letter and use only letters, digits, '-' and '_' (at least 16 characters); e.g. "k$(openssl rand -hex 24)"`,
    );
  }
  return { user, password };
}

/** Passwords nats-server reads unchanged from `$VARIABLE` references (a leading digit would make a number). */
export const NATS_PASSWORD_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{15,}$/;

function readTls(env: NodeJS.ProcessEnv): QueueTls | undefined {
  const dir = env[QueueEnv.NATS_TLS_DIR]?.trim();
  if (!dir) return undefined;
  const caFile = `${dir.replace(/\/+$/, '')}/ca.crt`;
  // Fail at start, naming the file, rather than with a TLS handshake error on every reconnect.
  if (!existsSync(caFile))
    throw new Error(`${QueueEnv.NATS_TLS_DIR}=${dir} has no ca.crt: the queue's TLS Secret needs a ca.crt key`);
  return { caFile };
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
  for (const key of [
    'topicsStream',
    'topicsPrefix',
    'callsStream',
    'asyncPrefix',
    'cronPrefix',
    'callsBucket',
  ] as const) {
    if (typeof c[key] !== 'string' || c[key] === '')
      throw new Error(`${QueueEnv.QUEUE_CONFIG}.${key} must be a non-empty string`);
  }
  for (const key of ['maxAgeMs', 'callStateTtlMs', 'maxBytes', 'replicas'] as const) {
    if (typeof c[key] !== 'number' || !Number.isFinite(c[key]))
      throw new Error(`${QueueEnv.QUEUE_CONFIG}.${key} must be a number`);
  }
  return c;
}

function checkSubscription(raw: unknown, index: number): QueueSubscription {
  const where = `${QueueEnv.SUBSCRIPTIONS}[${index}]`;
  if (raw === null || typeof raw !== 'object') throw new Error(`${where} must be an object`);
  const s = raw as Partial<QueueSubscription>;
  if (s.kind !== 'topic' && s.kind !== 'async' && s.kind !== 'cron')
    throw new Error(`${where}.kind must be topic, async or cron`);
  for (const key of ['subject', 'durable', 'trigger'] as const) {
    if (typeof s[key] !== 'string' || s[key] === '') throw new Error(`${where}.${key} must be a non-empty string`);
  }
  for (const key of ['maxInFlight', 'ackWaitMs', 'maxRetries'] as const) {
    const v = s[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new Error(`${where}.${key} must be a non-negative integer`);
  }
  if (s.maxInFlight! < 1) throw new Error(`${where}.maxInFlight must be at least 1`);
  if (!Array.isArray(s.backoffMs) || s.backoffMs.some((n) => typeof n !== 'number' || n < 0)) {
    throw new Error(`${where}.backoffMs must be an array of non-negative numbers`);
  }
  return { ...s, ordered: s.ordered === true } as QueueSubscription;
}
