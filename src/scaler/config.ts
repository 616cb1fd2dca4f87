import { Env, SCALER_ADMIN_PORT, SCALER_GRPC_PORT, ScalerEnv } from '../contract';

/** Defaults applied when the Deployment does not set the corresponding variable. */
export const ScalerDefaults = {
  grpcPort: SCALER_GRPC_PORT,
  adminPort: SCALER_ADMIN_PORT,
  pollIntervalMs: 1_000,
  discoveryIntervalMs: 5_000,
  rateWindowMs: 10_000,
  /** A router whose counts could not be read for this many poll intervals is left out. */
  staleAfterPolls: 3,
  /** SIGTERM: how long open calls get before the process exits anyway. */
  shutdownGraceMs: 5_000,
} as const;

/** Where router replicas are: a DNS name re-resolved periodically, or a fixed list. */
export type RouterSource =
  | { readonly kind: 'dns'; readonly host: string; readonly port: number }
  | { readonly kind: 'static'; readonly addresses: readonly RouterAddress[] };

export interface RouterAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, IPv6 hosts in brackets (also the key of a router address). */
export function formatAddress(a: RouterAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Everything the scaler process reads from its environment. */
export interface ScalerConfig {
  /** 0 picks a free port (tests); bound ports are logged in the `listening` line. */
  readonly grpcPort: number;
  readonly adminPort: number;
  /** Address to listen on; undefined = every interface (pods). */
  readonly host?: string;
  readonly routers: RouterSource;
  readonly pollIntervalMs: number;
  readonly discoveryIntervalMs: number;
  readonly rateWindowMs: number;
  /** A router that has not answered a counts poll for this long is left out of every answer. */
  readonly staleAfterMs: number;
}

/** Thrown when an environment variable is missing or unusable; main.ts turns it into a fatal log line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function readScalerConfig(env: NodeJS.ProcessEnv): ScalerConfig {
  const pollIntervalMs = readInteger(env, ScalerEnv.POLL_INTERVAL_MS, ScalerDefaults.pollIntervalMs, 10, 600_000);
  return {
    grpcPort: readInteger(env, ScalerEnv.GRPC_PORT, ScalerDefaults.grpcPort, 0, 65535),
    adminPort: readInteger(env, ScalerEnv.ADMIN_PORT, ScalerDefaults.adminPort, 0, 65535),
    host: env[Env.BIND_HOST] || undefined,
    routers: parseRouterSource(env[ScalerEnv.ROUTERS]),
    pollIntervalMs,
    discoveryIntervalMs: readInteger(
      env,
      ScalerEnv.DISCOVERY_INTERVAL_MS,
      ScalerDefaults.discoveryIntervalMs,
      100,
      3_600_000,
    ),
    rateWindowMs: readInteger(env, ScalerEnv.RATE_WINDOW_MS, ScalerDefaults.rateWindowMs, 100, 3_600_000),
    staleAfterMs: pollIntervalMs * ScalerDefaults.staleAfterPolls,
  };
}

/**
 * `dns:<host>:<port>` or `host:port[,host:port…]` (IPv6 literals in brackets: `[::1]:8081`).
 * Exported for tests.
 */
export function parseRouterSource(raw: string | undefined): RouterSource {
  const value = raw?.trim() ?? '';
  if (value === '') {
    throw new ConfigError(
      `${ScalerEnv.ROUTERS} is required: dns:<router-headless-service>:<admin-port> or host:port[,host:port…]`,
    );
  }
  if (value.startsWith('dns:')) {
    const { host, port } = parseHostPort(value.slice(4), value);
    return { kind: 'dns', host, port };
  }
  const addresses = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => parseHostPort(part, value));
  return { kind: 'static', addresses };
}

function parseHostPort(text: string, whole: string): RouterAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new ConfigError(
      `${ScalerEnv.ROUTERS}=${JSON.stringify(whole)}: ${JSON.stringify(text)} is not host:port (IPv6 as [addr]:port)`,
    );
  }
  return { host: match[1] ?? match[2], port };
}

function readInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} must be an integer between ${min} and ${max}`);
  }
  return value;
}
