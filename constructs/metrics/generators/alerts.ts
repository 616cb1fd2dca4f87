/**
 * Alert settings: the defaults, how per-function overrides merge into them, and how functions are
 * grouped so that one rule serves every function with the same effective settings. Pure data, no
 * cdk8s: the cdk8s constructs and the Pulumi adapter share it. Durations are a type parameter so the
 * public API can take cdk8s `Duration`s while rule generation works in seconds.
 */

export type Severity = 'info' | 'warning' | 'critical';

/** Fires when the share of failed invocations (or router 5xx answers) stays above `threshold`. */
export interface ErrorRatioAlert<D = number> {
  /** Ratio in (0, 1]. @default 0.05 */
  readonly threshold: number;
  /** How long the condition must hold. @default 5 minutes */
  readonly for: D;
  /** @default 'warning' */
  readonly severity: Severity;
}

/** Fires when the p99 duration reaches `timeoutFraction` of the function's timeout. */
export interface LatencyNearTimeoutAlert<D = number> {
  /** Fraction of the timeout in (0, 1]. @default 0.8 */
  readonly timeoutFraction: number;
  /** @default 10 minutes */
  readonly for: D;
  /** @default 'warning' */
  readonly severity: Severity;
}

/** Fires when no replica of a function answers its metrics endpoint (see docs/metrics.md). */
export interface NoReadyReplicaAlert<D = number> {
  /** @default 5 minutes */
  readonly for: D;
  /** @default 'critical' */
  readonly severity: Severity;
}

/** Fires when more than `threshold` messages were dead-lettered within `window`. */
export interface DeadLetterAlert<D = number> {
  /** @default 0 (any dead letter) */
  readonly threshold: number;
  /** @default 10 minutes */
  readonly window: D;
  /** @default 'warning' */
  readonly severity: Severity;
}

/** Fires when a consumer's lag keeps growing over `window` while above `minMessages`. */
export interface QueueLagAlert<D = number> {
  /** @default 100 */
  readonly minMessages: number;
  /** Window of the growth trend (`deriv`). @default 15 minutes */
  readonly window: D;
  /** @default 15 minutes */
  readonly for: D;
  /** @default 'warning' */
  readonly severity: Severity;
}

/** Every alert that exists per function; `false` turns one off. */
export interface FunctionAlerts<D = number> {
  readonly errorRatio: ErrorRatioAlert<D> | false;
  readonly latencyNearTimeout: LatencyNearTimeoutAlert<D> | false;
  readonly noReadyReplica: NoReadyReplicaAlert<D> | false;
  readonly deadLetters: DeadLetterAlert<D> | false;
  readonly queueLag: QueueLagAlert<D> | false;
}

/** A partial change to some alerts: unspecified fields keep their defaults, `false` disables. */
export type FunctionAlertOverrides<D = number> = {
  readonly [K in keyof FunctionAlerts<D>]?: Partial<Exclude<FunctionAlerts<D>[K], false>> | false;
};

export interface PlatformAlerts<D = number> {
  readonly routerErrorRatio: ErrorRatioAlert<D> | false;
}

export type PlatformAlertOverrides<D = number> = {
  readonly [K in keyof PlatformAlerts<D>]?: Partial<Exclude<PlatformAlerts<D>[K], false>> | false;
};

const MINUTE = 60;

export const DEFAULT_FUNCTION_ALERTS: FunctionAlerts = {
  errorRatio: { threshold: 0.05, for: 5 * MINUTE, severity: 'warning' },
  latencyNearTimeout: { timeoutFraction: 0.8, for: 10 * MINUTE, severity: 'warning' },
  noReadyReplica: { for: 5 * MINUTE, severity: 'critical' },
  deadLetters: { threshold: 0, window: 10 * MINUTE, severity: 'warning' },
  queueLag: { minMessages: 100, window: 15 * MINUTE, for: 15 * MINUTE, severity: 'warning' },
};

export const DEFAULT_PLATFORM_ALERTS: PlatformAlerts = {
  routerErrorRatio: { threshold: 0.05, for: 5 * MINUTE, severity: 'warning' },
};

