import { createHash, timingSafeEqual } from 'node:crypto';
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
      keys.set(digest.toString('base64'), { digest, identity: identityOf({ type: 'apiKey', keyId: id }, `key:${id}`) });
    }
    this.keys = keys;
    return keys.size;
  }

  authenticate(inbound: InboundHeaders): AuthOutcome {
    const presented = inbound.apiKey ?? credentialsFor(inbound.authorization, 'ApiKey');
    if (presented === undefined || presented === '') return unauthorized(CHALLENGE, 'an API key is required (X-Api-Key header)');
    if (presented.length > MAX_KEY_LENGTH) return unauthorized(CHALLENGE, 'invalid API key');
    const digest = sha256(presented);
    const stored = this.keys.get(digest.toString('base64'));
    if (stored === undefined || !timingSafeEqual(stored.digest, digest)) return unauthorized(CHALLENGE, 'invalid API key');
    return { ok: true, identity: stored.identity };
  }

  close(): void {
    this.onClose();
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
