/**
 * KEDA's side of the external-scaler protocol, for whoever plays KEDA outside a cluster (the local
 * runner's scale loop): the four calls of `ExternalScalerService` as promises and a callback stream.
 */
import { type ClientReadableStream, type ServiceError, credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import {
  ExternalScalerService,
  type IsActiveResponse,
  type MetricSpec,
  type MetricValue,
  type ScaledObjectRef,
} from './protocol';

type Callback<T> = (err: ServiceError | null, value?: T) => void;

interface RawClient {
  IsActive(ref: ScaledObjectRef, cb: Callback<IsActiveResponse>): void;
  GetMetricSpec(ref: ScaledObjectRef, cb: Callback<{ metricSpecs: MetricSpec[] }>): void;
  GetMetrics(
    request: { scaledObjectRef: ScaledObjectRef; metricName: string },
    cb: Callback<{ metricValues: MetricValue[] }>,
  ): void;
  StreamIsActive(ref: ScaledObjectRef): ClientReadableStream<IsActiveResponse>;
  close(): void;
}

const Constructor = makeGenericClientConstructor(ExternalScalerService, 'ExternalScaler');

export class ExternalScalerClient {
  private readonly raw: RawClient;

  /** @param address `host:port` of the scaler's gRPC port (plaintext, as KEDA talks to it in-cluster). */
  constructor(address: string) {
    this.raw = new Constructor(address, credentials.createInsecure()) as unknown as RawClient;
  }

  isActive(ref: ScaledObjectRef): Promise<boolean> {
    return this.unary<IsActiveResponse>((cb) => this.raw.IsActive(ref, cb)).then((r) => r.result);
  }

  getMetricSpec(ref: ScaledObjectRef): Promise<MetricSpec[]> {
    return this.unary<{ metricSpecs: MetricSpec[] }>((cb) => this.raw.GetMetricSpec(ref, cb)).then(
      (r) => r.metricSpecs,
    );
  }

  getMetrics(ref: ScaledObjectRef, metricName: string): Promise<MetricValue[]> {
    return this.unary<{ metricValues: MetricValue[] }>((cb) =>
      this.raw.GetMetrics({ scaledObjectRef: ref, metricName }, cb),
    ).then((r) => r.metricValues);
  }

  /**
   * Opens StreamIsActive: `onActive` gets every pushed value, `onEnd` the error (or undefined when the
   * scaler ended the stream, as it does on shutdown). Reopening is the caller's choice, as in KEDA.
   * Returns a function that cancels the stream.
   */
  streamIsActive(
    ref: ScaledObjectRef,
    onActive: (active: boolean) => void,
    onEnd: (err?: ServiceError) => void,
  ): () => void {
    const call = this.raw.StreamIsActive(ref);
    let ended = false;
    const end = (err?: ServiceError): void => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    call.on('data', (m: IsActiveResponse) => onActive(m.result));
    call.on('error', (err: ServiceError) => end(err));
    call.on('status', () => end());
    return () => call.cancel();
  }

  close(): void {
    this.raw.close();
  }

  private unary<T>(start: (cb: Callback<T>) => void): Promise<T> {
    return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value as T))));
  }
}
