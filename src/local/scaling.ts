/**
 * How the local runner scales each function, read from what a cluster would act on: the function's
 * KEDA ScaledObject (`keda.sh/v1alpha1`: replica bounds, cooldown, the scaler's trigger metadata, a
 * `nats-jetstream` trigger's lag threshold) and the route table's `scaling` (a function that may be
 * at zero). Pure: no process is started here (see autoscaler.ts for the loop that plays KEDA).
 */
import {
  DEFAULT_QUEUE_CONFIG,
  KedaDefaults,
  KedaTriggerTypes,
  Labels,
  NatsJetStreamMetadata,
  QueueEnv,
  ScalerMetadata,
  streamOf,
  type QueueConfig,
  type QueueSubscription,
  type RouteTable,
} from '../contract';
import type { Manifests } from './manifests';
import type { ProcessPlan } from './plan';

/** Most replicas of one function the runner starts unless told otherwise (`--max-replicas`). */
export const DEFAULT_LOCAL_MAX_REPLICAS = 3;

/** One JetStream subscription whose pending messages wake (and keep awake) a function at zero. */
export interface QueueWake {
  /** Stream and durable consumer the function's runtime creates for it. */
  readonly stream: string;
  readonly durable: string;
  /** Subject published to (a topic, `async.<fn>`, `cron.<fn>.<trigger>`). */
  readonly subject: string;
  readonly kind: QueueSubscription['kind'];
  /** Pending messages per replica, from the ScaledObject's `nats-jetstream` trigger; undefined = it only wakes the function. */
  readonly lagThreshold?: number;
}

/** The ScaledObject reference the runner sends the scaler, as KEDA would (name, namespace, trigger metadata). */
export interface ScalerRef {
  readonly name: string;
  readonly namespace: string;
  readonly scalerMetadata: Readonly<Record<string, string>>;
}

export interface LocalScaling {
  /** Function name (route table key, `kubefaas.dev/function` label). */
  readonly function: string;
  /** The workload (process) name. */
  readonly workload: string;
  readonly minReplicas: number;
  /** Most replicas started: the ScaledObject's `maxReplicaCount` within the local cap. */
  readonly maxReplicas: number;
  /** Idle time before the last replica stops (the ScaledObject's `cooldownPeriod`, KEDA's 300 s by default). */
  readonly cooldownMs: number;
  /** A lower replica count must be wanted this long before replicas stop (the HPA's scale-down window). */
  readonly scaleDownWindowMs: number;
  readonly scaler: ScalerRef;
  readonly queue: readonly QueueWake[];
}

interface ScaledObjectSpec {
  readonly scaleTargetRef?: { readonly name?: string; readonly kind?: string };
  readonly minReplicaCount?: number;
  readonly maxReplicaCount?: number;
  readonly cooldownPeriod?: number;
  readonly advanced?: {
    readonly horizontalPodAutoscalerConfig?: {
      readonly behavior?: { readonly scaleDown?: { readonly stabilizationWindowSeconds?: number } };
    };
  };
  readonly triggers?: ReadonlyArray<{ readonly type?: string; readonly metadata?: Record<string, string> }>;
}

export interface ScalingPlanOptions {
  /** The local replica cap. @default DEFAULT_LOCAL_MAX_REPLICAS */
  readonly maxReplicas?: number;
}

export interface ScalingPlan {
  /** By workload (process) name. */
  readonly functions: ReadonlyMap<string, LocalScaling>;
  readonly warnings: readonly string[];
}

/**
 * The functions the runner scales: those a ScaledObject targets and those whose route-table entry
 * may be at zero. Every other workload runs as one process, as before.
 */
