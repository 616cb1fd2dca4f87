import { IConstruct } from 'constructs';
import { Defaults, Limits } from './defaults';
import { ValidationError } from './errors';
import { validateInteger } from './validation';
import type { ResolvedScaling } from './workload';

/** Replica count and CPU-based autoscaling (an HPA is created when maxReplicas > minReplicas). */
export interface ScalingOptions {
  /**
   * Replicas kept running (1..1000).
   * @default 1 (functions), 2 (router)
   */
  readonly minReplicas?: number;
  /**
   * Upper bound for the HorizontalPodAutoscaler (minReplicas..1000).
   * @default - minReplicas (no autoscaling)
   */
  readonly maxReplicas?: number;
  /**
   * Average CPU utilization (percent of the CPU request, 1..100) the HPA aims for.
   * @default 80
   */
  readonly targetCpuUtilization?: number;
}

/**
 * Resolves `own` over `fallback`: a max given only by the fallback never drops below an own min.
 */
export function resolveScaling(
  scope: IConstruct,
  own: ScalingOptions | undefined,
  fallback: ScalingOptions | undefined,
  defaultMin: number = Defaults.minReplicas,
  names: { readonly min: string; readonly max: string; readonly target: string } = {
    min: 'scaling.minReplicas',
    max: 'scaling.maxReplicas',
    target: 'scaling.targetCpuUtilization',
  },
): ResolvedScaling {
  const min = validateInteger(
    scope,
    names.min,
    own?.minReplicas ?? fallback?.minReplicas ?? defaultMin,
    1,
    Limits.maxReplicas,
  );
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
    max = Math.max(min, validateInteger(scope, names.max, fallback.maxReplicas, 1, Limits.maxReplicas));
  } else {
    max = min;
  }
  const target = validateInteger(
    scope,
    names.target,
    own?.targetCpuUtilization ?? fallback?.targetCpuUtilization ?? Defaults.targetCpuUtilization,
    1,
    100,
  );
  return { minReplicas: min, maxReplicas: max, targetCpuUtilization: target };
}
