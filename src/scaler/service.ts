/**
 * The four external-scaler calls KEDA makes, answered from the DemandBook (memory only: the routers
 * are polled in the background, so an answer never waits on the network).
 *
 *   IsActive / StreamIsActive  0↔1: any demand, requests within the rate window, or an activate event
 *   GetMetricSpec              the per-replica target (`targetConcurrency` or `targetRps`)
 *   GetMetrics                 the sum over routers (in-flight + waiting, or requests per second);
 *                              KEDA's HPA divides it by the target (AverageValue)
 *
 * Status codes: bad ScaledObject metadata or an undecodable message → INVALID_ARGUMENT; a metric
 * that is not the function's → NOT_FOUND; no router answering (or the first poll not done) →
 * UNAVAILABLE, so KEDA counts a failure (and applies the ScaledObject's `fallback`) instead of
 * reading "no demand" and scaling a function to zero because the scaler is blind.
 */
import {
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import type { ActivityHub } from './activity';
import type { DemandBook } from './demand';
import type { ScalerLog } from './log';
import type { ScalerMetrics } from './metrics';
import {
  type ExternalScalerMethod,
  ExternalScalerService,
  type GetMetricSpecResponse,
  type GetMetricsRequest,
  type GetMetricsResponse,
  type IsActiveResponse,
  type ScaledObjectRef,
} from './protocol';
import { type ScalingTarget, TargetError, kindOfMetric, readTarget } from './targets';

/** A call answered with a gRPC status other than OK. */
class CallError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

/** A request the codec could not decode; the handler answers INVALID_ARGUMENT (grpc-js alone says INTERNAL). */
class Malformed {
  constructor(readonly reason: string) {}
}

export interface ScalerServiceOptions {
  readonly book: DemandBook;
  readonly hub: ActivityHub;
  readonly metrics: ScalerMetrics;
  readonly log: ScalerLog;
  /** Why demand cannot be read right now (starting, no router answering); undefined when it can. */
  readonly unavailable: () => string | undefined;
}

export class ScalerService {
  private readonly streams = new Set<ServerWritableStream<ScaledObjectRef, IsActiveResponse>>();

  constructor(private readonly options: ScalerServiceOptions) {}

  /** The service definition to serve: the shared one, with decoders that turn bad input into a status. */
  static definition(): typeof ExternalScalerService {
    const tolerant = <T>(decode: (bytes: Uint8Array) => T) => {
      return (bytes: Uint8Array): T => {
        try {
          return decode(bytes);
        } catch (err) {
          return new Malformed((err as Error).message) as T;
        }
      };
    };
    const def = ExternalScalerService;
    return {
      IsActive: { ...def.IsActive, requestDeserialize: tolerant(def.IsActive.requestDeserialize) },
      StreamIsActive: { ...def.StreamIsActive, requestDeserialize: tolerant(def.StreamIsActive.requestDeserialize) },
      GetMetricSpec: { ...def.GetMetricSpec, requestDeserialize: tolerant(def.GetMetricSpec.requestDeserialize) },
      GetMetrics: { ...def.GetMetrics, requestDeserialize: tolerant(def.GetMetrics.requestDeserialize) },
    };
  }

  implementation(): UntypedServiceImplementation {
    return {
      IsActive: this.unary('IsActive', (ref: ScaledObjectRef): IsActiveResponse => {
        const target = this.target(ref);
        this.requireDemand();
        return { result: this.options.book.reading(target.fn).active };
      }),
      GetMetricSpec: this.unary('GetMetricSpec', (ref: ScaledObjectRef): GetMetricSpecResponse => {
        const target = this.target(ref);
        return {
          metricSpecs: [
            {
              metricName: target.metricName,
              targetSize: Math.max(1, Math.round(target.target)),
              targetSizeFloat: target.target,
            },
          ],
        };
      }),
      GetMetrics: this.unary('GetMetrics', (request: GetMetricsRequest): GetMetricsResponse => {
        if (request instanceof Malformed) throw request;
        const target = this.target(request.scaledObjectRef);
        const kind = kindOfMetric(target, request.metricName);
        if (kind === undefined) {
          throw new CallError(
            status.NOT_FOUND,
            `metric ${JSON.stringify(request.metricName)} is not one of function '${target.fn}' (expected ${JSON.stringify(target.metricName)})`,
          );
        }
        this.requireDemand();
        const reading = this.options.book.reading(target.fn);
        const value = kind === 'rps' ? reading.rps : reading.concurrency;
        return {
          metricValues: [
            {
              metricName: request.metricName || target.metricName,
              metricValue: Math.round(value),
              metricValueFloat: value,
            },
          ],
        };
      }),
      StreamIsActive: (call: ServerWritableStream<ScaledObjectRef, IsActiveResponse>) => this.stream(call),
    };
  }

  /** Ends every open stream (shutdown): KEDA reopens them, on another replica. */
  endStreams(): void {
    for (const call of this.streams) call.end();
    this.streams.clear();
  }

  private stream(call: ServerWritableStream<ScaledObjectRef, IsActiveResponse>): void {
    const { hub, book, metrics, unavailable } = this.options;
    let target: ScalingTarget;
    try {
      target = this.target(call.request);
    } catch (err) {
      const failure = this.failure('StreamIsActive', err);
      metrics.grpcRequests.inc({ method: 'StreamIsActive', code: status[failure.code] });
      call.emit('error', failure);
      return;
    }
    metrics.grpcRequests.inc({ method: 'StreamIsActive', code: 'OK' });
    this.streams.add(call);
    const send = (active: boolean): void => {
      if (call.cancelled || call.writableEnded) return;
      call.write({ result: active });
      metrics.pushes.inc({ result: String(active) });
    };
    // Told the current state at once when there is one; else the first refresh after it exists.
    const initial = unavailable() === undefined ? book.reading(target.fn).active : undefined;
    const unsubscribe = hub.subscribe(target.fn, send, initial);
    const close = (): void => {
      unsubscribe();
      this.streams.delete(call);
    };
    call.on('cancelled', close);
    call.on('close', close);
    call.on('finish', close);
    call.on('error', close);
  }

  private unary<Req, Res>(method: ExternalScalerMethod, answer: (request: Req) => Res) {
    const { metrics } = this.options;
    // Label children resolved once: the success path does no label hashing.
    const duration = metrics.grpcDuration.labels({ method });
    const ok = metrics.grpcRequests.labels({ method, code: 'OK' });
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      const started = performance.now();
      try {
        callback(null, answer(call.request));
        ok.inc();
      } catch (err) {
        const failure = this.failure(method, err);
        callback(failure);
        metrics.grpcRequests.inc({ method, code: status[failure.code] });
      }
      duration.observe((performance.now() - started) / 1000);
    };
  }

  private target(ref: ScaledObjectRef | Malformed | undefined): ScalingTarget {
    if (ref instanceof Malformed) throw ref;
    return readTarget(ref);
  }

  private requireDemand(): void {
    const reason = this.options.unavailable();
    if (reason !== undefined) throw new CallError(status.UNAVAILABLE, reason);
  }

  private failure(method: string, err: unknown): { code: status; details: string } {
    if (err instanceof CallError) return { code: err.code, details: err.message };
    if (err instanceof TargetError) return { code: status.INVALID_ARGUMENT, details: err.message };
    if (err instanceof Malformed) return { code: status.INVALID_ARGUMENT, details: `malformed request: ${err.reason}` };
    this.options.log.log('error', 'call failed', { method, reason: (err as Error)?.stack ?? String(err) });
    return { code: status.INTERNAL, details: 'internal error' };
  }
}
