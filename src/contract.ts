/**
 * The one contract shared by synth-time code (constructs/) and the code that runs in pods
 * (src/runtime, src/router) or on the developer's machine (src/local, src/cli).
 *
 * Everything that both sides must agree on lives here, once: environment variable names, mount
 * paths, ports, labels, the route table shape and metric names. Keep this module free of
 * dependencies (it is bundled into the in-pod code).
 */

/** Port every function container and the router listen on inside their pods. */
export const CONTAINER_PORT = 8080;
/** Port the function and router Services expose. */
export const SERVICE_PORT = 80;
/** Numeric uid/gid of the `node` user in the official node image (restricted PSS needs a number). */
export const NODE_UID = 1000;

/** Environment variables read by the runtime and the router. */
export const Env = {
  /** Port to listen on (runtime, router, and any ContainerFunction image). */
  PORT: 'PORT',
  /** Function name, used in logs, metrics and events. */
  FUNCTION_NAME: 'KUBEFAAS_FUNCTION_NAME',
  /** Absolute path of the bundled handler module (CommonJS, default export or `handler`). */
  HANDLER_PATH: 'KUBEFAAS_HANDLER',
  /** Handler timeout in milliseconds; the runtime answers 504 and aborts `context.signal` after it. */
  TIMEOUT_MS: 'KUBEFAAS_TIMEOUT_MS',
  /** Maximum concurrent requests per replica; the runtime answers 429 above it. 0 = unlimited. */
  MAX_CONCURRENCY: 'KUBEFAAS_MAX_CONCURRENCY',
  /** Maximum request body in bytes; the runtime answers 413 above it. */
  MAX_BODY_BYTES: 'KUBEFAAS_MAX_BODY_BYTES',
  /** Milliseconds the process waits for in-flight work after SIGTERM before exiting. */
  SHUTDOWN_GRACE_MS: 'KUBEFAAS_SHUTDOWN_GRACE_MS',
  /** Absolute path of the route table JSON the router serves (watched for changes). */
  ROUTES_PATH: 'KUBEFAAS_ROUTES',
  /** Namespace the component runs in (informational; from the downward API in clusters). */
  NAMESPACE: 'KUBEFAAS_NAMESPACE',
  /**
   * Share of successful requests the router writes an access-log line for, 0..1 (default 1 = all).
   * Responses with status >= 500 are always logged.
   */
  ACCESS_LOG_SAMPLE: 'KUBEFAAS_ACCESS_LOG_SAMPLE',
  /** Router: 'off' serves every request with node:http (the raw-socket fast path is on by default). */
  ROUTER_FAST_PATH: 'KUBEFAAS_ROUTER_FAST_PATH',
} as const;

/** Where the synthesized pods mount the ConfigMaps that carry our code and data. */
export const Paths = {
  runtimeDir: '/var/kubefaas/runtime',
  runtimeFile: 'runtime.js',
  functionDir: '/var/kubefaas/function',
  functionFile: 'index.js',
  routerDir: '/var/kubefaas/router',
  routerFile: 'router.js',
  routesDir: '/var/kubefaas/routes',
  routesFile: 'routes.json',
  /** The cron sender (lib/pod/cron.js) a CronTrigger's CronJob runs, from the `kubefaas-cron` ConfigMap. */
  cronDir: '/var/kubefaas/cron',
  cronFile: 'cron.js',
  tmpDir: '/tmp',
} as const;

/** HTTP endpoints served by every runtime and router process (never routed to handlers). */
export const Endpoints = {
  health: '/healthz',
  ready: '/readyz',
  metrics: '/metrics',
} as const;

/**
 * The router serves every function at `/function/<name>` and `/function/<name>/<rest>` (any method).
 * Routes under this prefix, or on the `Endpoints` paths, would be shadowed, so the route table rejects them.
 */
export const FUNCTION_PATH_PREFIX = '/function/';

/**
 * With a queue, the router accepts async calls at `POST /async-function/<name>[/<rest>]` (202 +
 * `X-Call-Id`) and reports them at `GET /async-function/<name>/<call-id>`.
 */
