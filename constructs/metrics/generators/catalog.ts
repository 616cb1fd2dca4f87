/**
 * What every kubefaas metric means: type, labels, who emits it. The names come from the contract;
 * this catalog adds the facts that rules, dashboards, docs/metrics.md and their tests rely on, so a
 * query can be checked against metrics that exist instead of against a second list of names.
 */
import { MetricNames } from '../../../src/contract';

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type MetricEmitter = 'runtime' | 'router' | 'queue consumer' | 'scaler';

export interface MetricInfo {
  readonly name: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
  readonly emittedBy: MetricEmitter;
  readonly help: string;
}

/** Function outcomes that count as errors in error ratios (the runtime's `outcome` label values). */
export const ERROR_OUTCOMES: readonly string[] = ['error', 'timeout'];

export const METRIC_CATALOG: readonly MetricInfo[] = [
  {
    name: MetricNames.functionInvocations,
    type: 'counter',
    labels: ['function', 'trigger', 'outcome'],
    emittedBy: 'runtime',
    help: 'Handler invocations. `outcome` is `success`, `error` (handler threw or answered 5xx), `timeout` (504 after the function timeout) or `rejected` (413/429 before the handler ran).',
  },
  {
    name: MetricNames.functionDuration,
    type: 'histogram',
    labels: ['function', 'trigger'],
    emittedBy: 'runtime',
    help: 'Seconds from request arrival to response. Buckets up to 900 s (the longest timeout), so the latency alert works for every timeout.',
  },
  {
    name: MetricNames.functionInFlight,
    type: 'gauge',
    labels: ['function'],
    emittedBy: 'runtime',
    help: 'Invocations running right now in this replica.',
  },
  {
    name: MetricNames.functionColdStarts,
    type: 'counter',
    labels: ['function'],
    emittedBy: 'runtime',
    help: 'Invocations that were the first one handled by their process (one per replica start); a rising rate means churn or scale-from-zero.',
  },
  {
    name: MetricNames.routerRequests,
    type: 'counter',
    labels: ['route', 'method', 'status', 'function'],
    emittedBy: 'router',
    help: 'Requests answered by the router. `route` is the matched route pattern (`[host]/path`, or `/function/<name>`; empty when nothing matched), `status` the HTTP status code, `function` the target (empty when nothing matched).',
  },
  {
    name: MetricNames.routerUpstreamDuration,
    type: 'histogram',
    labels: ['function'],
    emittedBy: 'router',
    help: 'Seconds from sending a request to a function until its response ended (retries included).',
  },
  {
    name: MetricNames.routerRequestDuration,
    type: 'histogram',
    labels: ['function'],
    emittedBy: 'router',
    help: 'Seconds from receiving a request until the router finished answering it.',
  },
  {
    name: MetricNames.routerColdStarts,
    type: 'counter',
    labels: ['function'],
    emittedBy: 'router',
    help: 'Activations: times a request started waiting for a function with no ready endpoint (scale from zero), or an async call was queued for one.',
  },
  {
    name: MetricNames.routerHoldDuration,
    type: 'histogram',
    labels: ['function', 'outcome'],
    emittedBy: 'router',
    help: 'Seconds a request was held for a function with no ready endpoint. `outcome`: `forwarded`, `timeout` (answered 504 after the activation timeout), `client_closed`, `removed` (the function left the route table). Buckets up to 300 s.',
  },
  {
    name: MetricNames.routerHoldRejections,
    type: 'counter',
    labels: ['function'],
    emittedBy: 'router',
    help: "Requests answered 503 because the function's hold queue was full.",
  },
  {
    name: MetricNames.routerHeldRequests,
    type: 'gauge',
    labels: ['function'],
    emittedBy: 'router',
    help: 'Requests held right now for a function with no ready endpoint.',
  },
  {
    name: MetricNames.queueDeliveries,
    type: 'counter',
    labels: ['function', 'trigger', 'outcome'],
    emittedBy: 'queue consumer',
    help: 'Messages handed to a function by its JetStream consumer. `outcome`: `ack`, `retry` or `dead_letter`.',
  },
  {
    name: MetricNames.queueRetries,
    type: 'counter',
    labels: ['function', 'trigger'],
    emittedBy: 'queue consumer',
    help: 'Redeliveries scheduled after a failed or timed-out attempt.',
  },
  {
    name: MetricNames.queueDeadLetters,
    type: 'counter',
    labels: ['function', 'trigger'],
    emittedBy: 'queue consumer',
    help: 'Messages given up on after the last retry and published to the dead-letter subject.',
  },
  {
    name: MetricNames.queueConsumerLag,
    type: 'gauge',
    labels: ['function', 'trigger'],
    emittedBy: 'queue consumer',
    help: 'Messages waiting for (pending) or being handled by (unacknowledged) the function consumer.',
  },
  {
    name: MetricNames.asyncCalls,
    type: 'counter',
    labels: ['function', 'state'],
    emittedBy: 'queue consumer',
    help: 'Async calls entering a state: `queued` (accepted by the router), `running`, `succeeded`, `failed`.',
  },
  {
    name: MetricNames.scalerRouters,
    type: 'gauge',
    labels: [],
    emittedBy: 'scaler',
    help: 'Router replicas whose counts the scaler uses right now (answered a poll within the last three intervals).',
  },
  {
    name: MetricNames.scalerRouterPolls,
    type: 'counter',
    labels: ['outcome'],
    emittedBy: 'scaler',
    help: "Polls of a router replica's counts endpoint. `outcome`: `ok` or `error` (unreachable, timeout, malformed answer).",
  },
  {
    name: MetricNames.scalerGrpcRequests,
    type: 'counter',
    labels: ['method', 'code'],
    emittedBy: 'scaler',
    help: 'External-scaler gRPC calls from KEDA. `method`: `IsActive`, `StreamIsActive`, `GetMetricSpec`, `GetMetrics`; `code`: the gRPC status (`OK`, `INVALID_ARGUMENT`, `UNAVAILABLE`, …).',
  },
  {
    name: MetricNames.scalerGrpcDuration,
    type: 'histogram',
    labels: ['method'],
    emittedBy: 'scaler',
    help: 'Seconds the scaler took to answer a unary gRPC call (answers come from memory; the routers are polled in the background).',
  },
  {
    name: MetricNames.scalerActivations,
    type: 'counter',
    labels: ['function'],
    emittedBy: 'scaler',
    help: 'Activate events received from routers: a request started waiting for a function with no ready replica.',
  },
  {
    name: MetricNames.scalerStreams,
    type: 'gauge',
    labels: [],
    emittedBy: 'scaler',
    help: 'Open StreamIsActive streams (about one per ScaledObject per KEDA operator).',
  },
  {
    name: MetricNames.scalerPushes,
    type: 'counter',
    labels: ['result'],
    emittedBy: 'scaler',
    help: 'Activity pushed to KEDA on StreamIsActive streams. `result`: `true` (scale from zero / stay up) or `false`.',
  },
];

/** Series names a histogram exposes. */
export function seriesNames(metric: MetricInfo): string[] {
  return metric.type === 'histogram'
    ? [`${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`]
    : [metric.name];
}

/** Labels that Prometheus puts on every kubefaas series it scrapes (see scrape.ts). */
export const TARGET_LABELS: readonly string[] = ['namespace', 'pod', 'component', 'function'];
