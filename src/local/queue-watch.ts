/**
 * The runner's view of the local queue for functions at zero (KEDA's `nats-jetstream` trigger's
 * part): a message published to a function's subject wakes it at once (a core NATS subscription on
 * the same subject JetStream stores), and each scale tick reads how many messages its durable
 * consumer still has to deliver or see acknowledged (the JetStream API), so a function with work
 * left is not stopped and one whose messages arrived before the runner looked is started.
 */
import { JsErrorCode } from '../queue/api-errors';
import { NatsLite } from './nats-client';
import type { QueueWake } from './scaling';

/** What the JetStream API answers (only the fields read here). */
interface ApiReply {
  readonly error?: { readonly code?: number; readonly err_code?: number; readonly description?: string };
  readonly num_pending?: number;
  readonly num_ack_pending?: number;
  readonly state?: { readonly subjects?: Readonly<Record<string, number>> };
}

export class QueueWatch {
  private constructor(private readonly nc: NatsLite) {}

  /** Connects to the local nats-server (no auth and no TLS locally). */
  static async connect(servers: string): Promise<QueueWatch> {
    return new QueueWatch(await NatsLite.connect(servers));
  }

  /** Calls `onMessage` for every message published to `subject`; returns how to stop. */
  subscribe(subject: string, onMessage: () => void): () => void {
    return this.nc.subscribe(subject, () => onMessage());
  }

  /** Resolves once the server has every subscription made so far (a message published after that is seen). */
  flush(): Promise<void> {
    return this.nc.flush();
  }

  /**
   * Messages the function still has to handle on `wake`: not delivered yet plus delivered and not
   * acknowledged (a retry waiting for its backoff). Before its runtime ever ran, the consumer does
   * not exist and every message on the subject is pending (the consumer delivers from the start).
   */
  async pending(wake: QueueWake): Promise<number> {
    const consumer = await this.api(`CONSUMER.INFO.${wake.stream}.${wake.durable}`, '');
    if (consumer.error === undefined) return (consumer.num_pending ?? 0) + (consumer.num_ack_pending ?? 0);
    if (!notFound(consumer)) throw apiError(consumer);
    const stream = await this.api(`STREAM.INFO.${wake.stream}`, JSON.stringify({ subjects_filter: wake.subject }));
    if (stream.error === undefined) return stream.state?.subjects?.[wake.subject] ?? 0;
    if (notFound(stream)) return 0; // the router creates the streams when it starts
    throw apiError(stream);
  }

  close(): void {
    this.nc.close();
  }

  private async api(call: string, body: string): Promise<ApiReply> {
    return JSON.parse((await this.nc.request(`$JS.API.${call}`, body)).toString('utf8')) as ApiReply;
  }
}

function notFound(reply: ApiReply): boolean {
  const code = reply.error?.err_code;
  return code === JsErrorCode.consumerNotFound || code === JsErrorCode.streamNotFound;
}

function apiError(reply: ApiReply): Error {
  return new Error(
    `JetStream API: ${reply.error?.description ?? 'error'} (${reply.error?.err_code ?? reply.error?.code})`,
  );
}
