import { Duration } from 'cdk8s';
import { IConstruct } from 'constructs';
import {
  DEFAULT_ACTIVATION_TIMEOUT_MS,
  DEFAULT_HOLD_QUEUE_LIMIT,
  DEFAULT_TARGET_CONCURRENCY,
  MAX_HOLD_QUEUE_LIMIT,
} from '../src/contract';
import { Defaults, Limits } from './defaults';
import { ValidationError } from './errors';
import { durationMillis, validateInteger } from './validation';
import type { ResolvedScaling } from './workload';

/**
 * How many replicas a function runs and what scales it. With the platform's default
 * `Autoscaling.hpa()` an HPA scales on CPU (and memory) when maxReplicas > minReplicas; with
 * `Autoscaling.keda()` a KEDA ScaledObject scales on the requests the routers see (and queue lag),
 * down to zero when `minReplicas` is 0 (docs/scaling.md).
 */
export interface ScalingOptions {
  /**
   * Replicas kept running (0..1000). 0 = scale to zero when idle, which needs `Autoscaling.keda()`
   * on the platform: the router then holds a request for the function until a replica is ready.
   * @default 1 (functions), 2 (router)
   */
  readonly minReplicas?: number;
  /**
   * Most replicas the autoscaler may run (minReplicas..1000, at least 1).
   * @default - minReplicas (no autoscaling); 1 when minReplicas is 0
   */
  readonly maxReplicas?: number;
  /**
   * Average CPU utilization (percent of the CPU request, 1..100) the autoscaler aims for.
   * @default - HPA: 80 (unless only targetMemoryUtilization is set); KEDA: no CPU trigger
   */
  readonly targetCpuUtilization?: number;
  /**
   * Average memory utilization (percent of the memory request, 1..100) the autoscaler aims for.
   * @default - none
   */
  readonly targetMemoryUtilization?: number;
  /**
   * KEDA: in-flight plus held requests per replica the scaler aims for (> 0; decimals allowed),
   * summed over every router replica. Set this or `targetRps`, not both.
   * @default - 100, or the function's maxConcurrency when that is lower (and not 0)
   */
  readonly targetConcurrency?: number;
  /**
   * KEDA: requests per second per replica the scaler aims for (> 0; decimals allowed), measured by
   * the routers over the scaler's rate window (10 s). Used instead of targetConcurrency.
   * @default - targetConcurrency is used
   */
  readonly targetRps?: number;
  /**
   * How long fewer replicas must be enough before the autoscaler removes some (the HPA's scale-down
   * stabilization window), and with KEDA how long a function with `minReplicas: 0` must be idle
   * before it goes to zero (the ScaledObject's cooldownPeriod). 0 .. 1 hour.
   * @default Duration.minutes(5)
   */
  readonly scaleDownDelay?: Duration;
  /**
   * KEDA, `minReplicas: 0`: how long the router holds a request for the function while it has no
   * ready replica, before it answers 504 (1 s .. below `timeout`).
   * @default - 30 s, or 1 s below `timeout` when that is shorter (half of `timeout` under 2 s)
   */
  readonly activationTimeout?: Duration;
  /**
   * KEDA, `minReplicas: 0`: most requests each router replica holds for the function at once while
   * it has no ready replica; more are answered 503 with `Retry-After` (1..10000).
   * @default 1000
   */
  readonly holdQueueLimit?: number;
  /**
   * KEDA: replicas the function keeps while its triggers fail (the scaler or the queue's monitoring
   * cannot answer): the ScaledObject's `fallback`, never below the current count
   * (`currentReplicasIfHigher`). max(1, minReplicas)..maxReplicas.
   * @default - max(1, minReplicas)
   */
  readonly fallbackReplicas?: number;
}

/** What a function's scaling needs to know about its platform and itself. */
export interface FunctionScalingContext {
  /** The platform scales with KEDA (`Autoscaling.keda()`). */
  readonly keda: boolean;
  /** The function's timeout; Infinity when checking platform-wide defaults (no function yet). */
  readonly timeoutMs: number;
}

/** A function's scaling, validated, with every default applied. */
export interface FunctionScaling extends ResolvedScaling {
  /** Who owns the replica count when maxReplicas > minReplicas. */
  readonly autoscaler: 'hpa' | 'keda';
  /** KEDA: requests per replica; undefined = the default (see ScalingOptions.targetConcurrency). */
  readonly targetConcurrency?: number;
  /** KEDA: requests per second per replica (instead of concurrency). */
  readonly targetRps?: number;
  /** KEDA: how long the router holds a request while the function has no ready replica. */
  readonly activationTimeoutMs: number;
  readonly holdQueueLimit: number;
  /** KEDA: the ScaledObject's fallback replicas. */
  readonly fallbackReplicas: number;
}

/** Names of ScalingOptions' props in messages (the router's replicas are named differently). */
export interface ScalingPropNames {
  readonly min: string;
  readonly max: string;
  readonly target: string;
}

