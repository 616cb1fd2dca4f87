/**
 * Scale to zero (issue 10): how the router (data plane, the activator) and the scaler (control
 * plane, src/scaler/) talk, and how the constructs wire KEDA's ScaledObjects to the scaler.
 *
 * The router answers both paths on its admin port (ROUTER_ADMIN_PORT), never on the public one.
 */

/**
 * Port of the router's admin listener: /metrics, /healthz, /readyz, the scaling endpoints below and
 * the internal by-name/async path (`/function/<name>`, `/async-function/<name>` for every function:
 * routes.ts). Never behind an exposure; in clusters the `kubefaas-router-admin` Service.
 */
export const ROUTER_ADMIN_PORT = 8081;

/** Port the scaler's gRPC server (KEDA's `externalscaler.ExternalScaler` service) listens on. */
export const SCALER_GRPC_PORT = 9090;
/** Port of the scaler's own /healthz, /readyz and /metrics. */
export const SCALER_ADMIN_PORT = 8081;
/**
 * Name of the scaler's gRPC container port and Service port (its admin port is named
 * ADMIN_PORT_NAME, like the router's): the local runner maps them by name.
 */
export const SCALER_GRPC_PORT_NAME = 'grpc';

export const ScalingPaths = {
  /** GET on the router admin port: `RouterDemandSnapshot` JSON. */
  counts: '/scaling/v1/counts',
  /**
   * GET on the router admin port: a stream of newline-delimited `RouterScalingEvent` JSON lines. An
   * `activate` line is written the moment a request starts waiting for a function with no ready
   * endpoint; a `heartbeat` line every `heartbeatMs`, so a reader notices a dead router.
   */
  watch: '/scaling/v1/watch',
  /**
   * PUT `<endpoints>/<function>` on the router admin port, body `PushedEndpoints`: the function's
   * ready endpoints right now. Served only when the router's endpoint source is `push`
   * (`ActivatorEnv.ENDPOINTS`): the local runner reports its processes' readiness this way, the
   * moment a process passes its readiness probe or exits, so a cold start waits for no poll.
   * Answers 204; 400 for a bad body, 404 when the source is not `push`.
   */
  endpoints: '/scaling/v1/endpoints',
} as const;

/** Body of a PUT to `ScalingPaths.endpoints`. */
export interface PushedEndpoints {
  /**
   * `host:port` of every ready endpoint of the function (empty: none is ready). The router counts
   * them as the function's ready endpoints and sends the function's requests to them in turn (round
   * robin; an endpoint left out gets no new request). With none pushed (or an empty list), requests
   * go to the function's URL in the route table.
   */
  readonly ready: readonly string[];
}

/** Where the router learns which functions have ready endpoints (`ActivatorEnv.ENDPOINTS`). */
export const EndpointSources = {
  /**
   * Watch the EndpointSlices of the router's namespace through the Kubernetes API (the pod's
   * service-account token and CA; RBAC: get, list, watch on `discovery.k8s.io` endpointslices).
   * A function's endpoints are those of the Service named like it.
   */
  kubernetes: 'kubernetes',
  /** Endpoints are PUT to `ScalingPaths.endpoints` (the local runner). */
  push: 'push',
} as const;
export type EndpointSource = (typeof EndpointSources)[keyof typeof EndpointSources];

/** What one router replica sees of one function right now. */
export interface FunctionDemand {
  /** Requests forwarded to the function and not yet answered (sync, by-name and async enqueue excluded). */
  readonly inFlight: number;
  /** Requests held by the activator because the function has no ready endpoint. */
  readonly waiting: number;
  /** Requests routed to the function since the router started (monotonic; rate = difference over time). */
  readonly requestsTotal: number;
  /**
   * Ready endpoints the router currently knows for the function; -1 when it knows nothing about
   * them (no endpoint source configured, or nothing heard for the function yet).
   */
  readonly readyEndpoints: number;
}

/** Body of `ScalingPaths.counts`. */
export interface RouterDemandSnapshot {
  /** Stable id of the router replica (its pod name in clusters, a process id locally). */
  readonly router: string;
  /** Milliseconds since the epoch when the snapshot was taken. */
  readonly at: number;
  readonly functions: { readonly [functionName: string]: FunctionDemand };
}

/** One line of `ScalingPaths.watch`. */
export type RouterScalingEvent =
  | { readonly type: 'activate'; readonly router: string; readonly function: string; readonly at: number }
  | { readonly type: 'heartbeat'; readonly router: string; readonly at: number };

/** Interval of the watch stream's heartbeat line. */
export const SCALING_HEARTBEAT_MS = 5_000;

