/** Turns the public (Duration-based) metrics options into the pure rule inputs of ./generators. */
import { Duration } from 'cdk8s';
import { IConstruct } from 'constructs';
import {
  DEFAULT_FUNCTION_ALERTS,
  DEFAULT_PLATFORM_ALERTS,
  FunctionAlertOverrides,
  MonitoredFunction,
  PlatformAlerts,
  alertProblems,
  mergeAlerts,
} from './generators';
import { ValidationError } from '../errors';
import { FUNCTION_DURATION_BUCKETS } from '../../src/contract';
import { warn } from '../placement/warnings';
import { AlertRuleOptions, FunctionAlertOptions, MonitoredFunctionInfo } from './options';

/** Whole seconds of a Duration (Prometheus rules and flags take whole seconds here). */
export function wholeSeconds(scope: IConstruct, what: string, value: Duration): number {
  const seconds = value instanceof Duration ? value.toSeconds({ integral: false }) : NaN;
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new ValidationError(
      scope,
      `${what} must be a whole number of seconds >= 0, got ${value instanceof Duration ? value.toHumanString() : String(value)}`,
      'Use e.g. Duration.minutes(5)',
    );
  }
  return seconds;
}

/** The same object with every Duration replaced by its whole seconds. */
function durationsToSeconds(scope: IConstruct, where: string, value: unknown): unknown {
  if (value instanceof Duration) return wholeSeconds(scope, where, value);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = durationsToSeconds(scope, `${where}.${k}`, v);
  return out;
}

function overridesInSeconds(
  scope: IConstruct,
  where: string,
  o: FunctionAlertOptions | undefined,
): FunctionAlertOverrides | undefined {
  return o === undefined ? undefined : (durationsToSeconds(scope, where, o) as FunctionAlertOverrides);
}

function check(scope: IConstruct, problems: string[]): void {
  if (problems.length > 0)
    throw new ValidationError(scope, problems.join('; '), 'Fix the alert settings in the metrics options');
}

/**
 * Checks one set of alert changes on its own (on top of the defaults), so bad values are reported
 * where they are written, at construction, instead of during synth. Functions call it for their
 * `alerts` prop; the metrics constructs for `rules.defaults` and each `rules.functions` entry.
 */
export function validateFunctionAlerts(
  scope: IConstruct,
  where: string,
  alerts: FunctionAlertOptions | undefined,
): void {
  if (alerts === undefined) return;
  const merged = mergeAlerts(
    DEFAULT_FUNCTION_ALERTS,
    DEFAULT_FUNCTION_ALERTS,
    overridesInSeconds(scope, where, alerts),
  );
  check(scope, alertProblems(where, merged));
}

/** Eager checks of the rule options (the function list is only known at synth). */
export function validateRuleOptions(scope: IConstruct, rules: AlertRuleOptions = {}): void {
  validateFunctionAlerts(scope, 'rules.defaults', rules.defaults);
  for (const [name, alerts] of Object.entries(rules.functions ?? {}))
    validateFunctionAlerts(scope, `rules.functions.${name}`, alerts);
  platformAlerts(scope, rules);
}

/** Names in `rules.functions` that are not functions of the platform (for `node.addValidation`). */
export function unknownRuleFunctions(
  functions: readonly MonitoredFunctionInfo[],
  rules: AlertRuleOptions = {},
): string[] {
  const known = new Set(functions.map((f) => f.name));
  return Object.keys(rules.functions ?? {})
    .filter((name) => !known.has(name))
    .map(
      (name) =>
        `metrics rules name function "${name}", which is not part of this platform. Use one of: ${[...known].sort().join(', ') || '(no functions)'}`,
    );
}

/**
 * Why a latency alert at `thresholdSeconds` cannot work with the runtimes' histogram, if it cannot:
 * above the largest finite bucket `histogram_quantile` answers at most that bound, so it never fires.
 */
export function latencyAlertBucketProblem(
  thresholdSeconds: number,
  buckets: readonly number[] = FUNCTION_DURATION_BUCKETS,
): string | undefined {
  const top = buckets[buckets.length - 1];
  return thresholdSeconds > top
    ? `its latency alert threshold (${thresholdSeconds} s) is above the duration histogram's top bucket (${top} s): it can never fire; lower latencyNearTimeout.timeoutFraction or the timeout`
    : undefined;
}

/** Effective alert settings of each function: defaults ← rules.defaults ← rules.functions[name] ← fn.alerts. */
export function monitoredFunctions(
  scope: IConstruct,
  functions: readonly MonitoredFunctionInfo[],
  rules: AlertRuleOptions = {},
): MonitoredFunction[] {
  const unknown = unknownRuleFunctions(functions, rules);
  if (unknown.length > 0) throw new ValidationError(scope, unknown.join('; '));
  const platformDefaults = overridesInSeconds(scope, 'rules.defaults', rules.defaults);
  return functions.map((fn) => {
    // Scale-to-zero functions have no replica on purpose; only alert on them when asked to.
    // Unscraped pods (a ContainerFunction without /metrics) have no `up == 1` to look for.
    const scaleToZero: FunctionAlertOverrides | undefined =
      (fn.minReplicas ?? 1) === 0 || fn.scraped === false ? { noReadyReplica: false } : undefined;
    const alerts = mergeAlerts(
      DEFAULT_FUNCTION_ALERTS,
      DEFAULT_FUNCTION_ALERTS,
      scaleToZero,
      platformDefaults,
      overridesInSeconds(scope, `rules.functions.${fn.name}`, rules.functions?.[fn.name]),
      overridesInSeconds(scope, `${fn.name}.alerts`, fn.alerts),
    );
    check(scope, alertProblems(`alerts of function "${fn.name}"`, alerts));
    const timeoutSeconds = fn.timeout.toMilliseconds() / 1000;
    if (alerts.latencyNearTimeout) {
      const problem = latencyAlertBucketProblem(alerts.latencyNearTimeout.timeoutFraction * timeoutSeconds);
      if (problem) warn(scope, 'metrics/latency-alert-above-buckets', `function "${fn.name}": ${problem}`);
    }
    return { name: fn.name, timeoutSeconds, alerts };
  });
}

export function platformAlerts(scope: IConstruct, rules: AlertRuleOptions = {}): PlatformAlerts {
  const override =
    rules.routerErrorRatio === undefined
      ? undefined
      : {
          routerErrorRatio: durationsToSeconds(
            scope,
            'rules.routerErrorRatio',
            rules.routerErrorRatio,
          ) as PlatformAlerts['routerErrorRatio'],
        };
  const alerts = mergeAlerts(DEFAULT_PLATFORM_ALERTS, DEFAULT_PLATFORM_ALERTS, override);
  check(scope, alertProblems('router alerts', alerts));
  return alerts;
}
