import { ApiObject, Chart, Duration, JsonPatch, Lazy, Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import {
  ADMIN_PORT_NAME,
  ActivatorEnv,
  Annotations,
  DEFAULT_CLUSTER_DOMAIN,
  CONTAINER_PORT,
  Endpoints,
  Env,
  HttpMethod,
  Labels,
  Paths,
  QueueEnv,
  ROUTER_ADMIN_PORT,
  ROUTER_ADMIN_SERVICE,
  ROUTER_NAME,
  EndpointSources,
  RouteScaling,
  RouteTable,
  RouteTarget,
  SERVICE_PORT,
  routeShape,
  serviceHost,
} from '../src/contract';
import { Defaults, Limits } from './defaults';
import { EnvInput } from './env';
import { ValidationError, validationMessage } from './errors';
import { objectMeta } from './metadata';
import { CodeConfigMap } from './code-config-map';
import { warnAboutLargeObjects } from './apply-size';
import { podBundle } from './pod-code';
import { RouterExposure } from './exposure';
import { RouterTls, routerCertificate } from './router-tls';
import { publicPaths } from './public-paths';
import { ScalingOptions, resolveFunctionScaling, resolveScaling } from './scaling';
import { Autoscaling, KedaScaler, RouterScalingAccess, kedaPods, type ResolvedKeda } from './autoscaling';
import { validateImage } from './image';
import {
  cpuMillis,
  durationMillis,
  sizeBytes,
  validateClusterDomain,
  validateInteger,
  validateNamespaceName,
} from './validation';
import { shutdownEnv, shutdownTiming } from './shutdown';
import { Workload, httpProbe } from './workload';
import { Queue } from './queue/nats-queue';
import {
  queueAuthEnv,
  queueClientVolumes,
  queueConfigJson,
  queueEnv,
  queueOf,
  type QueueBinding,
  type QueueConsumer,
} from './queue/registry';
import { NatsUserNames } from './queue/nats-auth';
import { NatsPorts } from './queue/names';
import { FargateProfile, FargateProfileDefinition, FargateProfileSelector } from './placement/fargate-profile';
import { Placement } from './placement/placement';
import { placeComponent } from './placement/component';
import { FunctionAlertOptions, Metrics, MetricsBinding, NetworkPolicyPeerSpec } from './metrics';
import { COMMON_LABELS } from './metadata';
import { CallbackPolicy } from './router-policies/callback-policy';
import { type CorsOptions, corsPolicy } from './router-policies/cors';
import { RateLimit } from './router-policies/rate-limit';
import { RouterAuth } from './router-policies/router-auth';
import { routerClientTimeoutEnv } from './router-client-timeouts';
import {
  ROUTER_SECRETS_DIR,
  type CallbackUrlPolicy,
  type PublicInvocation,
  type RoutePolicies,
  type PlatformPolicies,
} from '../src/contract';
import { Egress, egressList } from './network/egress';
import { NetworkPolicies, type ResolvedNetwork } from './network/network-policies';
import { networkPolicyObject } from './network/policy-object';
import { ROUTER_PODS, SCALER_PODS, routerNetworkPolicy } from './network/router-policy';
import type { PeerSpec } from './network/spec';
import {
  appOutdir,
  buildGraph,
  checkGraph as checkGraphProblems,
  graphEntries,
  graphFile,
  writeGraphFiles,
} from './graph';
import type { GraphInput } from './graph';
import { warn } from './placement/warnings';
import type { PlatformGraph } from '../src/contract';

/** Platform-wide defaults; each function may override them. */
export interface FunctionDefaults {
  /**
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * @default Size.mebibytes(128)
   */
  readonly memory?: Size;
  /**
   * @default Cpu.millis(100)
   */
  readonly cpu?: Cpu;
  /**
   * Concurrent requests per replica (NodeFunction); 0 = unlimited.
   * @default 0
   */
  readonly maxConcurrency?: number;
  /**
   * Largest accepted request body (NodeFunction).
   * @default Size.mebibytes(6)
   */
  readonly maxBodySize?: Size;
  /**
   * Size limit of each function's writable `/tmp` (an emptyDir; the pod is evicted when it outgrows it).
   * @default Size.mebibytes(512)
   */
  readonly tmpSize?: Size;
  /**
   * @default - 1 replica, no autoscaling
   */
  readonly scaling?: ScalingOptions;
  /**
   * Environment variables of every function (a function's own `env` wins on the same name).
   * @default - none
   */
  readonly env?: Readonly<Record<string, EnvInput>>;
  /**
   * Where functions run: regular nodes, AWS Fargate, AKS virtual nodes, or burst (docs/placement.md).
   * @default Placement.regularNodes()
   */
  readonly placement?: Placement;
  /**
   * Egress of every function (a function's own `egress` replaces it).
   * @default - none: DNS and the queue only
   */
  readonly egress?: Egress | readonly Egress[];
}

/** Replica bounds: an HPA is created when max > min. */
export interface ReplicaRange {
  /**
   * Replicas kept running (1..1000).
   * @default 2
   */
  readonly min?: number;
  /**
   * Upper bound for the HorizontalPodAutoscaler (min..1000).
   * @default - min (no autoscaling)
   */
  readonly max?: number;
  /**
   * Average CPU utilization (percent of the request, 1..100) the HPA aims for.
   * @default 80
   */
  readonly targetCpuUtilization?: number;
}

/** CPU request and memory request/limit of a container. */
export interface ResourceOptions {
  /**
   * CPU request (no CPU limit is set, so bursts are not throttled).
   * @default Cpu.millis(100)
   */
  readonly cpu?: Cpu;
  /**
   * Memory request and limit.
   * @default Size.mebibytes(128)
   */
  readonly memory?: Size;
}

/** Recycling of the router's keep-alive connections to functions. */
export interface UpstreamConnectionOptions {
  /**
   * Age after which a connection takes no new request (each connection's limit is jittered ±10 %).
   * 1 s .. 24 h.
   * @default Duration.seconds(30)
   */
  readonly maxAge?: Duration;
  /**
   * Requests after which a connection is closed. 1 .. 100,000,000.
   * @default 1000
   */
  readonly maxRequests?: number;
}

export interface RouterOptions {
  /**
   * Router replicas; a PodDisruptionBudget is created when min ≥ 2.
   * @default { min: 2, max: 2 }
   */
  readonly replicas?: ReplicaRange;
  /**
   * Resources of each router replica.
   * @default { cpu: Cpu.millis(100), memory: Size.mebibytes(128) }
   */
  readonly resources?: ResourceOptions;
  /**
   * How clients reach the router.
   * @default RouterExposure.clusterIp()
   */
  readonly exposure?: RouterExposure;
  /**
   * Where the router's pods run, independently of the functions.
   * @default Placement.regularNodes()
   */
  readonly placement?: Placement;
  /**
   * Serve simple requests (no body or a small Content-Length one) on the router's raw-socket fast
   * path, in front of node:http. Turn it off to have node:http parse every request — the same
   * behaviour at about twice the router CPU per request. The router also turns it off by itself
   * when the node version's HTTP parser cannot be used that way.
   * @default true
   */
  readonly fastPath?: boolean;
  /**
   * How long a client may take to send a request's head, from its first byte (from connecting, for
   * a connection's first request). Slower clients (slowloris) get 408 and are closed, on both router
   * paths. 1 s..5 min.
   * @default Duration.seconds(10)
   */
  readonly headersTimeout?: Duration;
  /**
   * How long a client may take to send a request's body once its head is in. Slower clients get 408
   * (unless the function already answered) and are closed. Raise it for large uploads over slow
   * links: the default body limit (6 MiB) in 30 s needs about 200 KiB/s. 1 s..1 h.
   * @default Duration.seconds(30)
   */
  readonly bodyTimeout?: Duration;
  /**
   * Largest request head (request line and headers) the router reads, on both of its paths; a larger
   * one is answered 431. 1 KiB..16 KiB (whole bytes): the runtimes read at most 16 KiB (node's default),
   * so a larger router limit would only move the 431 to the function.
   * @default Size.kibibytes(16)
   */
  readonly maxHeaderSize?: Size;
  /**
   * When the router retires a keep-alive connection to a function. Kubernetes Services balance
   * connections, not requests, so a connection kept forever keeps sending to the replica it first
   * reached: recycling them is what lets a new replica (scale-up, rollout) get its share.
   * @default { maxAge: Duration.seconds(30), maxRequests: 1000 }
   */
  readonly upstreamConnections?: UpstreamConnectionOptions;
  /**
   * Authentication of every route, `/function/<name>` and `/async-function/<name>`; an HttpTrigger's
   * `auth` overrides it for its route (docs/security.md).
   * @default RouterAuth.none()
   */
  readonly auth?: RouterAuth;
  /**
   * Rate limits of every request (per router replica: effective limit = limit × replicas).
   * @default - none
   */
  readonly rateLimit?: RateLimit | readonly RateLimit[];
  /**
   * Which browser origins may call every route, `/function/<name>` and `/async-function/<name>`
   * (an HttpTrigger's `cors` replaces it for its route). The router answers preflights itself,
   * before auth, and adds the CORS headers to every answer, 401 and 429 included (docs/security.md).
   * @default - no CORS: OPTIONS requests reach the functions, no CORS headers are added
   */
  readonly cors?: CorsOptions;
  /**
   * Proxies in front of the router that append to X-Forwarded-For (per-client limits read the
   * client address that many hops from the right). 0..32.
   * @default 0
   */
  readonly trustedProxies?: number;
  /**
   * Where async calls' callbacks (`X-Callback-Url`) may go. Denied by default: an async call with a
   * callback URL gets a 400 naming this setting. Function pods need egress to the allowed hosts.
   * @default CallbackPolicy.deny()
   */
  readonly callbacks?: CallbackPolicy;
  /**
   * More destinations for the router besides DNS, the functions, the queue and public JWKS hosts
   * (e.g. an in-cluster JWKS: `Egress.namespace('auth', { ports: [NetworkPort.tcp(8080)] })`).
   * @default - none
   */
  readonly egress?: Egress | readonly Egress[];
  /**
   * HTTPS on the exposure, terminated by the Gateway (`gatewayApi` with `gatewayClassName`) or the
   * Ingress controller, with plain HTTP redirected to HTTPS: `RouterTls.certManager({ issuer, hosts })`
   * or `RouterTls.secret(name, hosts)`. Refused for `clusterIp` and `loadBalancer` exposures (the
   * router itself speaks plain HTTP).
   * @default - no TLS
   */
  readonly tls?: RouterTls;
}

/** The namespace of a platform. */
export interface NamespaceOptions {
  /**
   * @default 'kubefaas'
   */
  readonly name?: string;
  /**
   * Create the namespace (with the `restricted` Pod Security Standard enforced). Set false to
   * deploy into an existing namespace.
   * @default true
   */
  readonly createNamespace?: boolean;
}

export interface PlatformProps {
  /**
   * Namespace of every object of the platform: a name, or the name and whether to create it.
   * @default { name: 'kubefaas', createNamespace: true }
   */
  readonly namespace?: string | NamespaceOptions;
  /**
   * DNS domain of the cluster (the kubelet's `--cluster-domain`), used in every in-cluster address the
   * platform writes (router → function Services, NATS URLs and routes, cron and callback targets).
   * @default 'cluster.local'
   */
  readonly clusterDomain?: string;
  /**
   * Image of the router and of every NodeFunction (an official node image, pinned).
   * @default 'node:22.20.0-alpine'
   */
  readonly nodeImage?: string;
  /**
   * @default - see RouterOptions
   */
  readonly router?: RouterOptions;
  /**
   * @default - see FunctionDefaults
   */
  readonly functionDefaults?: FunctionDefaults;
  /**
   * A durable queue (NATS JetStream) for QueueTriggers, async invocation
   * (`POST /async-function/<name>`) and cron ticks delivered through the queue (docs/events.md).
   * @default - no queue: QueueTriggers fail synth, CronTriggers deliver through the router
   */
  readonly queue?: Queue;
  /**
   * Where the queue's servers run, independently of the functions. Providers that cannot mount
   * the queue's persistent volumes (Fargate, AKS virtual nodes v1; v2 unless Azure Files) are
   * refused at synth.
   * @default Placement.regularNodes()
   */
  readonly queuePlacement?: Placement;
  /**
   * Monitoring: a bundled Prometheus (`Metrics.prometheus()`), prometheus-operator objects for an
   * existing Prometheus (`Metrics.operator()`), or nothing. The runtime and router serve `/metrics`
   * in every case (docs/metrics.md). Off by default because a bundled Prometheus claims a
   * persistent volume and most clusters that care already run a Prometheus (use `operator` there).
   * @default Metrics.none()
   */
  readonly metrics?: Metrics;
  /**
   * Where a bundled Prometheus (and Alertmanager) runs, independently of the functions. Like the
   * queue, its persistent volume is refused on providers that cannot mount it.
   * @default Placement.regularNodes()
   */
  readonly metricsPlacement?: Placement;
  /**
   * What scales the functions: an HPA per autoscaled function on CPU (`Autoscaling.hpa()`), or
   * KEDA (`Autoscaling.keda()`, installed in the cluster beforehand), which scales on the requests
   * the routers see and on queue lag, down to zero for functions with `minReplicas: 0`
   * (docs/scaling.md). KEDA adds the scaler Deployment, and the router then watches the
   * namespace's EndpointSlices (its own ServiceAccount and Role).
   * @default Autoscaling.hpa()
   */
  readonly autoscaling?: Autoscaling;
  /**
   * NetworkPolicies: every component always gets one for ingress and egress (the data paths of
   * docs/architecture.md, nothing else); `NetworkPolicies.defaultDeny()` also denies all traffic to
   * and from every other pod of the namespace. Options say where DNS and the API server are and
   * who may reach the router and Prometheus (docs/security.md, Network).
   * @default NetworkPolicies.perComponent()
   */
  readonly networkPolicies?: NetworkPolicies;
}

/** One HTTP route claimed by a function; the platform turns all of them into the route table. */
export interface HttpRoute {
  readonly function: PlatformFunction;
  readonly methods: readonly HttpMethod[];
  readonly path: string;
  readonly host?: string;
}

/** Escape hatches to the router's objects (`platform.router`), for `addJsonPatch`. */
export interface RouterObjects {
  readonly deployment: ApiObject;
  /** The Service of the public port (what the exposure points at). */
  readonly service: ApiObject;
  /**
   * The ClusterIP Service `kubefaas-router-admin` of the admin port: health, metrics and the
   * internal by-name/async path. Never exposed.
   */
  readonly adminService: ApiObject;
  /** The `kubefaas-routes` ConfigMap (the route table, rendered at synth). */
  readonly routes: ApiObject;
}

const PLATFORM_BRAND = Symbol.for('kubefaas.Platform');

/**
 * What a platform needs to know of each of its functions (FunctionBase has all of it). An interface
 * rather than the class: the functions import the platform, so the platform must not import them.
 */
export interface PlatformFunction extends QueueConsumer {
  readonly functionName: string;
  /** In-cluster URL of the function's Service. */
  readonly url: string;
  readonly timeout: Duration;
  readonly timeoutMillis: number;
  /** Replica bounds; with KEDA also what the router's activator needs (the route table's `scaling`). */
  readonly scaling: {
    readonly minReplicas: number;
    readonly activationTimeoutMs?: number;
    readonly holdQueueLimit?: number;
  };
  readonly alerts?: FunctionAlertOptions;
  /** Whether the pods serve kubefaas metrics on `/metrics`. */
  readonly servesMetrics: boolean;
  /** The request body limit the function's runtime enforces (bytes); the router enforces it too. Absent: no limit known (a container). */
  readonly maxBodyBytes?: number;
  /** Names of the functions it declared in `invokes`. */
  readonly invokes: readonly string[];
  /** Public by-name / async invocation (read at synth); undefined = only the function's routes are public. */
  readonly publicInvocation?: PublicInvocation;
}

/** One HTTP route claimed by a function; the platform turns all of them into the route table. */
export interface HttpRoute {
  readonly function: PlatformFunction;
  readonly methods: readonly HttpMethod[];
  readonly path: string;
  readonly host?: string;
  /** The trigger's own auth / rate limits / CORS. */
  readonly auth?: RouterAuth;
  readonly rateLimit?: RateLimit | readonly RateLimit[];
  readonly cors?: CorsOptions;
}

export const ROUTES_CONFIGMAP = 'kubefaas-routes';
/** NetworkPolicy isolating every pod of the namespace (`NetworkPolicies.defaultDeny()`). */
export const DEFAULT_DENY_POLICY = 'kubefaas-default-deny';
/** NetworkPolicy of the cron senders' pods. */
export const CRON_POLICY = 'kubefaas-cron';
/** Pods of the cron senders (CronJob pods). */
const CRON_PODS: PeerSpec = { podSelector: { matchLabels: { [Labels.platformComponent]: 'cron' } } };
const tcpPort = (port: number) => [{ protocol: 'TCP' as const, port }];
export const RUNTIME_CONFIGMAP = 'kubefaas-runtime';

/**
 * A FaaS platform in one namespace: the router, the shared Node runtime and the functions added to
 * it (as children, or from other charts with the `platform` prop). The route table is generated at
 * synth from the HTTP triggers of all functions.
 */
export class Platform extends Chart {
  /** True for Platforms, also across copies of the library (Symbol.for is process-wide). */
  public static isPlatform(x: unknown): x is Platform {
    return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[PLATFORM_BRAND] === true;
  }

  /** Chart makes `instanceof` true for any chart; a Platform check must look at the brand. */
  public static override [Symbol.hasInstance](x: unknown): x is Platform {
    return Platform.isPlatform(x);
  }

  /** The nearest Platform at or above `scope`, if any. */
  public static find(scope: IConstruct): Platform | undefined {
    for (let c: IConstruct | undefined = scope; c; c = c.node.scope) {
      if (Platform.isPlatform(c)) return c;
    }
    return undefined;
  }

  /** Namespace of every object of the platform. */
  declare public readonly namespace: string;
  /** DNS domain of the cluster, in every in-cluster address the platform writes. */
  public readonly clusterDomain: string;
  public readonly nodeImage: string;
  public readonly functionDefaults: FunctionDefaults;
  /** The router's in-cluster URL (its public port). */
  public readonly routerUrl: string;
  /**
   * The router's admin URL (`kubefaas-router-admin`): where internal callers reach every function
   * by name and async, whatever its public `invocation` (the cron sender of a platform without a queue).
   */
  public readonly routerAdminUrl: string;
  /** Escape hatch: the router's Deployment, Service and route-table ConfigMap. */
  public readonly router: RouterObjects;
  /** What scales the functions (`autoscaling` prop). */
  public readonly autoscaling: Autoscaling;
  /** With `Autoscaling.keda()`: the scaler's objects (Deployment, Service), for escape hatches. */
  public readonly scaler?: KedaScaler;
  /**
   * `Autoscaling.keda()` in checked form; undefined with HPAs.
   * @internal
   */
  public readonly _keda?: ResolvedKeda;

  private readonly _functions: PlatformFunction[] = [];
  /** How the platform is monitored. */
  public readonly metrics: Metrics;
  private readonly metricsBinding: MetricsBinding;
  private readonly functionsByName = new Map<string, PlatformFunction>();
  private readonly _routes: HttpRoute[] = [];
  private runtimeConfigMap?: CodeConfigMap;
  private routerOptions: RouterOptions = {};
  /**
   * The NetworkPolicies options in rendered form.
   * @internal
   */
  public readonly network: ResolvedNetwork;
  /** How the platform's cron senders deliver ticks (their NetworkPolicy follows). */
  private readonly cronDelivery = new Set<'queue' | 'router'>();
  private readonly _fargateProfiles = new Map<
    string,
    { readonly profile: FargateProfile; readonly settings: string }
  >();

  constructor(scope: Construct, id: string, props: PlatformProps = {}) {
    props = props ?? {};
    const ns: NamespaceOptions =
      typeof props.namespace === 'string' ? { name: props.namespace } : (props?.namespace ?? {});
    super(scope, id, { disableResourceNameHashes: true, namespace: ns.name ?? Defaults.namespace });
    Object.defineProperty(this, PLATFORM_BRAND, { value: true });
    validateNamespaceName(this, this.namespace);
    this.clusterDomain = validateClusterDomain(this, props.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN);
    this.nodeImage = validateImage(this, 'nodeImage', props.nodeImage ?? Defaults.nodeImage);
    const autoscaling = props.autoscaling ?? Autoscaling.hpa();
    if (!(autoscaling instanceof Autoscaling))
      throw new ValidationError(
        this,
        '`autoscaling` must be an Autoscaling',
        'Use Autoscaling.hpa() or Autoscaling.keda()',
      );
    this.autoscaling = autoscaling;
    this._keda = autoscaling._resolve(this);
    this.functionDefaults = props.functionDefaults ?? {};
    this.checkFunctionDefaults(this.functionDefaults);
    this.routerUrl = `http://${serviceHost(ROUTER_NAME, this.namespace, this.clusterDomain)}:${SERVICE_PORT}`;
    this.routerAdminUrl = `http://${serviceHost(ROUTER_ADMIN_SERVICE, this.namespace, this.clusterDomain)}:${ROUTER_ADMIN_PORT}`;

    if (ns.createNamespace ?? true) {
      const namespace = new ApiObject(this, 'Namespace', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: this.namespace,
          labels: {
            ...objectMeta(this.namespace, this.namespace).labels,
            'pod-security.kubernetes.io/enforce': 'restricted',
          },
        },
      });
      // cdk8s gives every object of a chart the chart's namespace; a Namespace is cluster-scoped.
      namespace.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    }
    const networkPolicies = props.networkPolicies ?? NetworkPolicies.perComponent();
    if (!(networkPolicies instanceof NetworkPolicies))
      throw new ValidationError(
        this,
        '`networkPolicies` must be NetworkPolicies',
        'Use NetworkPolicies.perComponent() or NetworkPolicies.defaultDeny()',
      );
    this.network = networkPolicies._resolve(this, this.namespace);
    if (this.network.defaultDeny) {
      networkPolicyObject(this, 'DefaultDenyNetworkPolicy', {
        name: DEFAULT_DENY_POLICY,
        namespace: this.namespace,
        podSelector: {},
        ingress: () => [],
        egress: () => [],
      });
    }
    if (props.queue !== undefined) {
      if (!(props.queue instanceof Queue))
        throw new ValidationError(this, '`queue` must be a Queue', 'Use e.g. Queue.nats()');
      const binding = props.queue.bind(this);
      const statefulSet = binding.construct.node.tryFindChild('StatefulSet');
      if (props.queuePlacement) {
        if (!ApiObject.isApiObject(statefulSet))
          throw new ValidationError(
            this,
            'queuePlacement: this queue has no StatefulSet to place',
            'Leave queuePlacement unset',
          );
        placeComponent(statefulSet, props.queuePlacement, {
          subject: 'platform component "queue"',
          networkPolicy: true,
        });
      }
    }
    this.router = this.createRouter(props.router ?? {});
    if (this._keda) {
      const keda = this._keda;
      this.scaler = new KedaScaler(this, 'Scaler', {
        namespace: this.namespace,
        clusterDomain: this.clusterDomain,
        nodeImage: this.nodeImage,
        keda,
        network: this.network,
        scrapers: () => this.metricsScrapers,
        fargateSelectors: () => this.fargateSelectorsFor(keda.scaler.placement),
      });
      this.usePlacement(keda.scaler.placement, this.scaler);
    }
    this.metrics = props.metrics ?? Metrics.none();
    this.metricsBinding = this.metrics.bind(this, {
      namespace: this.namespace,
      commonLabels: { ...COMMON_LABELS, [Labels.instance]: this.namespace },
      network: this.network,
      scaler: this.scaler !== undefined,
      functions: () =>
        this._functions.map((f) => ({
          name: f.functionName,
          timeout: f.timeout,
          minReplicas: f.scaling.minReplicas,
          alerts: f.alerts,
          scraped: f.servesMetrics,
        })),
    });
    if (props.metricsPlacement) {
      if (this.metricsBinding.workloads.length === 0) {
        throw new ValidationError(
          this,
          'metricsPlacement: this metrics mode runs no pods of its own to place',
          'Use Metrics.prometheus(), or leave metricsPlacement unset',
        );
      }
      for (const workload of this.metricsBinding.workloads) {
        placeComponent(workload, props.metricsPlacement, {
          subject: `platform component "${workload.name}"`,
          networkPolicy: false,
        });
      }
    }
    this.node.addValidation({ validate: () => this.routeConflicts() });
    this.node.addValidation({ validate: () => this.checkGraph() });
    this.node.addValidation({ validate: () => warnAboutLargeObjects(this) });
  }

  /**
   * Pods that scrape function and router pods (the NetworkPolicies admit them on the container port).
   * @internal
   */
  public get metricsScrapers(): readonly NetworkPolicyPeerSpec[] {
    return this.metricsBinding.scrapers;
  }

  /**
   * `router.callbacks` in its route-table form; undefined when callbacks are denied.
   * @internal
   */
  public get callbackUrlPolicy(): CallbackUrlPolicy | undefined {
    const callbacks = this.routerOptions.callbacks;
    if (callbacks === undefined) return undefined;
    const policy = callbacks.policy(this.node.tryFindChild('Router') ?? this);
    return policy.allow.length === 0 ? undefined : policy;
  }

  /**
   * Pods that connect to the queue (its NetworkPolicy admits them): the router, the cron senders
   * that deliver through it, and the functions that use it.
   * @internal
   */
  public queueClients(): PeerSpec[] {
    const functions = this._functions
      .filter((f) => queueEnv(f).length > 0)
      .map((f) => f.functionName)
      .sort();
    return [
      ROUTER_PODS,
      ...(this.cronDelivery.has('queue') ? [CRON_PODS] : []),
      ...(functions.length > 0
        ? [
            {
              podSelector: { matchExpressions: [{ key: Labels.function, operator: 'In' as const, values: functions }] },
            },
          ]
        : []),
    ];
  }

  /**
   * Pods that read the queue's monitoring port (its NetworkPolicy admits them there): KEDA's, for
   * the `nats-jetstream` triggers of the functions' ScaledObjects.
   * @internal
   */
  public queueMonitorClients(): PeerSpec[] {
    return this._keda ? [kedaPods(this._keda)] : [];
  }

  /**
   * Called by CronTrigger.bind: how its sender delivers ticks. The first call creates the cron
   * senders' NetworkPolicy (no ingress; DNS and the queue or the router out).
   * @internal
   */
  public useCronDelivery(via: 'queue' | 'router'): void {
    if (this.cronDelivery.size === 0) {
      networkPolicyObject(this, 'CronNetworkPolicy', {
        name: CRON_POLICY,
        namespace: this.namespace,
        labels: { [Labels.component]: 'cron' },
        podSelector: { matchLabels: { [Labels.platformComponent]: 'cron' } },
        ingress: () => [],
        egress: () => [
          ...this.network.dns,
          ...(this.cronDelivery.has('queue') && this.queue
            ? [
                {
                  to: [{ podSelector: { matchLabels: { ...this.queue.podSelector } } }],
                  ports: tcpPort(NatsPorts.client),
                },
              ]
            : []),
          // Without a queue, ticks go to the router's admin listener (the internal by-name path).
          ...(this.cronDelivery.has('router') ? [{ to: [ROUTER_PODS], ports: tcpPort(ROUTER_ADMIN_PORT) }] : []),
        ],
      });
    }
    this.cronDelivery.add(via);
  }

  /** The platform's queue (URL, stream config), if it has one. */
  public get queue(): QueueBinding | undefined {
    return queueOf(this);
  }

  /** Functions added to this platform, in the order they were created. */
  public get functions(): readonly PlatformFunction[] {
    return [...this._functions];
  }

  /**
   * The platform graph: routes, cron triggers and async calls into functions, topics between them,
   * declared `publishes` and `invokes` (docs/composition.md). Built from the constructs as they are
   * now; synth writes it next to the manifests.
   */
  public graph(): PlatformGraph {
    return buildGraph(this.graphInput());
  }

  private graphInput(): GraphInput {
    const entries = graphEntries(this);
    return {
      platform: this.node.path,
      namespace: this.namespace,
      functions: this._functions.map((f) => ({
        scope: f,
        name: f.functionName,
        ...(f.publicInvocation !== undefined ? { publicInvocation: f.publicInvocation } : {}),
        publishes: [...f.publishes],
        invokes: [...f.invokes],
      })),
      routes: this._routes.map((r) => ({
        function: r.function.functionName,
        methods: r.methods,
        path: r.path,
        ...(r.host !== undefined ? { host: r.host } : {}),
      })),
      ...entries,
    };
  }

  /**
   * At synth: the graph's errors (unknown `invokes`, cycles through topics) fail it, its warnings
   * (topics without a producer or consumer) are printed, and the first platform of the app writes
   * the graph files of every platform into the app's output directory.
   */
  private checkGraph(): string[] {
    const input = this.graphInput();
    const graph = buildGraph(input);
    const problems = checkGraphProblems(graph, input);
    for (const w of problems.warnings) warn(w.scope, w.rule, w.message);
    const platforms = this.node.root.node.findAll().filter((c): c is Platform => Platform.isPlatform(c));
    const outdir = appOutdir(this);
    if (platforms[0] === this && outdir !== undefined)
      writeGraphFiles(outdir, graphFile(platforms.map((p) => (p === this ? graph : p.graph()))));
    return [...problems.errors];
  }

  /** HTTP routes registered by triggers, in registration order. */
  public get httpRoutes(): readonly HttpRoute[] {
    return [...this._routes];
  }

  /**
   * Called by FunctionBase: adds a function (names are unique per platform).
   * @internal
   */
  public registerFunction(fn: PlatformFunction): void {
    const clash = this.functionsByName.get(fn.functionName);
    if (clash) {
      throw new ValidationError(
        fn,
        `function name '${fn.functionName}' is already used by ${clash.node.path}`,
        'Give one of them another id or `functionName`',
      );
    }
    this._functions.push(fn);
    this.functionsByName.set(fn.functionName, fn);
  }

  /**
   * Called by HttpTrigger.bind: claims a route. Conflicts are reported at synth.
   * @internal
   */
  public addHttpRoute(route: HttpRoute): void {
    this._routes.push(route);
  }

  /**
   * Called for every placement the platform's workloads use: a Fargate placement that carries a
   * profile gets it synthesized (an ACK FargateProfile in the platform namespace), one per profile
   * name, with one selector per distinct label set.
   * @internal
   */
  public usePlacement(placement: Placement, user: IConstruct): void {
    const definition = placement.fargateProfile(this.namespace);
    if (!definition) return;
    const { selectors, ...rest } = definition;
    const settings = JSON.stringify(rest);
    let entry = this._fargateProfiles.get(definition.name);
    if (!entry) {
      entry = {
        profile: new FargateProfile(this, `FargateProfile-${definition.name}`, { ...rest, namespace: this.namespace }),
        settings,
      };
      this._fargateProfiles.set(definition.name, entry);
    } else if (entry.settings !== settings) {
      throw new ValidationError(
        user,
        `Fargate profile "${definition.name}" is defined twice with different settings (${entry.settings} vs ${settings})`,
        'Create the Placement once and share it, or give the second profile another name',
      );
    }
    for (const selector of selectors) entry.profile.addSelector(selector);
    // Fargate places a pod when it is created: a pod created before its profile is ACTIVE lands on
    // regular nodes (or stays Pending) and never moves. So the profile comes first in the manifests and
    // in the Pulumi graph (which waits for ACTIVE, see FargateProfile), and first in Argo CD's sync.
    user.node.addDependency(entry.profile);
  }

  /** The Fargate profiles the platform synthesizes, as plain data (e.g. for the Pulumi stack). */
  public get fargateProfiles(): FargateProfileDefinition[] {
    return [...this._fargateProfiles.values()].map((entry) => entry.profile.definition);
  }

  /**
   * Selectors of the synthesized profile a placement uses (undefined when kubefaas does not manage it).
   * @internal
   */
  public fargateSelectorsFor(placement: Placement): readonly FargateProfileSelector[] | undefined {
    const name = placement.fargateProfile(this.namespace)?.name;
    return name === undefined ? undefined : this._fargateProfiles.get(name)?.profile.definition.selectors;
  }

  /**
   * Name (`kubefaas-runtime-<hash>`) of the shared Node runtime ConfigMap, created on first use (by NodeFunction).
   * @internal
   */
  public useNodeRuntime(): { configMap: string; sha256: string } {
    const bundle = podBundle('runtime');
    if (!this.runtimeConfigMap) {
      this.runtimeConfigMap = new CodeConfigMap(this, 'RuntimeCode', {
        baseName: RUNTIME_CONFIGMAP,
        namespace: this.namespace,
        codeOf: RUNTIME_CONFIGMAP,
        labels: { [Labels.component]: 'runtime' },
        data: { [Paths.runtimeFile]: bundle.source },
        sha256: bundle.sha256,
      });
    }
    return { configMap: this.runtimeConfigMap.configMapName, sha256: bundle.sha256 };
  }

  /** The route table the router serves (what goes into the kubefaas-routes ConfigMap). */
  public routeTable(): RouteTable {
    const functions: Record<string, RouteTarget> = {};
    for (const fn of this._functions) {
      const timeoutMs = fn.timeoutMillis + Limits.routerTimeoutMarginMs;
      const invocation = fn.publicInvocation;
      const scaling = this.routeScaling(fn);
      functions[fn.functionName] = {
        url: fn.url,
        timeoutMs,
        ...(fn.maxBodyBytes !== undefined ? { maxBodyBytes: fn.maxBodyBytes } : {}),
        ...(scaling !== undefined ? { scaling } : {}),
        ...(invocation !== undefined ? { invocation } : {}),
      };
    }
    return {
      version: 1,
      functions,
      routes: this._routes.map((r) => {
        const policies = routePolicies(r.function, r.auth, r.rateLimit, r.cors, r.methods);
        return {
          function: r.function.functionName,
          methods: [...r.methods],
          path: r.path,
          ...(r.host !== undefined ? { host: r.host } : {}),
          ...(policies !== undefined ? { policies } : {}),
        };
      }),
      ...this.platformPolicies(),
      ...(this.callbackUrlPolicy !== undefined ? { callbacks: this.callbackUrlPolicy } : {}),
    };
  }

  /**
   * What the router's activator needs of a function that KEDA scales (the route table's `scaling`);
   * undefined with HPAs, where every function always has a replica.
   */
  private routeScaling(fn: PlatformFunction): RouteScaling | undefined {
    const { minReplicas, activationTimeoutMs, holdQueueLimit } = fn.scaling;
    if (!this._keda || activationTimeoutMs === undefined || holdQueueLimit === undefined) return undefined;
    return { minReplicas, activationTimeoutMs, holdQueueLimit };
  }

  /** `RouteTable.policies` from `router.auth / rateLimit / cors / trustedProxies`; nothing when none is set. */
  private platformPolicies(): { policies?: PlatformPolicies } {
    const { auth, rateLimit, cors, trustedProxies } = this.routerOptions;
    if (auth === undefined && rateLimit === undefined && cors === undefined && trustedProxies === undefined) return {};
    const where = this.node.findChild('Router');
    const own = routePolicies(where, auth, rateLimit, cors, undefined) ?? {};
    return {
      policies: {
        ...own,
        trustedProxies:
          trustedProxies === undefined ? 0 : validateInteger(where, 'router.trustedProxies', trustedProxies, 0, 32),
      },
    };
  }

  /** Secrets the router mounts: those named by the platform's and the triggers' auth policies. */
  private routerSecrets(): string[] {
    const names = new Set<string>();
    for (const auth of [this.routerOptions.auth, ...this._routes.map((r) => r.auth)])
      if (auth?.secretName !== undefined) names.add(auth.secretName);
    return [...names].sort();
  }

  private checkFunctionDefaults(d: FunctionDefaults): void {
    const what = (p: string) => `functionDefaults.${p}`;
    if (d.timeout !== undefined) durationMillis(this, what('timeout'), d.timeout, Limits.minTimeout, Limits.maxTimeout);
    if (d.memory !== undefined)
      sizeBytes(this, what('memory'), d.memory, Limits.minContainerMemoryBytes, Limits.maxMemoryBytes);
    if (d.cpu !== undefined) cpuMillis(this, what('cpu'), d.cpu, Limits.minCpuMillis, Limits.maxCpuMillis);
    if (d.maxConcurrency !== undefined)
      validateInteger(this, what('maxConcurrency'), d.maxConcurrency, 0, Limits.maxConcurrency);
    if (d.maxBodySize !== undefined)
      sizeBytes(this, what('maxBodySize'), d.maxBodySize, Limits.minBodyBytes, Limits.maxBodyBytes);
    if (d.tmpSize !== undefined) sizeBytes(this, what('tmpSize'), d.tmpSize, Limits.minTmpBytes, Limits.maxTmpBytes);
    // Checked without a function: its own timeout is unknown here (Infinity skips the hold-time check).
    if (d.scaling !== undefined)
      resolveFunctionScaling(this, d.scaling, undefined, { keda: this._keda !== undefined, timeoutMs: Infinity });
  }

  private maxTimeoutSeconds(): number {
    const longest = Math.max(Defaults.timeout.toMilliseconds(), ...this._functions.map((f) => f.timeoutMillis));
    return Math.ceil((longest + Limits.routerTimeoutMarginMs) / 1000);
  }

  private createRouter(options: RouterOptions): RouterObjects {
    this.routerOptions = options;
    const router = new Construct(this, 'Router');
    const bundle = podBundle('router');
    const labels = { [Labels.name]: ROUTER_NAME, [Labels.component]: 'router' };
    const selector = { [Labels.platformComponent]: 'router' };
    const placement = options.placement ?? Placement.regularNodes();
    this.usePlacement(placement, router);
    const clientTimeoutEnv = routerClientTimeoutEnv(router, options);

    const upstreamEnv = upstreamConnectionEnv(router, options.upstreamConnections);
    // With KEDA the router is the activator: it learns readiness from the EndpointSlices (watched).
    const scalingAccess = this._keda
      ? new RouterScalingAccess(router, 'ScalingAccess', { namespace: this.namespace, labels, selector })
      : undefined;
    const routerCode = new CodeConfigMap(router, 'Code', {
      baseName: ROUTER_NAME,
      namespace: this.namespace,
      codeOf: ROUTER_NAME,
      labels,
      data: { [Paths.routerFile]: bundle.source },
      sha256: bundle.sha256,
    }).configMapName;
    // The route table stays a fixed-name, mutable ConfigMap: the router reloads it in place when it
    // changes (no rollout), and it is data derived from the functions, not code to roll back.

    const routes = new ApiObject(router, 'Routes', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: objectMeta(ROUTES_CONFIGMAP, this.namespace, labels),
      data: { [Paths.routesFile]: Lazy.any({ produce: () => JSON.stringify(this.routeTable(), null, 2) }) },
    });

    if (options.tls !== undefined && !(options.tls instanceof RouterTls))
      throw new ValidationError(
        router,
        '`router.tls` must be a RouterTls',
        'Use RouterTls.certManager(...) or RouterTls.secret(...)',
      );
    const tls = options.tls?._resolve(router);
    const exposure = (options.exposure ?? RouterExposure.clusterIp()).bind(router, {
      serviceName: ROUTER_NAME,
      namespace: this.namespace,
      labels,
      maxTimeoutSeconds: () => this.maxTimeoutSeconds(),
      ...(tls ? { tls } : {}),
      publicPaths: () =>
        publicPaths({
          routePaths: this._routes.map((r) => r.path),
          byName: this._functions.some((f) => f.publicInvocation?.byName !== undefined),
          async: this._functions.some((f) => f.publicInvocation?.async === true),
        }),
    });
    if (tls) routerCertificate(router, tls, this.namespace, labels);

    const workload = new Workload(router, 'Workload', {
      name: ROUTER_NAME,
      namespace: this.namespace,
      labels,
      selector,
      podAnnotations: () => ({ [Annotations.codeHash]: bundle.sha256.slice(0, 16) }),
      containerName: 'router',
      image: this.nodeImage,
      command: ['node', `${Paths.routerDir}/${Paths.routerFile}`],
      env: () => [
        { name: Env.PORT, value: String(CONTAINER_PORT) },
        { name: ActivatorEnv.ADMIN_PORT, value: String(ROUTER_ADMIN_PORT) },
        ...(scalingAccess
          ? [
              { name: ActivatorEnv.ENDPOINTS, value: EndpointSources.kubernetes },
              // The pod name: the scaler tells replicas apart (and restarts) by it.
              { name: ActivatorEnv.ROUTER_ID, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            ]
          : []),
        { name: Env.ROUTES_PATH, value: `${Paths.routesDir}/${Paths.routesFile}` },
        ...(options.fastPath === false ? [{ name: Env.ROUTER_FAST_PATH, value: 'off' }] : []),
        ...clientTimeoutEnv,
        ...upstreamEnv,
        // Drain, then wait for proxied calls as long as the slowest function may take.
        ...shutdownEnv(shutdownTiming(this.maxTimeoutSeconds() * 1000)),
        // The router stores async calls (`/async-function/<name>`) in the queue.
        ...(this.queue
          ? [
              { name: QueueEnv.NATS_URL, value: this.queue.url },
              { name: QueueEnv.QUEUE_CONFIG, value: queueConfigJson(this.queue.config) },
            ]
          : []),
        ...(this.queue ? queueAuthEnv(this.queue, NatsUserNames.router) : []),
      ],
      resources: {
        cpuMillis: cpuMillis(
          router,
          'router.resources.cpu',
          options.resources?.cpu ?? Defaults.routerCpu,
          Limits.minCpuMillis,
          Limits.maxCpuMillis,
        ),
        memoryBytes: sizeBytes(
          router,
          'router.resources.memory',
          options.resources?.memory ?? Defaults.routerMemory,
          Limits.minNodeMemoryBytes,
          Limits.maxMemoryBytes,
        ),
      },
      // Health is served on the admin port only (the public one answers 404 there).
      readinessProbe: httpProbe(Endpoints.ready, 5, 2, ROUTER_ADMIN_PORT),
      livenessProbe: httpProbe(Endpoints.health, 10, 3, ROUTER_ADMIN_PORT),
      extraPorts: [{ name: ADMIN_PORT_NAME, containerPort: ROUTER_ADMIN_PORT }],
      tmpBytes: Defaults.componentTmpBytes,
      configMapVolumes: [
        { volume: 'router-code', configMap: routerCode, mountPath: Paths.routerDir },
        { volume: 'routes', configMap: ROUTES_CONFIGMAP, mountPath: Paths.routesDir },
      ],
      extraVolumes: queueClientVolumes(this.queue),
      scaling: resolveScaling(
        router,
        {
          minReplicas: options.replicas?.min,
          maxReplicas: options.replicas?.max,
          targetCpuUtilization: options.replicas?.targetCpuUtilization,
        },
        undefined,
        Defaults.routerMinReplicas,
        { min: 'router.replicas.min', max: 'router.replicas.max', target: 'router.replicas.targetCpuUtilization' },
      ),
      service:
        this.clusterDomain === DEFAULT_CLUSTER_DOMAIN
          ? exposure
          : {
              ...exposure,
              annotations: { ...exposure?.annotations, [Annotations.clusterDomain]: this.clusterDomain },
            },
      secretVolumes: () =>
        this.routerSecrets().map((secret, i) => ({
          volume: `auth-secret-${i}`,
          secret,
          mountPath: `${ROUTER_SECRETS_DIR}/${secret}`,
        })),
      // In-flight proxied requests may last as long as the slowest function (constructs/shutdown.ts).
      terminationGracePeriodSeconds: Lazy.any({
        produce: () => shutdownTiming(this.maxTimeoutSeconds() * 1000).terminationGracePeriodSeconds,
      }),
      ...(scalingAccess ? { serviceAccount: { name: scalingAccess.serviceAccountName, automountToken: true } } : {}),
      placement: () => placement,
      placementSubject: 'platform component "router"',
      spreadReplicas: true,
      fargateSelectors: () => this.fargateSelectorsFor(placement),
    });
    routerNetworkPolicy(router, {
      name: ROUTER_NAME,
      namespace: this.namespace,
      labels,
      network: this.network,
      scrapers: () => this.metricsScrapers,
      // The cron senders without a queue call the internal path; the scaler reads the counts.
      internalClients: () => [
        ...(this.cronDelivery.has('router') ? [CRON_PODS] : []),
        ...(scalingAccess ? [SCALER_PODS] : []),
      ],
      apiServer: scalingAccess ? this.network.apiServer : [],
      queuePods: () => this.queue?.podSelector,
      jwksUris: () => this.jwksUris(),
      egress: egressList(router, 'router.egress', options.egress).map((e) => e._render(router, this.namespace)),
    });
    // The admin port gets a ClusterIP Service of its own: the exposure only ever sees `service`
    // (a LoadBalancer Service would publish every port it lists).
    const adminService = new ApiObject(router, 'AdminService', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: objectMeta(ROUTER_ADMIN_SERVICE, this.namespace, labels),
      spec: {
        selector: { ...selector },
        ports: [{ name: ADMIN_PORT_NAME, port: ROUTER_ADMIN_PORT, targetPort: ADMIN_PORT_NAME, protocol: 'TCP' }],
      },
    });
    return { deployment: workload.deployment, service: workload.service, adminService, routes };
  }

  /** JWKS URLs of the platform's and the routes' JWT policies (the router fetches them). */
  private jwksUris(): string[] {
    const table = this.routeTable();
    const uris: string[] = [];
    for (const policies of [table.policies, ...table.routes.map((r) => r.policies)]) {
      const auth = policies?.auth;
      if (auth?.type === 'jwt' && auth.jwksUri !== undefined) uris.push(auth.jwksUri);
    }
    return uris;
  }

  /** Two functions (or one twice) claiming the same method + path shape (+ host). */
  private routeConflicts(): string[] {
    const seen = new Map<string, HttpRoute>();
    const errors: string[] = [];
    for (const route of this._routes) {
      for (const method of route.methods) {
        const key = `${method} ${route.host ?? '*'} ${routeShape(route.path)}`;
        const first = seen.get(key);
        if (!first) {
          seen.set(key, route);
          continue;
        }
        const where = route.host ? ` on host ${route.host}` : '';
        errors.push(
          validationMessage(
            `route conflict: ${method} ${route.path}${where} is claimed by ${route.function.node.path} and already by ${first.function.node.path} (${first.path})`,
            'Change the path, method or host of one of the HTTP triggers (parameter names do not make paths different)',
          ),
        );
      }
    }
    return errors;
  }
}

