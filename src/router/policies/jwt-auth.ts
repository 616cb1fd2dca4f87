import { createPublicKey, type KeyObject } from 'node:crypto';
import { type JWTPayload, createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { JwtAuthPolicy } from '../../contract';
import type { InboundHeaders } from '../forwarded-headers';
import { type Authenticator, credentialsFor } from './authenticator';
import { BoundedCache } from './bounded-cache';
import { type AuthOutcome, type Identity, identityOf, quoted, unauthorized } from './verdict';

/** Verified tokens remembered (by token string), each until its `exp` but at most this long. */
const VERIFIED_MAX_MS = 5 * 60_000;
const VERIFIED_CAPACITY = 10_000;
/** Tokens longer than this are refused unparsed. */
const MAX_TOKEN_LENGTH = 8192;
/**
 * Least time between two JWKS fetches. Short, so a rotated key is picked up within a second of its
 * first use; tokens naming unknown `kid`s therefore cost the issuer at most one fetch a second per replica.
 */
const JWKS_COOLDOWN_MS = 1000;

/**
 * Bearer JWTs, verified with `jose` against the issuer's JWKS (cached 10 min, refetched at most
 * every second when a token names an unknown `kid`: key rotation) or a static public key. Only the
 * policy's asymmetric algorithms are accepted (never `none` or HS*); `iss`, `aud`, `exp` (required)
 * and `nbf` are checked with the policy's bounded clock skew. A verified token is cached by its
 * string until it expires (at most 5 min), so a client reusing its token costs one map lookup.
 * A JWKS that cannot be fetched gives 503 (the token may be fine), not 401.
 */
export class JwtAuthenticator implements Authenticator {
  private readonly key: ReturnType<typeof createRemoteJWKSet> | KeyObject;
  private readonly verified = new BoundedCache<Identity>(VERIFIED_CAPACITY);
  private readonly challenge: string;

  constructor(private readonly policy: JwtAuthPolicy) {
    this.challenge = `Bearer realm=${quoted(policy.issuer)}`;
    if (policy.jwksUri !== undefined) {
      this.key = createRemoteJWKSet(new URL(policy.jwksUri), {
        cacheMaxAge: 600_000,
        cooldownDuration: JWKS_COOLDOWN_MS,
        timeoutDuration: 5_000,
      });
    } else {
      const text = policy.publicKey ?? '';
      this.key = text.trimStart().startsWith('{')
        ? createPublicKey({ key: JSON.parse(text), format: 'jwk' })
        : createPublicKey(text);
    }
  }

  authenticate(inbound: InboundHeaders): AuthOutcome | Promise<AuthOutcome> {
    const token = credentialsFor(inbound.authorization, 'Bearer');
    if (token === undefined || token === '') return unauthorized(this.challenge, 'a bearer token is required');
    if (token.length > MAX_TOKEN_LENGTH) return this.invalid('token too long');
    const now = Date.now();
    const hit = this.verified.get(token, now);
    if (hit !== undefined) return { ok: true, identity: hit };
    const { issuer, audience, algorithms, clockSkewSeconds } = this.policy;
    const verifying =
      this.key instanceof Function
        ? jwtVerify(token, this.key, {
            issuer,
            audience: [...audience],
            algorithms: [...algorithms],
            clockTolerance: clockSkewSeconds,
            requiredClaims: ['exp'],
          })
        : jwtVerify(token, this.key, {
            issuer,
            audience: [...audience],
            algorithms: [...algorithms],
            clockTolerance: clockSkewSeconds,
            requiredClaims: ['exp'],
          });
    return verifying.then(
      ({ payload }) => this.admit(token, payload),
      (err: unknown) => this.refuse(err),
    );
  }

  private admit(token: string, payload: JWTPayload): AuthOutcome {
    const missing = this.missingClaims(payload);
    if (missing !== undefined) {
      return {
        ok: false,
        status: 403,
        message: `token lacks ${missing}`,
        headers: ['www-authenticate', `${this.challenge}, error="insufficient_scope"`],
      };
    }
    const subject = typeof payload.sub === 'string' ? payload.sub : undefined;
    const identity = identityOf({ type: 'jwt', subject, claims: payload }, `jwt:${subject ?? token}`);
    const now = Date.now();
    this.verified.set(token, identity, Math.min((payload.exp ?? 0) * 1000, now + VERIFIED_MAX_MS), now);
    return { ok: true, identity };
  }

  private missingClaims(payload: JWTPayload): string | undefined {
    const { requiredScopes, requiredClaims } = this.policy;
    if (requiredScopes !== undefined && requiredScopes.length > 0) {
      const granted = new Set(
        typeof payload.scope === 'string'
          ? payload.scope.split(' ')
          : Array.isArray(payload.scp)
            ? payload.scp.map(String)
            : [],
      );
      const lacking = requiredScopes.filter((s) => !granted.has(s));
      if (lacking.length > 0) return `scope ${lacking.join(' ')}`;
    }
    for (const [claim, value] of Object.entries(requiredClaims ?? {})) {
      const actual = payload[claim];
      if (actual !== value && !(Array.isArray(actual) && actual.includes(value))) return `claim ${claim}=${value}`;
    }
    return undefined;
  }

  private refuse(err: unknown): AuthOutcome {
    if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError)) {
      return {
        ok: false,
        status: 503,
        message: 'cannot verify the token now: the issuer keys (JWKS) are unavailable',
        headers: ['retry-after', '5'],
      };
    }
    if (err instanceof errors.JWTExpired) return this.invalid('token expired');
    if (err instanceof errors.JWTClaimValidationFailed)
      return this.invalid(`token claim "${err.claim}" is not acceptable`);
    if (err instanceof errors.JOSEAlgNotAllowed) return this.invalid('token algorithm not allowed');
    if (err instanceof errors.JWKSNoMatchingKey) return this.invalid('token signed by an unknown key');
    return this.invalid('invalid token');
  }

  private invalid(description: string): AuthOutcome {
    return unauthorized(
      `${this.challenge}, error="invalid_token", error_description=${quoted(description)}`,
      description,
    );
  }

  close(): void {
    this.verified.clear();
  }
}