const FUNCTION_NAMES: ScalingPropNames = {
  min: 'scaling.minReplicas',
  max: 'scaling.maxReplicas',
  target: 'scaling.targetCpuUtilization',
};

/** The largest request target we accept: far above what one replica of anything serves. */
const MAX_REQUEST_TARGET = 1_000_000;
/** The HPA's limit on stabilization windows (autoscaling/v2 HPAScalingRules). */
const MAX_SCALE_DOWN_DELAY = Duration.hours(1);
const MIN_ACTIVATION_TIMEOUT = Duration.seconds(1);

/**
 * Resolves `own` over `fallback` for a workload that always runs (the router, and the replica
 * range every function has): min ≥ 1, a CPU target always set. A max given only by the fallback
 * never drops below an own min.
 */
export function resolveScaling(
  scope: IConstruct,
  own: ScalingOptions | undefined,
  fallback: ScalingOptions | undefined,
  defaultMin: number = Defaults.minReplicas,
  names: ScalingPropNames = FUNCTION_NAMES,
): ResolvedScaling {
  const range = replicaRange(scope, own, fallback, defaultMin, 1, names);
  const target = validateInteger(
    scope,
    names.target,
    own?.targetCpuUtilization ?? fallback?.targetCpuUtilization ?? Defaults.targetCpuUtilization,
    1,
    100,
  );
  return { ...range, targetCpuUtilization: target };
}

/**
 * A function's scaling: `own` (its props) over `fallback` (functionDefaults.scaling), checked
 * against what the platform's autoscaling can do. Throws a ValidationError naming the prop and the
 * fix for every impossible combination.
 */
export function resolveFunctionScaling(
  scope: IConstruct,
  own: ScalingOptions | undefined,
  fallback: ScalingOptions | undefined,
  context: FunctionScalingContext,
): FunctionScaling {
  const pick = <K extends keyof ScalingOptions>(key: K): ScalingOptions[K] => own?.[key] ?? fallback?.[key];
  const enableKeda = 'Enable KEDA on the platform (`autoscaling: Autoscaling.keda()`), or leave the prop unset';
  if (!context.keda) {
    const min = pick('minReplicas');
    if (min === 0)
      throw new ValidationError(
        scope,
        'scaling.minReplicas is 0 (scale to zero), which needs KEDA: an HPA never scales below 1',
        'Enable KEDA on the platform (`autoscaling: Autoscaling.keda()`), or set minReplicas to 1 or more',
      );
    for (const key of [
      'targetConcurrency',
      'targetRps',
      'activationTimeout',
      'holdQueueLimit',
      'fallbackReplicas',
    ] as const)
      if (pick(key) !== undefined)
        throw new ValidationError(
          scope,
          `scaling.${key} is a KEDA setting, but the platform scales with HPAs`,
          enableKeda,
        );
  }

  const range = replicaRange(scope, own, fallback, Defaults.minReplicas, context.keda ? 0 : 1, FUNCTION_NAMES);
  const percent = (key: 'targetCpuUtilization' | 'targetMemoryUtilization'): number | undefined => {
    const value = pick(key);
    return value === undefined ? undefined : validateInteger(scope, `scaling.${key}`, value, 1, 100);
  };
  const cpu = percent('targetCpuUtilization');
  const memory = percent('targetMemoryUtilization');
  const delay = pick('scaleDownDelay');
  const scaleDownDelaySeconds =
    delay === undefined ? undefined : wholeSeconds(scope, 'scaling.scaleDownDelay', delay, Duration.seconds(0));

  // The two request targets are one choice: a function naming either replaces the default's.
  const targets = own?.targetConcurrency !== undefined || own?.targetRps !== undefined ? own : fallback;
  const targetConcurrency = requestTarget(scope, 'targetConcurrency', targets?.targetConcurrency);
  const targetRps = requestTarget(scope, 'targetRps', targets?.targetRps);
  if (targetConcurrency !== undefined && targetRps !== undefined)
    throw new ValidationError(
      scope,
      'scaling.targetConcurrency and scaling.targetRps are both set, but the scaler scales on one of them',
      'Set targetConcurrency (requests in flight per replica) or targetRps (requests per second per replica)',
    );

  const holdQueueLimit = validateInteger(
    scope,
    'scaling.holdQueueLimit',
    pick('holdQueueLimit') ?? DEFAULT_HOLD_QUEUE_LIMIT,
    1,
    MAX_HOLD_QUEUE_LIMIT,
  );
  const floor = Math.max(1, range.minReplicas);
  const fallbackReplicas = pick('fallbackReplicas');

  return {
    ...range,
    ...(cpu !== undefined ? { targetCpuUtilization: cpu } : {}),
    ...(memory !== undefined ? { targetMemoryUtilization: memory } : {}),
    ...(scaleDownDelaySeconds !== undefined ? { scaleDownDelaySeconds } : {}),
    autoscaler: context.keda ? 'keda' : 'hpa',
    ...(targetConcurrency !== undefined ? { targetConcurrency } : {}),
    ...(targetRps !== undefined ? { targetRps } : {}),
    activationTimeoutMs: activationTimeout(scope, pick('activationTimeout'), context.timeoutMs),
    holdQueueLimit,
    fallbackReplicas:
      fallbackReplicas === undefined
        ? floor
        : validateInteger(scope, 'scaling.fallbackReplicas', fallbackReplicas, floor, range.maxReplicas),
  };
}