/** A route's (or the platform's) policies in route-table form, validated against `scope`; undefined when none. */
function routePolicies(
  scope: IConstruct,
  auth: RouterAuth | undefined,
  rateLimit: RateLimit | readonly RateLimit[] | undefined,
  cors: CorsOptions | undefined,
  routeMethods: readonly HttpMethod[] | undefined,
): RoutePolicies | undefined {
  if (auth === undefined && rateLimit === undefined && cors === undefined) return undefined;
  if (auth !== undefined && !(auth instanceof RouterAuth))
    throw new ValidationError(
      scope,
      '`auth` must be a RouterAuth',
      'Use RouterAuth.apiKeys(), .basic(), .jwt() or .none()',
    );
  const limits = rateLimit === undefined ? [] : Array.isArray(rateLimit) ? rateLimit : [rateLimit as RateLimit];
  for (const l of limits)
    if (!(l instanceof RateLimit))
      throw new ValidationError(
        scope,
        '`rateLimit` must be a RateLimit',
        'Use RateLimit.global(), .perRoute() or .perClient()',
      );
  return {
    ...(auth !== undefined ? { auth: auth.policy(scope) } : {}),
    ...(limits.length > 0 ? { rateLimits: limits.map((l) => l.policy(scope)) } : {}),
    ...(cors !== undefined ? { cors: corsPolicy(scope, cors, routeMethods) } : {}),
  };
}

/** The router's env for `upstreamConnections`, validated (only what differs from the router's defaults). */
function upstreamConnectionEnv(
  scope: IConstruct,
  o: UpstreamConnectionOptions | undefined,
): { name: string; value: string }[] {
  if (o === undefined) return [];
  const env: { name: string; value: string }[] = [];
  if (o.maxAge !== undefined) {
    const ms = durationMillis(
      scope,
      'router.upstreamConnections.maxAge',
      o.maxAge,
      Duration.seconds(1),
      Duration.hours(24),
    );
    env.push({ name: Env.ROUTER_UPSTREAM_MAX_AGE_MS, value: String(Math.round(ms)) });
  }
  if (o.maxRequests !== undefined) {
    const n = validateInteger(scope, 'router.upstreamConnections.maxRequests', o.maxRequests, 1, 100_000_000);
    env.push({ name: Env.ROUTER_UPSTREAM_MAX_REQUESTS, value: String(n) });
  }
  return env;
}
