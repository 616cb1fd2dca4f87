/** JetStream API error codes we react to (nats-server `server/errors.json`). */
export const JsErrorCode = {
  streamNotFound: 10059,
  streamNameInUse: 10058,
  consumerNotFound: 10014,
  /** A durable with that name exists with a different config (servers before 2.10 answer 10013). */
  consumerNameExists: 10013,
  consumerAlreadyExists: 10148,
  /** KV `create` on a key that exists. */
  wrongLastSequence: 10071,
} as const;

/** The JetStream API error code carried by a nats.js error, if any. */
export function apiErrorCode(err: unknown): number | undefined {
  const e = err as { api_error?: { err_code?: number }; jsError?: () => { err_code?: number } | null } | null;
  if (!e || typeof e !== 'object') return undefined;
  if (e.api_error?.err_code !== undefined) return e.api_error.err_code;
  if (typeof e.jsError === 'function') return e.jsError()?.err_code;
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  const code = apiErrorCode(err);
  if (code === JsErrorCode.streamNotFound || code === JsErrorCode.consumerNotFound) return true;
  const message = (err as Error | null)?.message ?? '';
  return /not found/i.test(message);
}

/** Errors that go away by themselves (server restarting, leader election, no JetStream yet). */
export function isTransient(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  const code = String(e?.code ?? '');
  const message = e?.message ?? '';
  return (
    code === 'TIMEOUT' ||
    code === '503' ||
    code === 'CONNECTION_CLOSED' ||
    code === 'CONNECTION_DRAINING' ||
    code === 'DISCONNECT' ||
    /timeout|no responders|disconnect|connection/i.test(message)
  );
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
