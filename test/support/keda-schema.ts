/**
 * Schema check for KEDA's `ScaledObject` (keda.sh/v1alpha1), which no installed @kubernetes-models
 * package covers. Restated from KEDA 2.20's types (kedacore/keda `apis/keda/v1alpha1/
 * scaledobject_types.go` and `scaletriggers_types.go`, whose kubebuilder markers generate the CRD's
 * openAPIV3Schema), reduced to structure and types; unknown fields are refused (the API server
 * would prune them). On top, the CRD's own rules (minimums, enums, `minReplicaCount <=
 * maxReplicaCount`, at least one trigger) and the checks KEDA's admission webhook makes that a
 * manifest can fail on its own (unique trigger names, `Utilization` only for cpu/memory,
 * `useCachedMetrics` not for cpu/memory/cron, a fallback with an AverageValue-or-Value trigger
 * that is not cpu/memory), plus the metadata every trigger type kubefaas writes requires.
 */
import { JsonSchema, checkAgainstSchema } from './ack-schema';

const str: JsonSchema = { type: 'string' };
const int: JsonSchema = { type: 'integer' };
const stringMap: JsonSchema = { type: 'object', additionalProperties: str };

/** autoscaling/v2 HPAScalingRules. */
const scalingRules: JsonSchema = {
  type: 'object',
  properties: {
    stabilizationWindowSeconds: int,
    selectPolicy: str,
    policies: {
      type: 'array',
      items: {
        type: 'object',
        required: ['type', 'value', 'periodSeconds'],
        properties: { type: str, value: int, periodSeconds: int },
      },
    },
    // A quantity (int or string); kubefaas never sets it.
    tolerance: { preserveUnknownFields: true },
  },
};

export const SCALED_OBJECT_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: str,
    kind: str,
    metadata: { type: 'object', preserveUnknownFields: true },
    spec: {
      type: 'object',
      required: ['scaleTargetRef', 'triggers'],
      properties: {
        scaleTargetRef: {
          type: 'object',
          required: ['name'],
          properties: { name: str, apiVersion: str, kind: str, envSourceContainerName: str },
        },
        pollingInterval: int,
        initialCooldownPeriod: int,
        cooldownPeriod: int,
        idleReplicaCount: int,
        minReplicaCount: int,
        maxReplicaCount: int,
        advanced: {
          type: 'object',
          properties: {
            horizontalPodAutoscalerConfig: {
              type: 'object',
              properties: {
                name: str,
                behavior: { type: 'object', properties: { scaleUp: scalingRules, scaleDown: scalingRules } },
              },
            },
            restoreToOriginalReplicaCount: { type: 'boolean' },
            scalingModifiers: {
              type: 'object',
              properties: { formula: str, target: str, activationTarget: str, metricType: str },
            },
          },
        },
        triggers: {
          type: 'array',
          items: {
            type: 'object',
            required: ['type', 'metadata'],
            properties: {
              type: str,
              name: str,
              useCachedMetrics: { type: 'boolean' },
              metadata: stringMap,
              authenticationRef: { type: 'object', required: ['name'], properties: { name: str, kind: str } },
              metricType: str,
            },
          },
        },
        fallback: {
          type: 'object',
          required: ['failureThreshold', 'replicas'],
          properties: { failureThreshold: int, replicas: int, behavior: str },
        },
      },
    },
    status: { type: 'object', preserveUnknownFields: true },
  },
};

const FALLBACK_BEHAVIORS = [
  'static',
  'currentReplicas',
  'currentReplicasIfHigher',
  'currentReplicasIfLower',
  'scalingModifiers',
];
const METRIC_TYPES = ['AverageValue', 'Value', 'Utilization'];
const RESOURCE_TRIGGERS = ['cpu', 'memory'];
/** Metadata keys each trigger type kubefaas writes cannot do without (KEDA's scaler docs, 2.20). */
const REQUIRED_METADATA: Readonly<Record<string, readonly string[]>> = {
  'external-push': ['scalerAddress'],
  external: ['scalerAddress'],
  'nats-jetstream': ['natsServerMonitoringEndpoint', 'stream', 'consumer'],
  cpu: ['value'],
  memory: ['value'],
};
const INTEGER_METADATA: Readonly<Record<string, readonly string[]>> = {
  'nats-jetstream': ['lagThreshold', 'activationLagThreshold'],
};

