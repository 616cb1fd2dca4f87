import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { HTPASSWD_KEY } from '../../contract';
import type { InboundHeaders } from '../forwarded-headers';
import { type Authenticator, credentialsFor } from './authenticator';
import { BoundedCache } from './bounded-cache';
import type { SecretFiles } from './secret-dir';
import { type AuthOutcome, type Identity, identityOf, quoted, unauthorized } from './verdict';

/** How long a successful verification is remembered. */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_CAPACITY = 1000;
const MAX_CREDENTIALS_LENGTH = 4096;
/**
 * Compared against when the user is unknown, so an unknown user costs the same bcrypt work as a
 * wrong password (user names cannot be probed by timing). Cost 10, like the htpasswd default.
 */
const DUMMY_HASH = '$2b$10$Wmuld6viN5srV3ubsttg4.e2J1l2O9bCHfGk6YKbReHiboXisJ.zS';

/**
 * HTTP basic auth against bcrypt htpasswd lines (`user:$2y$…`). bcrypt is deliberately slow (tens
 * of ms per check at cost 10), far too slow to run on every request of a client that sends the same
 * credentials each time. A successful check is therefore remembered for a minute, keyed by the
 * SHA-256 of `user:password` (the password itself is not kept), and forgotten when the Secret
 * changes. Failures are not cached: each costs a bcrypt check, which rate limits should bound.
 */
export class BasicAuthenticator implements Authenticator {
  private users = new Map<string, string>();
  private readonly verified = new BoundedCache<Identity>(VERIFIED_CAPACITY);
  private readonly challenge: string;

  constructor(
    realm: string,
    private readonly onClose: () => void,
  ) {
    this.challenge = `Basic realm=${quoted(realm)}, charset="UTF-8"`;
  }

  load(files: SecretFiles): number {
    const users = new Map<string, string>();
    for (const line of (files.get(HTPASSWD_KEY) ?? '').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon <= 0 || line.startsWith('#')) continue;
      const hash = line.slice(colon + 1).trim();
      // Only bcrypt: htpasswd's MD5/SHA1/crypt variants are not safe to accept.
      if (/^\$2[aby]\$\d\d\$/.test(hash)) users.set(line.slice(0, colon), hash.replace(/^\$2y\$/, '$2b$'));
    }
    this.users = users;
    this.verified.clear();
    return users.size;
  }

  authenticate(inbound: InboundHeaders): AuthOutcome | Promise<AuthOutcome> {
    const encoded = credentialsFor(inbound.authorization, 'Basic');
    if (encoded === undefined || encoded === '')
      return unauthorized(this.challenge, 'credentials are required (HTTP basic)');
    if (encoded.length > MAX_CREDENTIALS_LENGTH) return unauthorized(this.challenge, 'invalid credentials');
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return unauthorized(this.challenge, 'malformed basic credentials');
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const cacheKey = createHash('sha256').update(decoded, 'utf8').digest('base64');
    const now = Date.now();
    const hit = this.verified.get(cacheKey, now);
    if (hit !== undefined) return { ok: true, identity: hit };
    const users = this.users;
    const hash = users.get(user);
    return bcrypt.compare(password, hash ?? DUMMY_HASH).then(
      (match) => {
        if (!match || hash === undefined) return unauthorized(this.challenge, 'invalid credentials');
        const identity = identityOf({ type: 'basic', user }, `user:${user}`);
        // Only if the users were not replaced meanwhile (a password change must take effect).
        if (this.users === users) this.verified.set(cacheKey, identity, Date.now() + VERIFIED_TTL_MS, Date.now());
        return { ok: true, identity } as const;
      },
      () => unauthorized(this.challenge, 'invalid credentials'),
    );
  }

  close(): void {
    this.onClose();
  }
}
