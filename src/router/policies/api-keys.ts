import * as crypto from 'node:crypto';
import type { InboundHeaders } from '../forwarded-headers';
import { type Authenticator, credentialsFor } from './authenticator';
import type { SecretFiles } from './secret-dir';
import { type AuthOutcome, type Identity, identityOf, unauthorized } from './verdict';

interface StoredKey {
  /** SHA-256 of the key, hex. */
  readonly digest: string;
  readonly identity: Identity;
}

const CHALLENGE = 'ApiKey realm="kubefaas", header="X-Api-Key"';
/** Longer keys are refused before hashing (a header can hold up to the head limit). */
const MAX_KEY_LENGTH = 4096;

/**
 * API keys from a Secret (key id → key). Only SHA-256 digests are kept. A request's key is hashed
 * and looked up by digest, then the digests are compared in constant time: the lookup's timing
 * depends only on the digest, which a caller cannot steer towards a stored one. Digests are hex
 * strings, not Buffers: a Buffer per request (hashing to one, or copying into one for
 * `timingSafeEqual`) cost ~3 µs of allocation and GC on the router's hot path, the hex digest 0.5.
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
      keys.set(digest, { digest, identity: identityOf({ type: 'apiKey', keyId: id }, `key:${id}`) });
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
    const stored = this.keys.get(digest);
    if (stored === undefined || !sameDigest(stored.digest, digest)) return unauthorized(CHALLENGE, 'invalid API key');
    return { ok: true, identity: stored.identity };
  }

  close(): void {
    this.onClose();
  }
}

/**
 * One-shot `crypto.hash` (node ≥ 20.12, no Hash object per call: far cheaper than
 * createHash().update().digest(), which is most of what an API-key check costs).
 */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** SHA-256 of `text` (UTF-8), hex. */
function sha256(text: string): string {
  return oneShot !== undefined
    ? oneShot('sha256', text, 'hex')
    : crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Equal digests, compared without an early exit (both are 64 hex characters). */
function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
