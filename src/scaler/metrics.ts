import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MetricNames } from '../contract';

/** Seconds: answers come from memory, so the interesting range is well below a millisecond. */
const GRPC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];

/** The scaler's Prometheus metrics on a registry of its own (served at /metrics on the admin port). */
export class ScalerMetrics {
  readonly registry = new Registry();
  readonly routers: Gauge;
  readonly polls: Counter<'outcome'>;
  readonly grpcRequests: Counter<'method' | 'code'>;
  readonly grpcDuration: Histogram<'method'>;
  readonly activations: Counter<'function'>;
  readonly streams: Gauge;
  readonly pushes: Counter<'result'>;

  constructor(sample: { readonly liveRouters: () => number; readonly openStreams: () => number }) {
    collectDefaultMetrics({ register: this.registry });
    // prom-client names these gauges with a `_total` suffix, which Prometheus reserves for counters
    // (`promtool check metrics` flags them); same as the router.
    for (const misnamed of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ]) {
      this.registry.removeSingleMetric(misnamed);
    }
    const registers = [this.registry];
    this.routers = new Gauge({
      name: MetricNames.scalerRouters,
      help: 'Router replicas whose counts the scaler uses.',
      registers,
      collect() {
        this.set(sample.liveRouters());
      },
    });
    this.polls = new Counter({
      name: MetricNames.scalerRouterPolls,
      help: 'Polls of router counts.',
      labelNames: ['outcome'],
      registers,
    });
    this.grpcRequests = new Counter({
      name: MetricNames.scalerGrpcRequests,
      help: 'External-scaler gRPC calls by method and status.',
      labelNames: ['method', 'code'],
      registers,
    });
    this.grpcDuration = new Histogram({
      name: MetricNames.scalerGrpcDuration,
      help: 'Seconds to answer a unary external-scaler call.',
      labelNames: ['method'],
      buckets: GRPC_BUCKETS,
      registers,
    });
    this.activations = new Counter({
      name: MetricNames.scalerActivations,
      help: 'Activate events received from routers.',
      labelNames: ['function'],
      registers,
    });
    this.streams = new Gauge({
      name: MetricNames.scalerStreams,
      help: 'Open StreamIsActive streams.',
      registers,
      collect() {
        this.set(sample.openStreams());
      },
    });
    this.pushes = new Counter({
      name: MetricNames.scalerPushes,
      help: 'Activity pushed on StreamIsActive streams.',
      labelNames: ['result'],
      registers,
    });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
