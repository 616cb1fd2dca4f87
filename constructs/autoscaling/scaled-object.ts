import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { ScalerMetadata } from '../../src/contract';
import { objectMeta } from '../metadata';
import type { FunctionScaling } from '../scaling';
import { scaleDownBehavior } from '../workload';
import type { ResolvedKeda } from './autoscaling';

/** One JetStream consumer of the function's runtime, as KEDA's `nats-jetstream` trigger names it. */
export interface JetStreamConsumer {
  readonly stream: string;
  readonly durable: string;
  /** Messages one replica handles at once: the trigger's per-replica lag target. */
  readonly maxInFlight: number;
  /** One message at a time across all replicas (max_ack_pending 1): more replicas cannot help. */
  readonly ordered: boolean;
}

export interface FunctionScaledObjectProps {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly scaling: FunctionScaling;
  readonly keda: ResolvedKeda;
  /** `host:port` of the scaler's gRPC Service. */
  readonly scalerAddress: string;
  /** In-flight + held requests per replica (used unless the scaling names targetRps). */
  readonly targetConcurrency: number;
  /**
   * Read at synth: the queue's monitoring endpoint (`host:port`) and the function's consumers, or
   * undefined when the function consumes nothing.
   */
  readonly queue: () =>
    { readonly monitoringEndpoint: string; readonly consumers: readonly JetStreamConsumer[] } | undefined;
}

/** Consecutive failures of a trigger before KEDA applies the fallback replicas (KEDA's own example value). */
const FALLBACK_FAILURE_THRESHOLD = 3;
/**
 * Lag target of an ordered consumer: its messages are handled one at a time whatever the replica
 * count, so its trigger only wakes the function (activation at lag > 0) and never asks for a
 * second replica.
 */
const ORDERED_LAG_THRESHOLD = 1_000_000_000;
/** `scaleDownDelay` when not set: KEDA's default cooldownPeriod and the HPA's default scale-down window. */
const DEFAULT_SCALE_DOWN_DELAY_SECONDS = 300;

/**
 * The KEDA ScaledObject of a function (instead of an HPA): named like the function, scaling its
 * Deployment on
 * - `external-push` to the platform's scaler: in-flight + held requests per replica
 *   (`targetConcurrency`) or requests per second (`targetRps`), summed over the routers; pushes
 *   activity the moment a request waits for the function at zero;
 * - `nats-jetstream` per JetStream consumer of its runtime (topics, async calls, cron ticks,
 *   callbacks): pending + unacknowledged messages, so queued work wakes it;
 * - `cpu` / `memory` utilization when those targets are set.
 * `fallback` keeps at least `fallbackReplicas` while a trigger fails (the scaler answers
 * UNAVAILABLE when it cannot see the routers, rather than "no demand").
 */
export function functionScaledObject(scope: Construct, id: string, props: FunctionScaledObjectProps): ApiObject {
  const { scaling, name } = props;
  const requests: Record<string, string> = {
    scalerAddress: props.scalerAddress,
    [ScalerMetadata.function]: name,
    ...(scaling.targetRps !== undefined
      ? { [ScalerMetadata.targetRps]: String(scaling.targetRps) }
      : { [ScalerMetadata.targetConcurrency]: String(props.targetConcurrency) }),
  };
  // metricType is KEDA's default, written out: KEDA 2.17.0's webhook refused a fallback without it.
  const triggers = (): Record<string, unknown>[] => [
    { type: 'external-push', name: 'requests', metricType: 'AverageValue', metadata: requests },
    ...queueTriggers(props.queue()),
    ...utilization('cpu', scaling.targetCpuUtilization),
    ...utilization('memory', scaling.targetMemoryUtilization),
  ];
  const delay = scaling.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS;
  return new ApiObject(scope, id, {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: objectMeta(name, props.namespace, props.labels),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      pollingInterval: props.keda.pollingIntervalSeconds,
      // Only scaling to zero waits for it; 1..N is the HPA's, with the behavior below.
      ...(scaling.minReplicas === 0 ? { cooldownPeriod: delay } : {}),
      minReplicaCount: scaling.minReplicas,
      maxReplicaCount: scaling.maxReplicas,
      fallback: {
        failureThreshold: FALLBACK_FAILURE_THRESHOLD,
        replicas: scaling.fallbackReplicas,
        behavior: 'currentReplicasIfHigher',
      },
      advanced: { horizontalPodAutoscalerConfig: { behavior: scaleDownBehavior(delay) } },
      triggers: Lazy.any({ produce: triggers }),
    },
  });
}

function queueTriggers(
  queue: { readonly monitoringEndpoint: string; readonly consumers: readonly JetStreamConsumer[] } | undefined,
): Record<string, unknown>[] {
  if (queue === undefined) return [];
  return queue.consumers.map((c) => ({
    type: 'nats-jetstream',
    name: `queue-${c.durable}`,
    metricType: 'AverageValue',
    metadata: {
      natsServerMonitoringEndpoint: queue.monitoringEndpoint,
      // The global account: kubefaas' NATS users (nats-auth.ts) live in no account of their own.
      account: '$G',
      stream: c.stream,
      consumer: c.durable,
      lagThreshold: String(c.ordered ? ORDERED_LAG_THRESHOLD : c.maxInFlight),
    },
  }));
}

function utilization(resource: 'cpu' | 'memory', percent: number | undefined): Record<string, unknown>[] {
  if (percent === undefined) return [];
  return [{ type: resource, name: resource, metricType: 'Utilization', metadata: { value: String(percent) } }];
}