export const ASYNC_FUNCTION_PATH_PREFIX = '/async-function/';

/** Labels and annotations kubefaas puts on the objects it synthesizes. */
export const Labels = {
  partOf: 'app.kubernetes.io/part-of',
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  /** Stable selector label of a function's pods (value: the function name). */
  function: 'kubefaas.dev/function',
  /** Stable selector label of a platform component's pods (value: e.g. `router`). */
  platformComponent: 'kubefaas.dev/component',
} as const;

export const Annotations = {
  /** Hash of the code a pod runs; changing code changes the pod template and rolls the Deployment. */
  codeHash: 'kubefaas.dev/code-hash',
  /**
   * ContainerFunction only: JSON array of the command the local runner starts instead of the image
   * (a laptop has no container runtime). Ignored by Kubernetes.
   */
  localCommand: 'kubefaas.dev/local-command',
} as const;

export const PART_OF = 'kubefaas';

/** Request headers the router and runtime read or set. */
export const Headers = {
  requestId: 'x-request-id',
  traceparent: 'traceparent',
  callId: 'x-call-id',
  callbackUrl: 'x-callback-url',
  /** Set by the router on proxied requests: the function the route resolved to. */
  functionName: 'x-kubefaas-function',
  /** Set by the router: path parameters of the matched route, as URI-encoded JSON (`{"id":"42"}`). */
  params: 'x-kubefaas-params',
} as const;

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
export const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** One function the router can reach. */
export interface RouteTarget {
  /** Base URL of the function's Service, e.g. `http://hello.faas.svc.cluster.local:80`. */
  readonly url: string;
  /** Per-request timeout the router applies to this function, in milliseconds. */
  readonly timeoutMs: number;
}

/** One HTTP trigger: requests matching method + path (+ host) go to `function`. */
export interface Route {
  readonly function: string;
  readonly methods: readonly HttpMethod[];
  /** find-my-way syntax: `/users/:id`, `/files/*`. */
  readonly path: string;
  /** Exact host (without port); absent = any host. */
  readonly host?: string;
}

/** The route table the router serves, generated at synth time into a ConfigMap. */
export interface RouteTable {
  readonly version: 1;
  readonly functions: { readonly [name: string]: RouteTarget };
  readonly routes: readonly Route[];
}

/** Prometheus metric names: stable, documented in docs/metrics.md. */
export const MetricNames = {
  functionInvocations: 'kubefaas_function_invocations_total',
  functionDuration: 'kubefaas_function_duration_seconds',
  functionInFlight: 'kubefaas_function_in_flight',
  functionColdStarts: 'kubefaas_function_cold_starts_total',
  routerRequests: 'kubefaas_router_requests_total',
  routerUpstreamDuration: 'kubefaas_router_upstream_duration_seconds',
  routerRequestDuration: 'kubefaas_router_request_duration_seconds',
  // Emitted by the queue consumer (events issue); named here now so alert rules and dashboards can
  // reference them. Labels are documented in docs/metrics.md and src/metrics/catalog.ts.
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
} as const;

/** Service DNS name of a Service in the cluster. */
export function serviceHost(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.cluster.local`;
}

// ---------------------------------------------------------------------------------------------
// Queue (NATS JetStream): triggers, async invocation and cron delivery.
// ---------------------------------------------------------------------------------------------

/** Environment variables of the queue side of the runtime and router. */
export const QueueEnv = {
  /** NATS URL(s), comma separated, e.g. `nats://kubefaas-nats.faas.svc.cluster.local:4222`. */
  NATS_URL: 'KUBEFAAS_NATS_URL',
  /** JSON `QueueConfig`: stream names, limits and retention, shared by every component. */
  QUEUE_CONFIG: 'KUBEFAAS_QUEUE_CONFIG',
  /** JSON `QueueSubscription[]`: what this function's runtime consumes (topics, async, cron). */
  SUBSCRIPTIONS: 'KUBEFAAS_SUBSCRIPTIONS',
} as const;

