import { hostname } from 'node:os';
import {
  ActivatorEnv,
  CONTAINER_PORT,
  EndpointSources,
  Env,
  Paths,
  ROUTER_ADMIN_PORT,
  ROUTER_BODY_TIMEOUT_MS,
  ROUTER_HEADERS_TIMEOUT_MS,
  ROUTER_SECRETS_DIR,
  type EndpointSource,
} from '../contract';

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
  headersTimeoutMs: ROUTER_HEADERS_TIMEOUT_MS,
  bodyTimeoutMs: ROUTER_BODY_TIMEOUT_MS,
  /** Keep-alive connections to a function are recycled after this long (±10 %)... */
  upstreamMaxAgeMs: 30_000,
  /** ...or this many requests: new replicas behind a Service (kube-proxy balances per connection) get traffic. */
  upstreamMaxRequests: 1_000,
  serviceAccountDir: '/var/run/secrets/kubernetes.io/serviceaccount',
} as const;

/** Bounds of the client timeouts (the constructs allow a narrower, saner range; tests go lower). */
const MAX_CLIENT_TIMEOUT_MS = 3_600_000;

/** Everything the router process reads from its environment. */
export interface RouterConfig {
  /** 0 picks a free port (tests); the bound port is logged in the `listening` line. */
  readonly port: number;
  /**
   * Port of the admin listener (health, metrics, the internal by-name/async path, the scaling
   * endpoints; admin-server.ts);
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
  /** From a request's first byte to its complete head; then 408 and close (slowloris). */
  readonly headersTimeoutMs: number;
  /** From a complete head to the end of its body; then 408 (if nothing was answered yet) and close. */
  readonly bodyTimeoutMs: number;
  /** Where the Secrets of auth policies are mounted. */
  readonly secretsDir: string;
  /** Upstream keep-alive connection recycling (see RouterDefaults). */
  readonly upstreamConnections: UpstreamConnectionLimits;
  /** This replica's id in scaling snapshots and events. */
  readonly routerId: string;
  /** Where ready endpoints come from; undefined = nowhere (nothing is held). */
  readonly endpointSource?: EndpointSource;
  /** Service-account token, CA and namespace (endpoint source `kubernetes`). */
  readonly serviceAccountDir: string;
  /** Namespace the router runs in, when the environment says (else the service-account's). */
  readonly namespace?: string;
}

/** When the router retires a keep-alive connection to a function. */
export interface UpstreamConnectionLimits {
  /** Age in ms after which a connection carries no new request (each connection's limit is jittered ±10 %). */
  readonly maxAgeMs: number;
  /** Requests after which a connection is closed. */
  readonly maxRequests: number;
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
    headersTimeoutMs: readNumber(
      env,
      Env.ROUTER_HEADERS_TIMEOUT_MS,
      RouterDefaults.headersTimeoutMs,
      1,
      MAX_CLIENT_TIMEOUT_MS,
      true,
    ),
    bodyTimeoutMs: readNumber(
      env,
      Env.ROUTER_BODY_TIMEOUT_MS,
      RouterDefaults.bodyTimeoutMs,
      1,
      MAX_CLIENT_TIMEOUT_MS,
      true,
    ),
    secretsDir: env[Env.ROUTER_SECRETS_DIR] || ROUTER_SECRETS_DIR,
    upstreamConnections: {
      maxAgeMs: readNumber(
        env,
        Env.ROUTER_UPSTREAM_MAX_AGE_MS,
        RouterDefaults.upstreamMaxAgeMs,
        1_000,
        86_400_000,
        true,
      ),
      maxRequests: readNumber(
        env,
        Env.ROUTER_UPSTREAM_MAX_REQUESTS,
        RouterDefaults.upstreamMaxRequests,
        1,
        100_000_000,
        true,
      ),
    },
    routerId: env[ActivatorEnv.ROUTER_ID] || `${hostname()}-${process.pid}`,
    endpointSource: readEndpointSource(env),
    serviceAccountDir: env[ActivatorEnv.SERVICE_ACCOUNT_DIR] || RouterDefaults.serviceAccountDir,
    namespace: env[Env.NAMESPACE] || undefined,
  };
}

function readEndpointSource(env: NodeJS.ProcessEnv): EndpointSource | undefined {
  const raw = env[ActivatorEnv.ENDPOINTS];
  if (raw === undefined || raw === '') return undefined;
  const sources: readonly string[] = Object.values(EndpointSources);
  if (!sources.includes(raw)) {
    throw new ConfigError(`${ActivatorEnv.ENDPOINTS}=${JSON.stringify(raw)} must be one of ${sources.join(', ')}`);
  }
  return raw as EndpointSource;
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