/**
 * Applies overrides in order (later wins) on top of `base`. An override object on a disabled alert
 * re-enables it with the defaults filled in from `defaults`.
 */
export function mergeAlerts<T extends object>(
  defaults: T,
  base: T,
  ...overrides: ReadonlyArray<{ readonly [K in keyof T]?: Partial<Exclude<T[K], false>> | false } | undefined>
): T {
  const result: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const override of overrides) {
    if (!override) continue;
    for (const [key, value] of Object.entries(override)) {
      if (value === undefined) continue;
      if (value === false) {
        result[key] = false;
      } else {
        const current = result[key] || (defaults as Record<string, unknown>)[key];
        result[key] = { ...(current as object), ...(value as object) };
      }
    }
  }
  return result as T;
}

/** Checks numeric ranges; returns problems as sentences (empty when valid). */
export function alertProblems(where: string, alerts: Partial<FunctionAlerts & PlatformAlerts>): string[] {
  const problems: string[] = [];
  const ratio = (what: string, v: number): void => {
    if (!(v > 0 && v <= 1)) problems.push(`${where}: ${what} must be in (0, 1], got ${v}`);
  };
  const nonNegative = (what: string, v: number): void => {
    if (!(Number.isFinite(v) && v >= 0)) problems.push(`${where}: ${what} must be a number >= 0, got ${v}`);
  };
  const positive = (what: string, v: number): void => {
    if (!(Number.isFinite(v) && v > 0)) problems.push(`${where}: ${what} must be a duration > 0, got ${v}s`);
  };
  if (alerts.errorRatio) {
    ratio('errorRatio.threshold', alerts.errorRatio.threshold);
    nonNegative('errorRatio.for', alerts.errorRatio.for);
  }
  if (alerts.routerErrorRatio) {
    ratio('routerErrorRatio.threshold', alerts.routerErrorRatio.threshold);
    nonNegative('routerErrorRatio.for', alerts.routerErrorRatio.for);
  }
  if (alerts.latencyNearTimeout) {
    ratio('latencyNearTimeout.timeoutFraction', alerts.latencyNearTimeout.timeoutFraction);
    nonNegative('latencyNearTimeout.for', alerts.latencyNearTimeout.for);
  }
  if (alerts.noReadyReplica) nonNegative('noReadyReplica.for', alerts.noReadyReplica.for);
  if (alerts.deadLetters) {
    nonNegative('deadLetters.threshold', alerts.deadLetters.threshold);
    positive('deadLetters.window', alerts.deadLetters.window);
  }
  if (alerts.queueLag) {
    nonNegative('queueLag.minMessages', alerts.queueLag.minMessages);
    positive('queueLag.window', alerts.queueLag.window);
    nonNegative('queueLag.for', alerts.queueLag.for);
  }
  return problems;
}

/** Functions that share one effective setting, so one rule can cover them all. */
export interface AlertPartition<S> {
  readonly settings: S;
  readonly functions: readonly string[];
}

/**
 * Groups functions by an alert's effective settings (`key` decides equality; it may fold in the
 * timeout). Disabled functions are left out. Sorted by size, largest first, then by key, so the
 * output is deterministic.
 */
export function partitionFunctions<F extends { readonly name: string }, S>(
  functions: readonly F[],
  settingsOf: (fn: F) => S | false,
  key: (settings: S, fn: F) => string,
): AlertPartition<S>[] {
  const groups = new Map<string, { settings: S; functions: string[] }>();
  for (const fn of functions) {
    const settings = settingsOf(fn);
    if (settings === false) continue;
    const k = key(settings, fn);
    const group = groups.get(k) ?? { settings, functions: [] };
    group.functions.push(fn.name);
    groups.set(k, group);
  }
  return [...groups.entries()]
    .sort(([ka, a], [kb, b]) => b.functions.length - a.functions.length || (ka < kb ? -1 : ka > kb ? 1 : 0))
    .map(([, g]) => ({ settings: g.settings, functions: [...g.functions].sort() }));
}
