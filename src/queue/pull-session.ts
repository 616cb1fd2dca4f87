import { type Msg, type NatsConnection, type Subscription } from 'nats';
import { inboxOf } from './inbox';
import { PulledMessage } from './pulled-message';

export interface PullSessionOptions {
  readonly nc: NatsConnection;
  readonly stream: string;
  readonly durable: string;
  /** How long one pull request stays open on the server (JetStream minimum 1000). */
  readonly expiresMs: number;
  /** A message of ours arrived. */
  readonly onMessage: (msg: PulledMessage) => void;
  /** Requests were lost or refused (reconnect, missed heartbeats, consumer gone): ask again, maybe recreate the consumer. */
  readonly onLost: (reason: string, consumerMayBeGone: boolean) => void;
  /** Room for more requests (a request ended or was reset). */
  readonly onRoom: () => void;
  /** JetStream API prefix. @default `$JS.API` */
  readonly apiPrefix?: string;
}

const HEARTBEAT_STATUS = '100';
const PENDING_MESSAGES = 'Nats-Pending-Messages';

/**
 * Pull requests for one durable consumer, all answered on one long-lived inbox subscription: the
 * caller decides when and how many messages to ask for (`pull(n)`), which is what bounds its local
 * buffer, and is told when they arrive. `pending` counts messages asked for and not yet delivered.
 *
 * The server answers a request with up to `n` messages and, when the request expires first, a 408
 * status whose `Nats-Pending-Messages` header says how many it will no longer send. Requests carry
 * an idle heartbeat: when neither a message nor a heartbeat arrives for two heartbeat intervals
 * while requests are open, or the connection was re-established, the server no longer has our
 * requests (server restart, consumer deleted), so `pending` is reset and the owner told.
 */
export class PullSession {
  private readonly inbox: string;
  private readonly subject: string;
  private readonly heartbeatMs: number;
  private sub?: Subscription;
  private monitor?: NodeJS.Timeout;
  private lastHeard = Date.now();
  private closed = false;
  private connected = true;
  /** Messages asked for and neither delivered nor given up by the server. */
  pending = 0;

  constructor(private readonly options: PullSessionOptions) {
    this.inbox = inboxOf(options.nc);
    this.subject = `${options.apiPrefix ?? '$JS.API'}.CONSUMER.MSG.NEXT.${options.stream}.${options.durable}`;
    // Below the expiry (the server demands it), and often enough to notice a dead request quickly.
    this.heartbeatMs = Math.max(500, Math.min(5000, Math.floor(options.expiresMs / 2)));
  }

  start(): void {
    this.sub = this.options.nc.subscribe(this.inbox, {
      callback: (err, msg) => (err ? this.lost(`subscription failed: ${err.message}`, false) : this.received(msg)),
    });
    this.monitor = setInterval(() => this.checkHeartbeat(), this.heartbeatMs);
    this.monitor.unref();
    void this.watchConnection();
  }

  /** True while requests can be sent (connected, not closed). */
  get usable(): boolean {
    return !this.closed && this.connected;
  }

  /** Asks the server for up to `n` more messages. */
  pull(n: number): void {
    if (n <= 0 || !this.usable) return;
    if (this.pending === 0) this.lastHeard = Date.now();
    this.pending += n;
    const request = {
      batch: n,
      expires: this.options.expiresMs * 1_000_000,
      idle_heartbeat: this.heartbeatMs * 1_000_000,
    };
    try {
      this.options.nc.publish(this.subject, JSON.stringify(request), { reply: this.inbox });
    } catch (err) {
      this.pending -= n;
      this.lost(`pull request failed: ${(err as Error).message}`, false);
    }
  }

  /** Stops receiving (messages still on their way are not delivered; the server redelivers them). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.monitor);
    this.sub?.unsubscribe();
  }

  private received(msg: Msg): void {
    if (this.closed) return;
    this.lastHeard = Date.now();
    if (msg.subject !== this.inbox) {
      // A message: it fills one unit of the oldest open request.
      if (this.pending > 0) this.pending--;
      this.options.onMessage(new PulledMessage(msg));
      return;
    }
    // A status message about our requests.
    const h = msg.headers;
    const code = h?.code !== undefined ? String(h.code) : '';
    if (code === HEARTBEAT_STATUS) return;
    const left = Number(h?.get(PENDING_MESSAGES) || 0);
    if (left > 0) {
      // A request ended (expired, 408; or was cut short, 409) with `left` messages unsent.
      this.pending = Math.max(0, this.pending - left);
      this.options.onRoom();
      return;
    }
    const description = (h?.description ?? '').toLowerCase();
    if (code === '404' || (code === '408' && description.includes('timeout'))) {
      // Nothing to send / expired with nothing left: no effect on what is owed beyond this request.
      return;
    }
    // 409 consumer deleted, 503 no responders, 400 bad request, 409 exceeded max waiting, …: what
    // we asked for will not come. Start over (and make sure the consumer exists).
    this.lost(`pull refused: ${code} ${h?.description ?? ''}`.trim(), code === '409' || code === '503');
  }

  private checkHeartbeat(): void {
    if (this.closed || !this.connected || this.pending === 0) return;
    if (Date.now() - this.lastHeard > 2 * this.heartbeatMs) this.lost('pull heartbeats missed', true);
  }

  private lost(reason: string, consumerMayBeGone: boolean): void {
    if (this.closed) return;
    this.pending = 0;
    this.lastHeard = Date.now();
    this.options.onLost(reason, consumerMayBeGone);
  }

  /** Requests die with the connection: after a reconnect everything is asked for again. */
  private async watchConnection(): Promise<void> {
    try {
      for await (const s of this.options.nc.status()) {
        if (this.closed) return; // ends the iteration (and its listener)
        if (s.type === 'disconnect') {
          this.connected = false;
          this.pending = 0;
        } else if (s.type === 'reconnect') {
          this.connected = true;
          this.lost('reconnected', true);
        }
      }
    } catch {
      // The connection closed: nothing more to watch.
    }
  }
}