/**
 * KEDA trigger types of a function's ScaledObject (`keda.sh/v1alpha1`). The scaler answers the
 * `external-push` (and `external`) triggers; `nats-jetstream` is KEDA's own (a QueueTrigger's lag).
 * The local runner reads the same ScaledObjects and plays KEDA's part (docs/local-runner.md).
 */
export const KedaTriggerTypes = {
  externalPush: 'external-push',
  external: 'external',
  natsJetStream: 'nats-jetstream',
} as const;

/** KEDA's `nats-jetstream` trigger metadata keys the local runner reads (KEDA's names). */
export const NatsJetStreamMetadata = {
  stream: 'stream',
  consumer: 'consumer',
  /** Pending messages per replica (decimal string; KEDA's default 10). */
  lagThreshold: 'lagThreshold',
} as const;

/** KEDA's defaults for a ScaledObject that leaves them out. */
export const KedaDefaults = {
  /** `spec.cooldownPeriod`: seconds without activity before the last replica is removed (scale to zero). */
  cooldownPeriodSeconds: 300,
  /** `nats-jetstream` `lagThreshold`. */
  lagThreshold: 10,
  /** The HPA's scale-down stabilization window (`behavior.scaleDown.stabilizationWindowSeconds`). */
  scaleDownStabilizationSeconds: 300,
} as const;

/** Keys of a ScaledObject's `external` / `external-push` trigger `metadata` the scaler reads. */
export const ScalerMetadata = {
  /** The function the ScaledObject scales (required). */
  function: 'function',
  /** Target in-flight + waiting requests per replica (decimal string). */
  targetConcurrency: 'targetConcurrency',
  /** Target requests per second per replica (decimal string); used instead of concurrency when set. */
  targetRps: 'targetRps',
} as const;

/** Environment of the scaler process (src/scaler/). */
export const ScalerEnv = {
  /** gRPC port (default SCALER_GRPC_PORT). */
  GRPC_PORT: 'KUBEFAAS_SCALER_GRPC_PORT',
  /** Admin port (default SCALER_ADMIN_PORT). */
  ADMIN_PORT: 'KUBEFAAS_SCALER_ADMIN_PORT',
  /**
   * How the scaler finds router replicas. Either `dns:<headless-service-host>:<port>` (clusters: the
   * name is re-resolved every few seconds, each A record is one router) or a comma-separated list of
   * `host:port` (the local runner).
   */
  ROUTERS: 'KUBEFAAS_SCALER_ROUTERS',
  /**
   * Milliseconds between two polls of each router's counts (default 1000). A router whose counts
   * could not be read for three intervals is left out of every answer.
   */
  POLL_INTERVAL_MS: 'KUBEFAAS_SCALER_POLL_INTERVAL_MS',
  /** Milliseconds between two resolutions of a `dns:` router name (default 5000). */
  DISCOVERY_INTERVAL_MS: 'KUBEFAAS_SCALER_DISCOVERY_INTERVAL_MS',
  /** Window of the request rate (`targetRps`) and of "had requests recently" (activity), ms (default 10000). */
  RATE_WINDOW_MS: 'KUBEFAAS_SCALER_RATE_WINDOW_MS',
} as const;

/** Target in-flight + waiting requests per replica when a ScaledObject names neither target. */
export const DEFAULT_TARGET_CONCURRENCY = 100;

/** Environment the router's activator reads. */
export const ActivatorEnv = {
  /**
   * Router admin port. The constructs set ROUTER_ADMIN_PORT; unset = no admin listener (a bare
   * process, e.g. in tests); 0 = a free port, logged in the `admin listening` line.
   */
  ADMIN_PORT: 'KUBEFAAS_ADMIN_PORT',
  /** Stable id of this router replica in scaling snapshots (pod name via the downward API). Default: `<hostname>-<pid>`. */
  ROUTER_ID: 'KUBEFAAS_ROUTER_ID',
  /**
   * Where ready endpoints come from: an `EndpointSource`. Unset = nowhere: every function counts
   * as ready and no request is held (a `minReplicas: 0` function then gets a warning at table load).
   */
  ENDPOINTS: 'KUBEFAAS_ENDPOINTS',
  /**
   * Directory of the service-account token, `ca.crt` and `namespace` (source `kubernetes`).
   * Default: /var/run/secrets/kubernetes.io/serviceaccount. The API server address comes from the
   * standard KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT.
   */
  SERVICE_ACCOUNT_DIR: 'KUBEFAAS_SERVICE_ACCOUNT_DIR',
} as const;
