/**
 * The runner's view of the local queue for functions at zero (KEDA's `nats-jetstream` trigger's
 * part): a message published to a function's subject wakes it at once (a core NATS subscription on
 * the same subject JetStream stores), and each scale tick reads how many messages its durable
 * consumer still has to deliver or see acknowledged, so a function with work left is not stopped
 * and one whose messages arrived before the runner looked is started.
 */
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { isNotFound } from '../queue/api-errors';
import type { QueueWake } from './scaling';

export class QueueWatch {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
  ) {}

  /** Connects to the local nats-server (no auth and no TLS locally). */
  static async connect(servers: string): Promise<QueueWatch> {
    const nc = await connect({ servers: servers.split(','), name: 'kubefaas-dev', maxReconnectAttempts: -1 });
    return new QueueWatch(nc, await nc.jetstreamManager());
  }

  /** Calls `onMessage` for every message published to `subject`; returns how to stop. */
  subscribe(subject: string, onMessage: () => void): () => void {
    const sub = this.nc.subscribe(subject, { callback: (err) => err === null && onMessage() });
    return () => sub.unsubscribe();
  }

  /**
   * Messages the function still has to handle on `wake`: not delivered yet plus delivered and not
   * acknowledged (a retry waiting for its backoff). Before its runtime ever ran, the consumer does
   * not exist and every message on the subject is pending (the consumer delivers from the start).
   */
  async pending(wake: QueueWake): Promise<number> {
    try {
      const info = await this.jsm.consumers.info(wake.stream, wake.durable);
      return info.num_pending + info.num_ack_pending;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      const info = await this.jsm.streams.info(wake.stream, { subjects_filter: wake.subject });
      return info.state.subjects?.[wake.subject] ?? 0;
    } catch (err) {
      if (isNotFound(err)) return 0; // the router creates the streams when it starts
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.nc.close().catch(() => undefined);
  }
}
