import type { InboundHeaders } from '../forwarded-headers';
import type { AuthOutcome } from './verdict';

/** One auth policy, compiled: checks a request's credentials (synchronously when it can). */
export interface Authenticator {
  authenticate(inbound: InboundHeaders): AuthOutcome | Promise<AuthOutcome>;
  /** Stops watching Secrets (the policy left the route table). */
  close(): void;
}

/** `Authorization: <scheme> <credentials>` → credentials, when the scheme matches (case-insensitive). */
export function credentialsFor(authorization: string | undefined, scheme: string): string | undefined {
  if (authorization === undefined || authorization.length <= scheme.length + 1) return undefined;
  if (authorization.charCodeAt(scheme.length) !== 32 /* space */) return undefined;
  if (authorization.slice(0, scheme.length).toLowerCase() !== scheme.toLowerCase()) return undefined;
  return authorization.slice(scheme.length + 1).trim();
}
