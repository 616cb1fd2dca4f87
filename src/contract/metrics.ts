/**
 * Upper bounds (seconds) of `kubefaas_function_duration_seconds`, the same in every runtime (Node,
 * Python): sub-millisecond handlers up to the longest function timeout (15 min), so a latency alert
 * at a fraction of any timeout falls inside the histogram (above its top bucket, `histogram_quantile`
 * can only answer the top bound and the alert would never fire).
 */
export const FUNCTION_DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900,
];

/** Prometheus metric names: stable, documented in docs/metrics.md. */
export const MetricNames = {
  functionInvocations: 'kubefaas_function_invocations_total',
  functionDuration: 'kubefaas_function_duration_seconds',
  functionInFlight: 'kubefaas_function_in_flight',
  functionColdStarts: 'kubefaas_function_cold_starts_total',
  routerRequests: 'kubefaas_router_requests_total',
  routerUpstreamDuration: 'kubefaas_router_upstream_duration_seconds',
  routerRequestDuration: 'kubefaas_router_request_duration_seconds',
  // The activator (issue 10): requests held for a function with no ready endpoint.
  /** Counter {function}: activations, i.e. times a request started waiting for a function at zero. */
  routerColdStarts: 'kubefaas_router_cold_starts_total',
  /** Histogram {function, outcome}: seconds a request was held; outcome forwarded, timeout, client_closed, removed. */
  routerHoldDuration: 'kubefaas_router_hold_duration_seconds',
  /** Counter {function}: requests answered 503 because the function's hold queue was full. */
  routerHoldRejections: 'kubefaas_router_hold_rejections_total',
  /** Gauge {function}: requests held right now. */
  routerHeldRequests: 'kubefaas_router_held_requests',
  // Emitted by the queue consumer (events issue); named here now so alert rules and dashboards can
  // reference them. Labels are documented in docs/metrics.md and constructs/metrics/generators/catalog.ts.
  /** Counter {function, trigger, outcome}: messages handed to a function by the queue consumer. */
  queueDeliveries: 'kubefaas_queue_deliveries_total',
  /** Counter {function, trigger}: redeliveries after a failed or timed-out attempt. */
  queueRetries: 'kubefaas_queue_retries_total',
  /** Counter {function, trigger}: messages moved to the dead-letter subject after the last attempt. */
  queueDeadLetters: 'kubefaas_queue_dead_letters_total',
  /** Gauge {function, trigger}: messages not yet acknowledged by the function's consumer. */
  queueConsumerLag: 'kubefaas_queue_consumer_lag_messages',
  /** Counter {function, state}: async calls (`/async-function/<name>`) entering each state (queued/running/succeeded/failed). */
  asyncCalls: 'kubefaas_async_calls_total',
  // Emitted by the scaler (src/scaler/, issue 10).
  /** Gauge: router replicas whose counts the scaler currently uses. */
  scalerRouters: 'kubefaas_scaler_routers',
  /** Counter {outcome=ok|error}: polls of a router's counts endpoint. */
  scalerRouterPolls: 'kubefaas_scaler_router_polls_total',
  /** Counter {method, code}: gRPC calls from KEDA, by method and gRPC status name (`OK`, `INVALID_ARGUMENT`, …). */
  scalerGrpcRequests: 'kubefaas_scaler_grpc_requests_total',
  /** Histogram {method}: seconds to answer a unary gRPC call. */
  scalerGrpcDuration: 'kubefaas_scaler_grpc_duration_seconds',
  /** Counter {function}: activate events received from routers (a request waited for a function at zero). */
  scalerActivations: 'kubefaas_scaler_activations_total',
  /** Gauge: open StreamIsActive streams. */
  scalerStreams: 'kubefaas_scaler_active_streams',
  /** Counter {result=true|false}: IsActiveResponse messages pushed on StreamIsActive streams. */
  scalerPushes: 'kubefaas_scaler_pushes_total',
} as const;
