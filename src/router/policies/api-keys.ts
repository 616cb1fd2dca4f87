import * as crypto from 'node:crypto';
import type { InboundHeaders } from '../forwarded-headers';
import { type Authenticator, credentialsFor } from './authenticator';
import type { SecretFiles } from './secret-dir';
import { type AuthOutcome, type Identity, identityOf, unauthorized } from './verdict';

interface StoredKey {
  readonly digest: Buffer;
  readonly identity: Identity;
}

const CHALLENGE = 'ApiKey realm="kubefaas", header="X-Api-Key"';
/** Longer keys are refused before hashing (a header can hold up to the head limit). */
const MAX_KEY_LENGTH = 4096;

/**
 * API keys from a Secret (key id → key). Only SHA-256 digests are kept. A request's key is hashed
 * and looked up by digest, then the digests are compared with `timingSafeEqual`: the lookup's
 * timing depends only on the digest, which a caller cannot steer towards a stored one.
 */
export class ApiKeyAuthenticator implements Authenticator {
  private keys = new Map<string, StoredKey>();

  constructor(private readonly onClose: () => void) {}

  /** Replaces the keys (a Secret update). Trailing newlines (`kubectl --from-file`) are not part of a key. */
  load(files: SecretFiles): number {
    const keys = new Map<string, StoredKey>();
    for (const [id, raw] of files) {
      const key = raw.replace(/[\r\n]+$/, '');
      if (key === '') continue;
      const digest = sha256(key);
      keys.set(digest.toString('latin1'), { digest, identity: identityOf({ type: 'apiKey', keyId: id }, `key:${id}`) });
    }
    this.keys = keys;
    return keys.size;
  }

  authenticate(inbound: InboundHeaders): AuthOutcome {
    const presented = inbound.apiKey ?? credentialsFor(inbound.authorization, 'ApiKey');
    if (presented === undefined || presented === '')
      return unauthorized(CHALLENGE, 'an API key is required (X-Api-Key header)');
    if (presented.length > MAX_KEY_LENGTH) return unauthorized(CHALLENGE, 'invalid API key');
    const digest = sha256(presented);
    const stored = this.keys.get(digest.toString('latin1'));
    if (stored === undefined || !crypto.timingSafeEqual(stored.digest, digest))
      return unauthorized(CHALLENGE, 'invalid API key');
    return { ok: true, identity: stored.identity };
  }

  close(): void {
    this.onClose();
  }
}

/**
 * One-shot `crypto.hash` (node ≥ 20.12, no Hash object per call: a third of the cost of
 * createHash().update().digest(), which is most of what an API-key check costs).
 */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash;

function sha256(text: string): Buffer {
  return oneShot !== undefined
    ? oneShot('sha256', text, 'buffer')
    : crypto.createHash('sha256').update(text, 'utf8').digest();
}