/** Problems of a KEDA ScaledObject (apiVersion/kind included). */
export function checkScaledObject(object: Record<string, any>): string[] {
  const problems = checkAgainstSchema(object, SCALED_OBJECT_SCHEMA);
  if (object.apiVersion !== 'keda.sh/v1alpha1')
    problems.push(`apiVersion: expected keda.sh/v1alpha1, got ${String(object.apiVersion)}`);
  if (object.kind !== 'ScaledObject') problems.push(`kind: expected ScaledObject, got ${String(object.kind)}`);
  const spec = object.spec;
  if (spec === null || typeof spec !== 'object') return problems;

  const atLeast = (field: string, value: unknown, min: number) => {
    if (typeof value === 'number' && value < min) problems.push(`${field}: must be at least ${min}, got ${value}`);
  };
  atLeast('.spec.pollingInterval', spec.pollingInterval, 1);
  atLeast('.spec.initialCooldownPeriod', spec.initialCooldownPeriod, 0);
  atLeast('.spec.cooldownPeriod', spec.cooldownPeriod, 0);
  atLeast('.spec.idleReplicaCount', spec.idleReplicaCount, 0);
  atLeast('.spec.minReplicaCount', spec.minReplicaCount, 0);
  atLeast('.spec.maxReplicaCount', spec.maxReplicaCount, 1);
  const max = typeof spec.maxReplicaCount === 'number' ? spec.maxReplicaCount : 100;
  if (typeof spec.minReplicaCount === 'number' && spec.minReplicaCount > max)
    problems.push(
      `.spec: minReplicaCount (${spec.minReplicaCount}) must be less than or equal to maxReplicaCount (${max})`,
    );
  if (typeof spec.scaleTargetRef?.name === 'string' && spec.scaleTargetRef.name.length === 0)
    problems.push('.spec.scaleTargetRef.name: must not be empty');
  const down = spec.advanced?.horizontalPodAutoscalerConfig?.behavior;
  for (const direction of ['scaleUp', 'scaleDown']) {
    const window = down?.[direction]?.stabilizationWindowSeconds;
    if (typeof window === 'number' && (window < 0 || window > 3600))
      problems.push(
        `.spec.advanced.horizontalPodAutoscalerConfig.behavior.${direction}.stabilizationWindowSeconds: must be 0..3600, got ${window}`,
      );
  }

  const triggers: Record<string, any>[] = Array.isArray(spec.triggers) ? spec.triggers : [];
  if (Array.isArray(spec.triggers) && triggers.length === 0)
    problems.push('.spec.triggers: at least one trigger is required');
  const names = new Set<string>();
  triggers.forEach((trigger, i) => {
    const where = `.spec.triggers[${i}]`;
    if (typeof trigger?.name === 'string' && trigger.name !== '') {
      if (names.has(trigger.name)) problems.push(`${where}.name: "${trigger.name}" is used by another trigger`);
      names.add(trigger.name);
    }
    const type = String(trigger?.type);
    const resource = RESOURCE_TRIGGERS.includes(type);
    if (trigger?.metricType !== undefined && !METRIC_TYPES.includes(trigger.metricType))
      problems.push(
        `${where}.metricType: must be one of ${METRIC_TYPES.join(', ')}, got ${String(trigger.metricType)}`,
      );
    if (trigger?.metricType === 'Utilization' && !resource)
      problems.push(`${where}.metricType: Utilization is only for cpu and memory triggers, not ${type}`);
    if (trigger?.useCachedMetrics === true && [...RESOURCE_TRIGGERS, 'cron'].includes(type))
      problems.push(`${where}.useCachedMetrics: not supported for ${type} triggers`);
    const metadata = trigger?.metadata ?? {};
    for (const key of REQUIRED_METADATA[type] ?? [])
      if (typeof metadata[key] !== 'string' || metadata[key] === '')
        problems.push(`${where}.metadata.${key}: required for ${type} triggers`);
    for (const key of INTEGER_METADATA[type] ?? [])
      if (metadata[key] !== undefined && !/^\d+$/.test(String(metadata[key])))
        problems.push(`${where}.metadata.${key}: must be an integer, got ${String(metadata[key])}`);
    if (resource && metadata.value !== undefined && !/^\d+(\.\d+)?$/.test(String(metadata.value)))
      problems.push(`${where}.metadata.value: must be a number, got ${String(metadata.value)}`);
  });

  const fallback = spec.fallback;
  if (fallback && typeof fallback === 'object') {
    atLeast('.spec.fallback.failureThreshold', fallback.failureThreshold, 0);
    atLeast('.spec.fallback.replicas', fallback.replicas, 0);
    if (fallback.behavior !== undefined && !FALLBACK_BEHAVIORS.includes(fallback.behavior))
      problems.push(
        `.spec.fallback.behavior: must be one of ${FALLBACK_BEHAVIORS.join(', ')}, got ${String(fallback.behavior)}`,
      );
    // KEDA's webhook (2.17+) refuses a fallback no trigger can apply to.
    if (
      !triggers.some(
        (t) => !RESOURCE_TRIGGERS.includes(String(t?.type)) && (t?.metricType ?? 'AverageValue') !== 'Utilization',
      )
    )
      problems.push('.spec.fallback: needs a trigger other than cpu/memory (fallback never applies to those)');
  }
  return problems;
}
