import { ActivatorEnv, CONTAINER_PORT, Env, Paths, ROUTER_ADMIN_PORT, ROUTER_SECRETS_DIR } from '../contract';

/** Defaults applied when the Deployment does not set the corresponding variable. */
export const RouterDefaults = {
  port: CONTAINER_PORT,
  adminPort: ROUTER_ADMIN_PORT,
  routesPath: `${Paths.routesDir}/${Paths.routesFile}`,
  accessLogSample: 1,
  shutdownGraceMs: 25_000,
  /** A bare process (tests, the local runner) closes its listener at once; pods get theirs from the manifest. */
  drainDelayMs: 0,
  fastPath: true,
} as const;

/** Everything the router process reads from its environment. */
export interface RouterConfig {
  /** 0 picks a free port (tests); the bound port is logged in the `listening` line. */
  readonly port: number;
  /**
   * Port of the admin listener (health, metrics, the internal by-name/async path; admin-server.ts);
   * 0 picks a free port, logged in the `admin listening` line.
   */
  readonly adminPort: number;
  /** Address the public listener listens on; undefined = every interface (pods). */
  readonly host?: string;
  /** Address the admin listener listens on; undefined = `host`. */
  readonly adminHost?: string;
  readonly routesPath: string;
  /** Share of successful requests that get an access-log line (errors are always logged). */
  readonly accessLogSample: number;
  /** How long SIGTERM waits for in-flight requests before the process exits anyway. */
  readonly shutdownGraceMs: number;
  /** How long SIGTERM keeps the listener open (readiness 503) before closing it. */
  readonly drainDelayMs: number;
  /** Serve simple requests on the raw-socket fast path (`KUBEFAAS_ROUTER_FAST_PATH=off` turns it off). */
  readonly fastPath: boolean;
  /** Where the Secrets of auth policies are mounted. */
  readonly secretsDir: string;
}

/** Thrown when an environment variable is present but unusable; main.ts turns it into a fatal log line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function readRouterConfig(env: NodeJS.ProcessEnv): RouterConfig {
  return {
    port: readNumber(env, Env.PORT, RouterDefaults.port, 0, 65535, true),
    adminPort: readNumber(env, ActivatorEnv.ADMIN_PORT, RouterDefaults.adminPort, 0, 65535, true),
    host: env[Env.BIND_HOST] || undefined,
    adminHost: env[Env.ADMIN_BIND_HOST] || env[Env.BIND_HOST] || undefined,
    routesPath: env[Env.ROUTES_PATH] || RouterDefaults.routesPath,
    accessLogSample: readNumber(env, Env.ACCESS_LOG_SAMPLE, RouterDefaults.accessLogSample, 0, 1, false),
    shutdownGraceMs: readNumber(env, Env.SHUTDOWN_GRACE_MS, RouterDefaults.shutdownGraceMs, 0, 3_600_000, true),
    drainDelayMs: readNumber(env, Env.DRAIN_DELAY_MS, RouterDefaults.drainDelayMs, 0, 3_600_000, true),
    fastPath: readSwitch(env, Env.ROUTER_FAST_PATH, RouterDefaults.fastPath),
    secretsDir: env[Env.ROUTER_SECRETS_DIR] || ROUTER_SECRETS_DIR,
  };
}

function readNumber(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
  integer: boolean,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  const ok = Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value));
  if (!ok) {
    throw new ConfigError(
      `${name}=${JSON.stringify(raw)} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}`,
    );
  }
  return value;
}

function readSwitch(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(on|true|1)$/i.test(raw)) return true;
  if (/^(off|false|0)$/i.test(raw)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} must be on or off`);
}