/**
 * `targetConcurrency` against the runtime's own limit: a replica that answers 429 above
 * `maxConcurrency` never reaches a higher target, so the scaler would never add replicas.
 * Returns the target the ScaledObject names.
 */
export function concurrencyTarget(scope: IConstruct, scaling: FunctionScaling, maxConcurrency: number): number {
  const limit = maxConcurrency > 0 ? maxConcurrency : Infinity;
  // The scaler's own default, written out so the manifest says what the function scales on.
  if (scaling.targetConcurrency === undefined) return Math.min(DEFAULT_TARGET_CONCURRENCY, limit);
  if (scaling.targetConcurrency > limit)
    throw new ValidationError(
      scope,
      `scaling.targetConcurrency (${scaling.targetConcurrency}) is above maxConcurrency (${maxConcurrency}): a replica answers 429 before it reaches the target, so the scaler would never add one`,
      'Lower scaling.targetConcurrency to at most maxConcurrency, or raise maxConcurrency',
    );
  return scaling.targetConcurrency;
}

function replicaRange(
  scope: IConstruct,
  own: ScalingOptions | undefined,
  fallback: ScalingOptions | undefined,
  defaultMin: number,
  lowestMin: number,
  names: ScalingPropNames,
): { minReplicas: number; maxReplicas: number } {
  const min = validateInteger(
    scope,
    names.min,
    own?.minReplicas ?? fallback?.minReplicas ?? defaultMin,
    lowestMin,
    Limits.maxReplicas,
  );
  // Scaling to zero still needs a replica to scale up to.
  const lowestMax = Math.max(1, min);
  let max: number;
  if (own?.maxReplicas !== undefined) {
    max = validateInteger(scope, names.max, own.maxReplicas, 1, Limits.maxReplicas);
    if (max < min) {
      throw new ValidationError(
        scope,
        `${names.max} (${max}) is below ${names.min} (${min})`,
        `Raise ${names.max} or lower ${names.min}`,
      );
    }
  } else if (fallback?.maxReplicas !== undefined) {
    max = Math.max(lowestMax, validateInteger(scope, names.max, fallback.maxReplicas, 1, Limits.maxReplicas));
  } else {
    max = lowestMax;
  }
  return { minReplicas: min, maxReplicas: max };
}

function requestTarget(scope: IConstruct, key: 'targetConcurrency' | 'targetRps', value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_REQUEST_TARGET)
    throw new ValidationError(
      scope,
      `scaling.${key} must be a number above 0 and at most ${MAX_REQUEST_TARGET}, got ${String(value)}`,
      `Set scaling.${key} to the requests one replica should handle, e.g. 10`,
    );
  // The scaler reads a decimal string; more precision than this is noise.
  return Math.round(value * 1000) / 1000 || 0.001;
}

function wholeSeconds(scope: IConstruct, what: string, value: Duration, min: Duration): number {
  const ms = durationMillis(scope, what, value, min, MAX_SCALE_DOWN_DELAY);
  if (ms % 1000 !== 0)
    throw new ValidationError(scope, `${what} must be whole seconds, got ${ms} ms`, 'Use e.g. Duration.minutes(5)');
  return ms / 1000;
}

/** The hold time: explicit (1 s .. below the timeout) or the default under the timeout. */
function activationTimeout(scope: IConstruct, value: Duration | undefined, timeoutMs: number): number {
  if (value === undefined) {
    if (!Number.isFinite(timeoutMs)) return DEFAULT_ACTIVATION_TIMEOUT_MS;
    // Below the timeout: the router's shutdown grace covers the longest timeout, so a held request
    // is always answered before the router exits.
    return Math.min(DEFAULT_ACTIVATION_TIMEOUT_MS, Math.max(Math.floor(timeoutMs / 2), timeoutMs - 1000));
  }
  const ms = durationMillis(scope, 'scaling.activationTimeout', value, MIN_ACTIVATION_TIMEOUT, Limits.maxTimeout);
  if (ms >= timeoutMs)
    throw new ValidationError(
      scope,
      `scaling.activationTimeout (${value.toHumanString()}) is not below the function's timeout (${Duration.millis(timeoutMs).toHumanString()}): the router's shutdown grace is sized by the timeout, so a request could be held past it`,
      'Lower scaling.activationTimeout or raise timeout',
    );
  return ms;
}
