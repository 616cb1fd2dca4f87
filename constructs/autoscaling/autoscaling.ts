import { Duration, Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-27';
import type { IConstruct } from 'constructs';
import { Limits } from '../defaults';
import { ValidationError } from '../errors';
import { NAMESPACE_NAME_LABEL, type PeerSpec } from '../network/spec';
import { Placement } from '../placement/placement';
import { cpuMillis, durationMillis, sizeBytes, validateInteger, validateNamespaceName } from '../validation';

/** CPU request and memory request/limit of each scaler replica. */
export interface ScalerResources {
  /**
   * CPU request (no CPU limit, so bursts are not throttled).
   * @default Cpu.millis(50)
   */
  readonly cpu?: Cpu;
  /**
   * Memory request and limit. The scaler idles at ~50 MiB and its heap grows to ~110 MiB under
   * sustained load with 1,000 functions (docs/benchmarks.md).
   * @default Size.mebibytes(192)
   */
  readonly memory?: Size;
}

/** The scaler: KEDA's external scaler for the functions, fed by the routers (src/scaler/). */
export interface ScalerOptions {
  /**
   * Replicas behind the scaler's Service (stateless: each rebuilds its view from the routers). A
   * PodDisruptionBudget is created from 2. 1..10.
   * @default 2
   */
  readonly replicas?: number;
  /**
   * @default { cpu: Cpu.millis(50), memory: Size.mebibytes(192) }
   */
  readonly resources?: ScalerResources;
  /**
   * Where the scaler's pods run, independently of the functions.
   * @default Placement.regularNodes()
   */
  readonly placement?: Placement;
}

/** Options of `Autoscaling.keda()`. */
export interface KedaOptions {
  /**
   * Namespace KEDA is installed in: its operator calls the scaler (gRPC) and reads the queue's
   * monitoring port, and the NetworkPolicies admit that namespace's pods there and nowhere else.
   * @default 'keda'
   */
  readonly namespace?: string;
  /**
   * How often KEDA checks a function's triggers while it has no replica, and its queue triggers
   * (the scaler also pushes activity at once through `external-push`). 1 s .. 1 hour.
   * @default Duration.seconds(15)
   */
  readonly pollingInterval?: Duration;
  /**
   * The scaler's Deployment.
   * @default - see ScalerOptions
   */
  readonly scaler?: ScalerOptions;
}

/** `Autoscaling.keda()` in checked form. */
export interface ResolvedKeda {
  readonly namespace: string;
  readonly pollingIntervalSeconds: number;
  readonly scaler: {
    readonly replicas: number;
    readonly cpuMillis: number;
    readonly memoryBytes: number;
    readonly placement: Placement;
  };
}

export type AutoscalingMode = 'hpa' | 'keda';

export const KedaDefaults = {
  namespace: 'keda',
  pollingInterval: Duration.seconds(15),
  scalerReplicas: 2,
  scalerCpu: Cpu.millis(50),
  scalerMemory: Size.mebibytes(192),
  /** The KEDA release the docs and the ScaledObjects are written against (engines.md §0). */
  version: '2.20.2',
} as const;

/**
 * What scales the functions of a platform: an HPA per function on CPU (the default), or KEDA,
 * which scales on the requests the routers see and on queue lag, down to zero (docs/scaling.md).
 * Either way a function with `minReplicas === maxReplicas` runs a fixed number of replicas.
 */
export class Autoscaling {
  /**
   * A HorizontalPodAutoscaler for every function with maxReplicas > minReplicas, on CPU (and
   * memory) utilization. `minReplicas: 0` is refused.
   */
  public static hpa(): Autoscaling {
    return new Autoscaling('hpa', undefined);
  }

  /**
   * KEDA (installed in the cluster beforehand, docs/scaling.md): a `keda.sh/v1alpha1` ScaledObject
   * per autoscaled function, on in-flight requests or requests per second (the platform's scaler
   * Deployment, KEDA's `external-push` trigger), queue lag (`nats-jetstream`) and the CPU/memory
   * targets that are set. Functions may scale to zero: the router holds their requests until a
   * replica is ready.
   */
  public static keda(options: KedaOptions = {}): Autoscaling {
    return new Autoscaling('keda', options ?? {});
  }

  private constructor(
    public readonly mode: AutoscalingMode,
    private readonly options: KedaOptions | undefined,
  ) {}

  /**
   * The KEDA options in checked form (undefined for `hpa`), checked against `scope` (the platform).
   * @internal
   */
  public _resolve(scope: IConstruct): ResolvedKeda | undefined {
    if (this.mode !== 'keda') return undefined;
    const o = this.options ?? {};
    const namespace = o.namespace ?? KedaDefaults.namespace;
    if (typeof namespace !== 'string' || namespace.length === 0)
      throw new ValidationError(scope, 'autoscaling: the KEDA namespace is empty', 'Name the namespace KEDA runs in');
    validateNamespaceName(scope, namespace);
    const pollingMs = durationMillis(
      scope,
      'autoscaling.pollingInterval',
      o.pollingInterval ?? KedaDefaults.pollingInterval,
      Duration.seconds(1),
      Duration.hours(1),
    );
    if (pollingMs % 1000 !== 0)
      throw new ValidationError(
        scope,
        `autoscaling.pollingInterval must be whole seconds, got ${pollingMs} ms`,
        'Use e.g. Duration.seconds(15)',
      );
    const scaler = o.scaler ?? {};
    const placement = scaler.placement ?? Placement.regularNodes();
    if (!(placement instanceof Placement))
      throw new ValidationError(
        scope,
        'autoscaling.scaler.placement must be a Placement',
        'Use e.g. Placement.regularNodes()',
      );
    return {
      namespace,
      pollingIntervalSeconds: pollingMs / 1000,
      scaler: {
        replicas: validateInteger(
          scope,
          'autoscaling.scaler.replicas',
          scaler.replicas ?? KedaDefaults.scalerReplicas,
          1,
          10,
        ),
        cpuMillis: cpuMillis(
          scope,
          'autoscaling.scaler.resources.cpu',
          scaler.resources?.cpu ?? KedaDefaults.scalerCpu,
          Limits.minCpuMillis,
          Limits.maxCpuMillis,
        ),
        memoryBytes: sizeBytes(
          scope,
          'autoscaling.scaler.resources.memory',
          scaler.resources?.memory ?? KedaDefaults.scalerMemory,
          Limits.minNodeMemoryBytes,
          Limits.maxMemoryBytes,
        ),
        placement,
      },
    };
  }
}

/** Pods of KEDA's namespace: its operator calls the scaler and reads the queue's monitoring port. */
export function kedaPods(keda: ResolvedKeda): PeerSpec {
  return { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: keda.namespace } } };
}
