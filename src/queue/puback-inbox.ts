import { type Msg, type NatsConnection, type NatsError, type PubAck, type Subscription } from 'nats';
import { inboxOf } from './inbox';
import { HeaderBlock } from './header-block';
import { TurnPublisher } from './turn-publisher';

/** Header asking the stream to store the message only if its subject has no message yet (KV create). */
export const EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER = 'Nats-Expected-Last-Subject-Sequence';
const MSG_ID_HEADER = 'Nats-Msg-Id';

/**
 * How often waiting publishes are checked for their timeout. One interval for all of them instead
 * of a timer per publish; a publish is given up at most this much after its timeout (timeouts are
 * ≥ 250 ms where they matter: publishDurably, state writes).
 */
const TIMEOUT_CHECK_MS = 50;

const EMPTY_HEADERS = new HeaderBlock();

/** A publish the stream did not confirm; `code` and `api_error` are read like nats.js errors (api-errors.ts). */
export class PubAckError extends Error {
  override readonly name = 'PubAckError';
  constructor(
    message: string,
    /** `TIMEOUT`, `503` (no responders / JetStream unavailable), `CONNECTION_CLOSED` or the API error's HTTP-like code. */
    readonly code: string,
    readonly api_error?: { readonly code?: number; readonly err_code?: number; readonly description?: string },
  ) {
    super(message);
  }
}

export interface PubAckPublishOptions {
  /** @default none */
  readonly headers?: HeaderBlock;
  /** Nats-Msg-Id: the stream stores a retry with the same id once. @default none */
  readonly msgID?: string;
  /** Milliseconds to wait for the PubAck. */
  readonly timeout: number;
}

interface Pending {
  readonly subject: string;
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (err: PubAckError) => void;
  /** performance.now() after which the publish is given up (monotonic, like a timer). */
  readonly deadline: number;
  readonly timeout: number;
}

/**
 * JetStream publishes with their PubAck awaited through one wildcard inbox of our own. A publish
 * is exactly a core request to the stream's subject answered by a PubAck; nats.js' `js.publish`
 * does the same but allocates a request object, a timeout deferred and a `Cancelled` error (with a
 * stack trace) for each one, which was a tenth of the router's CPU per async call. Guarantees are
 * unchanged: a promise resolves only with the server's PubAck (the message is stored); an error
 * reply, no responders or no reply in time rejects it.
 *
 * Publishes leave through a TurnPublisher (one socket write per event-loop turn) with their
 * headers pre-encoded (HeaderBlock), and share one timeout check.
 */
export class PubAckInbox {
  private readonly prefix: string;
  private readonly pending = new Map<string, Pending>();
  private readonly sub: Subscription;
  private readonly out: TurnPublisher;
  private nextToken = 0;
  private timeoutCheck?: NodeJS.Timeout;

  constructor(private readonly nc: NatsConnection) {
    this.prefix = `${inboxOf(nc)}.`;
    this.out = new TurnPublisher(nc);
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => this.onReply(err, msg) });
    // The subscription ends only with the connection: whatever is still waiting will never be answered.
    void this.sub.closed.then(() => this.rejectAll('connection closed'));
  }

  /** Publishes and resolves with the stream's PubAck. Same shape as `js.publish`, so publishDurably takes either. */
  publish(subject: string, data: Uint8Array, options: PubAckPublishOptions): Promise<PubAck> {
    const headers =
      options.msgID === undefined
        ? options.headers
        : (options.headers ?? EMPTY_HEADERS).with(MSG_ID_HEADER, options.msgID);
    const token = (this.nextToken++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(token, {
        subject,
        resolve,
        reject,
        deadline: performance.now() + options.timeout,
        timeout: options.timeout,
      });
      if (!this.timeoutCheck) {
        this.timeoutCheck = setInterval(this.checkTimeouts, TIMEOUT_CHECK_MS);
      }
      this.out.publish(subject, data, this.prefix + token, headers?.asMsgHdrs(), (err) => {
        this.settle(token)?.reject(
          new PubAckError(
            `cannot publish to ${subject}: ${(err as Error).message}`,
            String((err as NatsError).code ?? 'CONNECTION_CLOSED'),
          ),
        );
      });
    });
  }

  private onReply(err: NatsError | null, msg: Msg): void {
    if (err) return;
    const p = this.settle(msg.subject.slice(this.prefix.length));
    if (!p) return; // timed out already
    if (msg.data.length === 0) {
      // A status message: 503 = no stream captures the subject or JetStream is not up (yet).
      const code = msg.headers?.code ?? 0;
      p.reject(
        new PubAckError(
          `publish to ${p.subject}: ${code === 503 ? 'no responders' : `status ${code} ${msg.headers?.description ?? ''}`}`,
          String(code),
        ),
      );
      return;
    }
    let reply: Partial<PubAck> & { error?: { code?: number; err_code?: number; description?: string } };
    try {
      reply = JSON.parse(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).toString('utf8'));
    } catch {
      p.reject(new PubAckError(`publish to ${p.subject}: unreadable PubAck`, 'BAD_JSON'));
      return;
    }
    if (reply.error) {
      p.reject(
        new PubAckError(
          `publish to ${p.subject}: ${reply.error.description ?? 'JetStream error'}`,
          String(reply.error.code ?? ''),
          reply.error,
        ),
      );
    } else if (!reply.stream) {
      p.reject(new PubAckError(`publish to ${p.subject}: invalid PubAck`, 'BAD_PUBACK'));
    } else {
      p.resolve({
        stream: reply.stream,
        seq: reply.seq ?? 0,
        duplicate: reply.duplicate === true,
        domain: reply.domain,
      } as PubAck);
    }
  }

  private settle(token: string): Pending | undefined {
    const p = this.pending.get(token);
    if (p) this.pending.delete(token);
    return p;
  }

  private readonly checkTimeouts = (): void => {
    if (this.pending.size === 0) {
      // Nothing waits: stop until the next publish (an idle process keeps no timer).
      clearInterval(this.timeoutCheck);
      this.timeoutCheck = undefined;
      return;
    }
    const now = performance.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(token);
      p.reject(new PubAckError(`no PubAck for ${p.subject} within ${p.timeout} ms`, 'TIMEOUT'));
    }
  };

  private rejectAll(reason: string): void {
    clearInterval(this.timeoutCheck);
    this.timeoutCheck = undefined;
    for (const token of [...this.pending.keys()]) {
      const p = this.settle(token)!;
      p.reject(new PubAckError(`publish to ${p.subject}: ${reason}`, 'CONNECTION_CLOSED'));
    }
  }
}
