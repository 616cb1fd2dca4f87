import type { AuthInfo } from '../../contract';

/** What an authenticator found out about the caller. */
export type AuthOutcome =
  | { readonly ok: true; readonly identity: Identity }
  | {
      readonly ok: false;
      readonly status: 401 | 403 | 503;
      readonly message: string;
      readonly headers: readonly string[];
    };

/** A verified caller: what the function is told, and the key its per-client rate limits use. */
export interface Identity {
  /** `Headers.auth` value (base64url JSON of `info`), made once per identity and reused. */
  readonly header: string;
  /** Per-client rate-limit key (`key:<id>`, `jwt:<sub>`, `user:<name>`). */
  readonly clientKey: string;
}

/** The request may go on: the auth header for the function, and headers for the client's response. */
export interface Grant {
  readonly granted: true;
  readonly authHeader: string | undefined;
  /** Flat `[name, value, …]` list added to the response (CORS, RateLimit-*); empty when none. */
  readonly responseHeaders: readonly string[];
  /** The route has a CORS policy: the function's own `Access-Control-*` headers are dropped. */
  readonly ownsCors: boolean;
}

/** The router answers the request itself with this status, JSON error and headers. */
export interface Refusal {
  readonly granted: false;
  readonly status: number;
  readonly message: string;
  readonly headers: readonly string[];
}

export type Verdict = Grant | Refusal;

export function identityOf(info: AuthInfo, clientKey: string): Identity {
  return { header: Buffer.from(JSON.stringify(info), 'utf8').toString('base64url'), clientKey };
}

/** 401 with `WWW-Authenticate`; `challenge` is the header's value. */
export function unauthorized(challenge: string, message: string): AuthOutcome {
  return { ok: false, status: 401, message, headers: ['www-authenticate', challenge] };
}

/** A header value for `WWW-Authenticate` parameters: quotes and backslashes escaped, control characters dropped. */
export function quoted(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  return `"${value.replace(/[\u0000-\u001f\u007f-\uffff]/g, '').replace(/["\\]/g, '\\$&')}"`;
}
