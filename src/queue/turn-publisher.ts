import type { MsgHdrs, NatsConnection } from 'nats';

interface Queued {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly reply: string;
  readonly headers: MsgHdrs | undefined;
  readonly onError: (err: unknown) => void;
}

/**
 * Core publishes handed to the connection once per event-loop turn, so the publishes made while
 * one turn handles many requests (or deliveries) leave in one socket write.
 *
 * nats.js writes its pending output at the end of the microtasks that follow a publish, which
 * coalesces publishes made in one callback only: under load the router wrote to NATS once per
 * accepted call, and those write syscalls were a sixth of its CPU. Publishes queued here go out
 * from `setImmediate`, after the I/O callbacks of the current turn, in the order they were made.
 * A publish is delayed by at most the rest of that turn; nothing waits for a later turn or for
 * other publishes, and nothing is acknowledged to anyone before its own reply arrives.
 */
export class TurnPublisher {
  private queued: Queued[] = [];

  constructor(private readonly nc: NatsConnection) {}

  /** Queues a publish; `onError` gets what nats.js throws (connection closed, payload too large). */
  publish(
    subject: string,
    data: Uint8Array,
    reply: string,
    headers: MsgHdrs | undefined,
    onError: (err: unknown) => void,
  ): void {
    if (this.queued.push({ subject, data, reply, headers, onError }) === 1) setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    const queued = this.queued;
    this.queued = [];
    for (const q of queued) {
      try {
        this.nc.publish(q.subject, q.data, { reply: q.reply, headers: q.headers });
      } catch (err) {
        q.onError(err);
      }
    }
  };
}
