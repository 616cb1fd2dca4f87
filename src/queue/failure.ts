/**
 * What an async call's state and callback say about a failed attempt. A handler's exception message
 * may hold anything the handler had at hand (a Secret's value, a connection string), and the call
 * state is readable by whoever knows the call id: so by default only a generic error and the
 * request id are stored, and the full message goes to the function's logs (under that request id).
 * Messages the platform itself wrote (a timeout, a lost attempt) name no user data and are kept.
 */

/** Why an attempt failed, as the consumer saw it. */
export interface AttemptFailure {
  /** The full message (logs and the dead-letter `Kubefaas-Error` header). */
  readonly message: string;
  /** True when the message comes from the handler's own exception (it may carry secrets). */
  readonly fromHandler: boolean;
}

/** An error whose message the platform wrote itself (safe to show to a caller). */
export class PlatformError extends Error {
  override readonly name = 'PlatformError';
}

/** The error text stored in the call state and sent in the callback. */
export function publicErrorOf(failure: AttemptFailure, requestId: string, exposeMessages: boolean): string {
  if (!failure.fromHandler || exposeMessages) return failure.message;
  return `the function failed; see its logs for request id ${requestId}`;
}