export function planScaling(
  manifests: Manifests,
  routes: RouteTable | undefined,
  processes: readonly ProcessPlan[],
  options: ScalingPlanOptions = {},
): ScalingPlan {
  const cap = options.maxReplicas ?? DEFAULT_LOCAL_MAX_REPLICAS;
  const warnings: string[] = [];
  const functions = new Map<string, LocalScaling>();
  const scaledObjects = new Map<string, { name: string; namespace: string; spec: ScaledObjectSpec }>();
  for (const obj of manifests.ofKind('ScaledObject')) {
    const spec = (obj.spec ?? {}) as ScaledObjectSpec;
    const target = spec.scaleTargetRef?.name;
    if (target === undefined) continue;
    const namespace = manifests.namespaceOf(obj);
    scaledObjects.set(`${namespace}/${target}`, { name: obj.metadata?.name ?? target, namespace, spec });
  }
  for (const p of processes) {
    const fn = p.labels[Labels.function];
    if (fn === undefined || p.isRouter || p.isQueue) continue;
    const scaledObject = scaledObjects.get(`${p.namespace}/${p.name}`);
    const routeScaling = routes?.functions[fn]?.scaling;
    if (scaledObject === undefined && routeScaling?.minReplicas !== 0) continue;
    const spec = scaledObject?.spec ?? {};
    const minReplicas = Math.max(0, Math.min(spec.minReplicaCount ?? routeScaling?.minReplicas ?? 0, cap));
    const wantedMax = spec.maxReplicaCount ?? Math.max(minReplicas, 1);
    if (wantedMax > cap) {
      warnings.push(
        `${fn}: runs at most ${cap} replicas locally (its ScaledObject allows ${wantedMax}; --max-replicas)`,
      );
    }
    const maxReplicas = Math.max(1, minReplicas, Math.min(wantedMax, cap));
    const triggers = spec.triggers ?? [];
    const external = triggers.find(
      (t) => t.type === KedaTriggerTypes.externalPush || t.type === KedaTriggerTypes.external,
    );
    const scalerMetadata = { [ScalerMetadata.function]: fn, ...(external?.metadata ?? {}) };
    const lagThresholds = new Map<string, number>();
    for (const t of triggers) {
      if (t.type !== KedaTriggerTypes.natsJetStream) continue;
      const consumer = t.metadata?.[NatsJetStreamMetadata.consumer];
      const raw = Number(t.metadata?.[NatsJetStreamMetadata.lagThreshold] ?? KedaDefaults.lagThreshold);
      if (consumer !== undefined) lagThresholds.set(consumer, raw > 0 ? raw : KedaDefaults.lagThreshold);
    }
    functions.set(p.name, {
      function: fn,
      workload: p.name,
      minReplicas,
      maxReplicas,
      cooldownMs: 1000 * (spec.cooldownPeriod ?? KedaDefaults.cooldownPeriodSeconds),
      scaleDownWindowMs:
        1000 *
        (spec.advanced?.horizontalPodAutoscalerConfig?.behavior?.scaleDown?.stabilizationWindowSeconds ??
          KedaDefaults.scaleDownStabilizationSeconds),
      scaler: { name: scaledObject?.name ?? fn, namespace: p.namespace, scalerMetadata },
      queue: queueWakes(p, lagThresholds, warnings),
    });
  }
  return { functions, warnings };
}

/** The function's JetStream subscriptions (its runtime's env), each with its lag threshold if KEDA scales on it. */
function queueWakes(p: ProcessPlan, lagThresholds: ReadonlyMap<string, number>, warnings: string[]): QueueWake[] {
  const raw = p.env[QueueEnv.SUBSCRIPTIONS];
  if (raw === undefined || p.env[QueueEnv.NATS_URL] === undefined) return [];
  let subscriptions: QueueSubscription[];
  let config: QueueConfig = DEFAULT_QUEUE_CONFIG;
  try {
    subscriptions = JSON.parse(raw) as QueueSubscription[];
    if (p.env[QueueEnv.QUEUE_CONFIG] !== undefined) config = JSON.parse(p.env[QueueEnv.QUEUE_CONFIG]) as QueueConfig;
  } catch {
    // The runtime names the variable when it starts; the runner only cannot wake the function on messages.
    warnings.push(`${p.name}: ${QueueEnv.SUBSCRIPTIONS} is not JSON; queued messages will not wake it at zero`);
    return [];
  }
  if (!Array.isArray(subscriptions)) return [];
  return subscriptions.map((s) => ({
    stream: streamOf(config, s.kind),
    durable: s.durable,
    subject: s.subject,
    kind: s.kind,
    ...(lagThresholds.has(s.durable) ? { lagThreshold: lagThresholds.get(s.durable) } : {}),
  }));
}

/** `5m`, `90s`, `1.5s`: a cooldown as the scale messages print it. */
export function formatDelay(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
