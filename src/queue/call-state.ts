import type { JetStreamClient, KV } from 'nats';
import type { QueueConfig } from '../contract';
import { JsErrorCode, apiErrorCode } from './api-errors';
import { HeaderBlock } from './header-block';
import { EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER, type PubAckInbox } from './puback-inbox';

export type CallStateName = 'queued' | 'running' | 'succeeded' | 'failed';

/** The handler's result, as the caller would have received it synchronously (bounded in size). */
export interface CallResult {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** UTF-8 text, or base64 when `bodyEncoding` says so. */
  readonly body: string;
  readonly bodyEncoding: 'utf8' | 'base64';
  /** True when the body was cut to the size limit. */
  readonly truncated: boolean;
}

export interface CallbackOutcome {
  readonly url: string;
  readonly delivered: boolean;
  readonly attempts: number;
  /** Status of the last callback response, if any came back. */
  readonly status?: number;
  readonly error?: string;
}

/** What `GET /async-function/<name>/<call-id>` returns. */
export interface CallState {
  readonly callId: string;
  readonly function: string;
  readonly state: CallStateName;
  readonly queuedAt: string;
  readonly updatedAt: string;
  /** Handler attempts started so far. */
  readonly attempts: number;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly result?: CallResult;
  /** The last attempt's error (set when failed, and while retrying). */
  readonly error?: string;
  readonly callbackUrl?: string;
  readonly callback?: CallbackOutcome;
}

/** Call ids are KV keys and NATS header values: keep them to a safe alphabet. */
export const CALL_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Store only if the key has no entry at all (the same for every new call id, so encoded once). */
const CREATE_NEW_HEADERS = new HeaderBlock().add(EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER, '0');

/** @default 64 KiB: largest result body kept in the call state. */
export const DEFAULT_MAX_RESULT_BYTES = 64 * 1024;

/**
 * Async call states in a JetStream key-value bucket (one key per call, history 1, TTL from the
 * QueueConfig). Several writers (router, consumer replicas) touch a key, but each call moves forward
 * through its states from one place at a time, so plain puts are enough after the first `create`.
 */
export class CallStateStore {
  private kv?: Promise<KV>;
  /** `$KV.<bucket>.`: a key's subject is this plus the key. */
  private readonly keyPrefix: string;

  constructor(
    private readonly js: JetStreamClient,
    private readonly config: QueueConfig,
    /** Fast path of createNew and put (see there). @default both through nats.js' KV */
    private readonly acks?: { readonly inbox: PubAckInbox; readonly timeoutMs: number },
  ) {
    this.keyPrefix = `$KV.${config.callsBucket}.`;
  }

  private bucket(): Promise<KV> {
    if (!this.kv) {
      this.kv = this.js.views.kv(this.config.callsBucket, { bindOnly: true, allow_direct: true });
      this.kv.catch(() => (this.kv = undefined));
    }
    return this.kv;
  }

  /** Writes the first state; false when the call id already exists (a duplicate submission). */
  async create(state: CallState): Promise<boolean> {
    const kv = await this.bucket();
    try {
      await kv.create(state.callId, encode(state));
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
  }

  /**
   * `create` for a call id that cannot exist yet (one we generated): a publish to the key's subject
   * that the stream stores only if the subject has no message at all. Unlike `kv.create` it does not
   * accept a key whose last entry is a delete/purge marker — irrelevant for a new id — and skips the
   * nats.js JetStream publish path (see PubAckInbox).
   */
  async createNew(state: CallState): Promise<boolean> {
    if (!this.acks) return this.create(state);
    try {
      // Only ids we generated (UUIDs) come here: put's key check is not needed.
      await this.acks.inbox.publish(this.keyPrefix + state.callId, encode(state), {
        headers: CREATE_NEW_HEADERS,
        timeout: this.acks.timeoutMs,
      });
      return true;
    } catch (err) {
      if (apiErrorCode(err) === JsErrorCode.wrongLastSequence) return false;
      throw err;
    }
  }

  /**
   * Overwrites the state; resolves once the bucket's stream stored it. With the inbox this is the
   * publish `kv.put` makes (to the key's subject, PubAck awaited), without nats.js' per-request
   * objects: the consumer writes two states per call.
   */
  async put(state: CallState): Promise<void> {
    if (!this.acks) {
      const kv = await this.bucket();
      await kv.put(state.callId, encode(state));
      return;
    }
    await this.acks.inbox.publish(this.subjectOf(state.callId), encode(state), { timeout: this.acks.timeoutMs });
  }

  /** The key's subject; refuses ids that are not keys (as nats.js' KV does), so a publish cannot land elsewhere. */
  private subjectOf(callId: string): string {
    if (!CALL_ID_PATTERN.test(callId)) throw new Error(`invalid call id '${callId}' for the call-state bucket`);
    return this.keyPrefix + callId;
  }

  async get(callId: string): Promise<CallState | undefined> {
    if (!CALL_ID_PATTERN.test(callId)) return undefined;
    const kv = await this.bucket();
    const entry = await kv.get(callId);
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
    return JSON.parse(Buffer.from(entry.value).toString('utf8')) as CallState;
  }

  /**
   * Claims idempotency record `key` for `callId`: undefined when claimed, else the call id that holds
   * it (a resubmission). A key whose holder released it (a failed submission) can be claimed again.
   */
  async claimKey(key: string, callId: string): Promise<string | undefined> {
    const kv = await this.bucket();
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await kv.create(key, Buffer.from(callId, 'utf8'));
        return undefined;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
      const entry = await kv.get(key);
      if (entry && entry.operation === 'PUT' && entry.value.length > 0)
        return Buffer.from(entry.value).toString('utf8');
      // Released between our create and get: try to claim it again.
    }
    throw new Error(`idempotency key ${key} keeps changing`);
  }

  /** Best effort: removes a state (or idempotency record) whose call never made it into the stream. */
  async remove(callId: string): Promise<void> {
    const kv = await this.bucket();
    await kv.purge(callId);
  }
}

/** The KV create of an existing key (nats.js reports it as a code or only in the message). */
function isWrongLastSequence(err: unknown): boolean {
  return (
    apiErrorCode(err) === JsErrorCode.wrongLastSequence || /wrong last sequence/i.test(String((err as Error).message))
  );
}

function encode(state: CallState): Uint8Array {
  return Buffer.from(JSON.stringify(state), 'utf8');
}

/** A handler reply turned into a bounded CallResult. */
export function toCallResult(
  status: number,
  headers: Readonly<Record<string, string>>,
  body: Uint8Array,
  maxBytes: number = DEFAULT_MAX_RESULT_BYTES,
): CallResult {
  const truncated = body.byteLength > maxBytes;
  const kept = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, maxBytes));
  const text = kept.toString('utf8');
  const isText = Buffer.byteLength(text, 'utf8') === kept.byteLength && !text.includes('\uFFFD');
  return {
    status,
    headers,
    body: isText ? text : kept.toString('base64'),
    bodyEncoding: isText ? 'utf8' : 'base64',
    truncated,
  };
}
