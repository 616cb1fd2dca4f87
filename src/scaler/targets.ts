/**
 * What a ScaledObject asks the scaler for: the function named in its trigger metadata and the
 * per-replica target (concurrency, or requests per second). Read from every call's ScaledObjectRef,
 * so the scaler keeps nothing per ScaledObject (a changed ScaledObject is answered right away).
 */
import { DEFAULT_TARGET_CONCURRENCY, FUNCTION_NAME_HINT, ScalerMetadata, isFunctionName } from '../contract';
import type { ScaledObjectRef } from './protocol';

export type TargetKind = 'concurrency' | 'rps';

export interface ScalingTarget {
  readonly fn: string;
  readonly kind: TargetKind;
  /** Per-replica target value (> 0). */
  readonly target: number;
  /** The metric KEDA's HPA knows it by (KEDA adds an `s<trigger index>-` prefix of its own). */
  readonly metricName: string;
}

/** The ScaledObject's metadata cannot be used; answered with gRPC INVALID_ARGUMENT. */
export class TargetError extends Error {
  override readonly name = 'TargetError';
}

/** The metric name of one function's kind of demand. */
export function metricNameOf(fn: string, kind: TargetKind): string {
  return `kubefaas-${fn}-${kind}`;
}

export function readTarget(ref: ScaledObjectRef | undefined): ScalingTarget {
  if (ref === undefined) throw new TargetError('the request has no scaledObjectRef');
  const where = `ScaledObject ${ref.namespace || '?'}/${ref.name || '?'}`;
  const metadata = ref.scalerMetadata;
  const fn = metadata[ScalerMetadata.function];
  if (fn === undefined || fn === '') {
    throw new TargetError(`${where}: trigger metadata has no '${ScalerMetadata.function}' (the function to scale)`);
  }
  if (!isFunctionName(fn)) {
    throw new TargetError(`${where}: '${ScalerMetadata.function}' is ${JSON.stringify(fn)}; ${FUNCTION_NAME_HINT}`);
  }
  const rps = readPositive(metadata, ScalerMetadata.targetRps, where);
  if (rps !== undefined) return { fn, kind: 'rps', target: rps, metricName: metricNameOf(fn, 'rps') };
  const concurrency = readPositive(metadata, ScalerMetadata.targetConcurrency, where) ?? DEFAULT_TARGET_CONCURRENCY;
  return { fn, kind: 'concurrency', target: concurrency, metricName: metricNameOf(fn, 'concurrency') };
}

/**
 * The kind of demand GetMetrics asked for: the target's own, or the other kind when KEDA still holds
 * a metric spec from before the ScaledObject switched targets. Undefined for a metric that is not
 * this function's.
 */
export function kindOfMetric(target: ScalingTarget, metricName: string): TargetKind | undefined {
  if (metricName === '' || metricName === target.metricName) return target.kind;
  const other: TargetKind = target.kind === 'rps' ? 'concurrency' : 'rps';
  return metricName === metricNameOf(target.fn, other) ? other : undefined;
}

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

function readPositive(metadata: Readonly<Record<string, string>>, key: string, where: string): number | undefined {
  const raw = metadata[key];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = DECIMAL.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isFinite(value) || value <= 0) {
    throw new TargetError(`${where}: '${key}' is ${JSON.stringify(raw)}; it must be a decimal number above 0`);
  }
  return value;
}
