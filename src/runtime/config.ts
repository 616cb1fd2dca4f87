import { Env, readInvokeTargets, type InvokeTargets } from '../contract';

/** Defaults applied when the Deployment does not set the corresponding variable. */
export const RuntimeDefaults = {
  port: 8080,
  timeoutMs: 30_000,
  /** 0 = no limit. */
  maxConcurrency: 0,
  maxBodyBytes: 6 * 1024 * 1024,
  shutdownGraceMs: 25_000,
  /** A bare process (tests, the local runner) closes its listener at once; pods get theirs from the manifest. */
  drainDelayMs: 0,
} as const;

/** Everything the runtime process reads from its environment. */
export interface RuntimeConfig {
  readonly port: number;
  /** Address to listen on; undefined = every interface (pods). */
  readonly host?: string;
  readonly functionName: string;
  readonly handlerPath: string;
  readonly timeoutMs: number;
  readonly maxConcurrency: number;
  readonly maxBodyBytes: number;
  readonly shutdownGraceMs: number;
  readonly drainDelayMs: number;
  /** Async calls' states and callbacks carry handlers' exception messages (unsafe; see Env.EXPOSE_ERROR_MESSAGES). */
  readonly exposeErrorMessages: boolean;
  /** The functions `context.invoke` may call (Env.INVOKE_TARGETS); empty = none declared. */
  readonly invokeTargets: InvokeTargets;
}

/** Thrown when an environment variable is present but unusable; main.ts turns it into a fatal log line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads the runtime's settings from environment variables named in the shared contract.
 * Only the handler path is mandatory; everything else has a default so a bare `node runtime.js`
 * with KUBEFAAS_HANDLER set is enough to try a function.
 */
export function readRuntimeConfig(env: NodeJS.ProcessEnv): RuntimeConfig {
  const handlerPath = env[Env.HANDLER_PATH];
  if (!handlerPath) {
    throw new ConfigError(
      `${Env.HANDLER_PATH} is not set: it must name the bundled handler module (e.g. /var/kubefaas/function/index.js)`,
    );
  }
  return {
    port: readInteger(env, Env.PORT, RuntimeDefaults.port, 0),
    host: env[Env.BIND_HOST] || undefined,
    functionName: env[Env.FUNCTION_NAME] || 'function',
    handlerPath,
    timeoutMs: readInteger(env, Env.TIMEOUT_MS, RuntimeDefaults.timeoutMs, 1),
    maxConcurrency: readInteger(env, Env.MAX_CONCURRENCY, RuntimeDefaults.maxConcurrency, 0),
    maxBodyBytes: readInteger(env, Env.MAX_BODY_BYTES, RuntimeDefaults.maxBodyBytes, 0),
    shutdownGraceMs: readInteger(env, Env.SHUTDOWN_GRACE_MS, RuntimeDefaults.shutdownGraceMs, 0),
    drainDelayMs: readInteger(env, Env.DRAIN_DELAY_MS, RuntimeDefaults.drainDelayMs, 0),
    exposeErrorMessages: readFlag(env, Env.EXPOSE_ERROR_MESSAGES),
    invokeTargets: readTargets(env),
  };
}

function readTargets(env: NodeJS.ProcessEnv): InvokeTargets {
  const raw = env[Env.INVOKE_TARGETS];
  if (raw === undefined || raw === '') return {};
  const targets = readInvokeTargets(raw);
  if (typeof targets === 'string') throw new ConfigError(`${Env.INVOKE_TARGETS}: ${targets}`);
  return targets;
}

function readFlag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} must be 'true' or 'false'`);
}

function readInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not an integer >= ${min}`);
  }
  return value;
}