/** Streams, limits and retention, rendered from the constructs and created idempotently at startup. */
export interface QueueConfig {
  /** Stream holding user topics: subjects `<topicsPrefix>.>`. */
  readonly topicsStream: string;
  readonly topicsPrefix: string;
  /** Stream holding async calls and cron ticks: subjects `<asyncPrefix>.<function>` / `<cronPrefix>.<function>.<trigger>`. */
  readonly callsStream: string;
  readonly asyncPrefix: string;
  readonly cronPrefix: string;
  /** Key-value bucket holding async call states (queued/running/succeeded/failed), with a TTL. */
  readonly callsBucket: string;
  /** How long messages are kept in the streams, in milliseconds. */
  readonly maxAgeMs: number;
  /** How long async call states stay readable, in milliseconds. */
  readonly callStateTtlMs: number;
  /** Stream size limit in bytes (-1 = unlimited). */
  readonly maxBytes: number;
  /** JetStream replicas of each stream (1, or 3 when clustered). */
  readonly replicas: number;
}

/** One thing a function's runtime consumes from JetStream. */
export interface QueueSubscription {
  readonly kind: 'topic' | 'async' | 'cron';
  /** Full subject consumed, e.g. `topics.orders` or `async.hello`. */
  readonly subject: string;
  /** Durable consumer name (unique per function + subject). */
  readonly durable: string;
  /** Name shown in events and metrics: the topic, `async`, or the cron trigger's name. */
  readonly trigger: string;
  /** Maximum messages handled at once (1 when ordered). */
  readonly maxInFlight: number;
  /** Ack wait in milliseconds (derived from the function timeout). */
  readonly ackWaitMs: number;
  /** Deliveries after the first before the message is dead-lettered. */
  readonly maxRetries: number;
  /** Redelivery delays in milliseconds, one per retry (the last repeats). */
  readonly backoffMs: readonly number[];
  /** Subject the handler's result is published to, if any. */
  readonly responseSubject?: string;
  /** Subject failed messages go to after the last retry (dead-letter), if any. */
  readonly deadLetterSubject?: string;
  /** Process one message at a time, in order. */
  readonly ordered: boolean;
}

/**
 * Environment of the cron sender (lib/pod/cron.js) that a CronTrigger's CronJob runs once per tick.
 * With a queue it also gets QueueEnv.NATS_URL and QueueEnv.QUEUE_CONFIG and publishes the tick to
 * `cronSubject(config, FUNCTION, TRIGGER)`; without one it gets ROUTER_URL and POSTs the tick to
 * `<ROUTER_URL>/function/<FUNCTION>`.
 */
export const CronEnv = {
  /** Name of the function the tick is for. */
  FUNCTION: 'KUBEFAAS_CRON_FUNCTION',
  /** Name of the cron trigger (unique per function); the event `type`/`source` name it. */
  TRIGGER: 'KUBEFAAS_CRON_TRIGGER',
  /** The schedule, informational (the CronJob controller does the scheduling). */
  SCHEDULE: 'KUBEFAAS_CRON_SCHEDULE',
  /** IANA time zone of the schedule, when one was given. */
  TIME_ZONE: 'KUBEFAAS_CRON_TIME_ZONE',
  /** Body of the tick event (JSON text), when the trigger has `data`. */
  DATA: 'KUBEFAAS_CRON_DATA',
  /** Router base URL (platform without a queue), e.g. `http://kubefaas-router.faas.svc.cluster.local:80`. */
  ROUTER_URL: 'KUBEFAAS_ROUTER_URL',
  /** Milliseconds the sender waits for the function (router delivery) or for the publish ack. */
  TIMEOUT_MS: 'KUBEFAAS_CRON_TIMEOUT_MS',
  /**
   * Optional: the Job's name (downward API label `batch.kubernetes.io/job-name`). Unique per scheduled
   * run, so it becomes the tick's id and Nats-Msg-Id: a retried Job pod cannot deliver the tick twice.
   */
  JOB_NAME: 'KUBEFAAS_CRON_JOB_NAME',
} as const;
