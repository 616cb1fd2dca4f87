import { InvokeError } from '../contract';

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

/**
 * The client-error status an error asks for, or undefined (→ 500). Only 4xx is honoured, and never
 * from an InvokeError: a function another one called answering 4xx is this function's failure, not
 * its caller's (and the callee's message is not the caller's to read).
 */
export function clientErrorStatus(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object' || err instanceof InvokeError) return undefined;
  const candidate = (err as { status?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  return typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 400 && candidate < 500
    ? candidate
    : undefined;
}
