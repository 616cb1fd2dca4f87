/**
 * An error that carries the HTTP status the runtime should answer with. Handlers may throw any
 * Error with a numeric 4xx `status` or `statusCode`; this class is what the runtime itself throws
 * (e.g. from `event.json()` on a body that is not JSON).
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The client-error status an error asks for, or undefined (→ 500). Only 4xx is honoured. */
export function clientErrorStatus(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const candidate = (err as { status?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  return typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 400 && candidate < 500
    ? candidate
    : undefined;
}
