/**
 * Recording and alerting rules as data. The same groups go into the bundled Prometheus's rule file
 * and into a PrometheusRule's `spec.groups` (their shapes are identical), so both modes alert alike.
 */
import { MetricNames } from '../../../src/contract';
import { AlertPartition, DEFAULT_PLATFORM_ALERTS, FunctionAlerts, PlatformAlerts, partitionFunctions } from './alerts';
import { ERROR_OUTCOMES } from './catalog';
import { promDuration } from './duration';

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export type Rule = RecordingRule | AlertingRule;

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Rule[];
}

/** What the rules need to know about one function. */
export interface MonitoredFunction {
  readonly name: string;
  /** The function's timeout in seconds (its latency alert is relative to it). */
  readonly timeoutSeconds: number;
  /** Effective alert settings (defaults merged with overrides). */
  readonly alerts: FunctionAlerts;
}

export interface RuleInput {
  /** Namespace of the platform: every selector is scoped to it, so several platforms can share a Prometheus. */
  readonly namespace: string;
  readonly functions: readonly MonitoredFunction[];
  /** @default DEFAULT_PLATFORM_ALERTS */
  readonly platform?: PlatformAlerts;
}

/** Window of the rate-based recording rules. */
export const RATE_WINDOW = '5m';

/** Names of the recording rules (documented in docs/metrics.md, used by the dashboard). */
export const RecordingRules = {
  functionInvocationRate: 'kubefaas:function_invocations:rate5m',
  functionErrorRatio: 'kubefaas:function_error_ratio:rate5m',
  functionDurationP99: 'kubefaas:function_duration_seconds:p99_5m',
  routerRequestRate: 'kubefaas:router_requests:rate5m',
  routerErrorRatio: 'kubefaas:router_5xx_ratio:rate5m',
  routerUpstreamP99: 'kubefaas:router_upstream_duration_seconds:p99_5m',
  queueDeliveryRate: 'kubefaas:queue_deliveries:rate5m',
} as const;

/** Alert names (stable: users route on them). */
export const Alerts = {
  functionErrorRatio: 'KubefaasFunctionErrorRatioHigh',
  functionLatencyNearTimeout: 'KubefaasFunctionLatencyNearTimeout',
  functionNoReadyReplica: 'KubefaasFunctionNoReadyReplica',
  queueDeadLetters: 'KubefaasQueueDeadLetters',
  queueLagGrowing: 'KubefaasQueueLagGrowing',
  routerErrorRatio: 'KubefaasRouterErrorRatioHigh',
} as const;

/** Escapes a literal for use inside a PromQL double-quoted string. */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** RE2 regex matching exactly one of the literals. */
function alternatives(values: readonly string[]): string {
  return values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

/** Label matchers `{a="x", b=~"y"}` from a list of already rendered matchers. */
function selector(metric: string, matchers: readonly string[]): string {
  return `${metric}{${matchers.join(', ')}}`;
}

/**
 * The function matcher of one partition. The largest partition of an alert is its catch-all: it
 * excludes the other functions instead of listing its own, so a 1000-function platform with default
 * settings gets one short rule, and functions added outside this app are still covered.
 */
function functionMatcher(
  partition: AlertPartition<unknown>,
  index: number,
  all: readonly string[],
): string | undefined {
  if (index === 0) {
    const mine = new Set(partition.functions);
    const others = all.filter((f) => !mine.has(f));
    return others.length === 0 ? undefined : `function!~${quote(alternatives(others))}`;
  }
  return `function=~${quote(alternatives(partition.functions))}`;
}

function nsMatcher(namespace: string): string {
  return `namespace=${quote(namespace)}`;
}

function recordingGroup(namespace: string): RuleGroup {
  const ns = nsMatcher(namespace);
  const inv = MetricNames.functionInvocations;
  const errors = `outcome=~${quote(alternatives(ERROR_OUTCOMES))}`;
  const byFn = 'sum by (namespace, function)';
  const rate = (metric: string, matchers: string[]): string => `rate(${selector(metric, matchers)}[${RATE_WINDOW}])`;
  // `(errors or total * 0) / total`: without it the ratio is absent (not 0) while nothing fails.
  const ratio = (by: string, failing: string, all: string): string =>
    `(${by} (${failing}) or ${by} (${all}) * 0) / ${by} (${all})`;
  return {
    name: `kubefaas.${namespace}.recording`,
    rules: [
      {
        record: RecordingRules.functionInvocationRate,
        expr: `sum by (namespace, function, trigger, outcome) (${rate(inv, [ns])})`,
      },
      { record: RecordingRules.functionErrorRatio, expr: ratio(byFn, rate(inv, [ns, errors]), rate(inv, [ns])) },
      {
        record: RecordingRules.functionDurationP99,
        expr: `histogram_quantile(0.99, sum by (namespace, function, le) (${rate(`${MetricNames.functionDuration}_bucket`, [ns])}))`,
      },
      {
        record: RecordingRules.routerRequestRate,
        expr: `sum by (namespace, function, status) (${rate(MetricNames.routerRequests, [ns])})`,
      },
      {
        record: RecordingRules.routerErrorRatio,
        expr: ratio(
          'sum by (namespace)',
          rate(MetricNames.routerRequests, [ns, 'status=~"5.."']),
          rate(MetricNames.routerRequests, [ns]),
        ),
      },
      {
        record: RecordingRules.routerUpstreamP99,
        expr: `histogram_quantile(0.99, sum by (namespace, function, le) (${rate(`${MetricNames.routerUpstreamDuration}_bucket`, [ns])}))`,
      },
      {
        record: RecordingRules.queueDeliveryRate,
        expr: `sum by (namespace, function, trigger, outcome) (${rate(MetricNames.queueDeliveries, [ns])})`,
      },
    ],
  };
}

function withMatchers(base: string[], fnMatcher: string | undefined): string[] {
  return fnMatcher ? [...base, fnMatcher] : base;
}

function percent(ratio: number): string {
  return `${Number((ratio * 100).toFixed(2))}%`;
}

interface AlertSpec<S> {
  readonly alert: string;
  readonly partitions: readonly AlertPartition<S>[];
  /** The firing condition for the functions of partition `index`. */
  readonly condition: (partition: AlertPartition<S>, index: number) => string;
  readonly forSeconds?: (settings: S) => number;
  readonly severity: (settings: S) => string;
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * One rule per (severity, for) of an alert: partitions that differ only in thresholds are joined
 * with `or` (their function matchers are disjoint). Rules of one alert must differ in their labels
 * (promtool lints same name + labels as duplicates), so a rule whose severity is already taken by a
 * rule with another `for` gets a `kubefaas_for` label.
 */
function alertRules<S>(spec: AlertSpec<S>): AlertingRule[] {
  const byTiming = new Map<string, { severity: string; forSeconds?: number; conditions: string[] }>();
  spec.partitions.forEach((p, i) => {
    const severity = spec.severity(p.settings);
    const forSeconds = spec.forSeconds?.(p.settings);
    const key = `${severity}/${forSeconds ?? ''}`;
    const entry = byTiming.get(key) ?? { severity, forSeconds, conditions: [] };
    entry.conditions.push(spec.condition(p, i));
    byTiming.set(key, entry);
  });
  const severitiesSeen = new Set<string>();
  return [...byTiming.values()].map((entry) => {
    const labels: Record<string, string> = { severity: entry.severity };
    if (severitiesSeen.has(entry.severity)) labels.kubefaas_for = promDuration(entry.forSeconds ?? 0);
    severitiesSeen.add(entry.severity);
    const expr =
      entry.conditions.length === 1 ? entry.conditions[0] : entry.conditions.map((c) => `(${c})`).join(' or ');
    return {
      alert: spec.alert,
      expr,
      ...(entry.forSeconds !== undefined ? { for: promDuration(entry.forSeconds) } : {}),
      labels,
      annotations: spec.annotations,
    };
  });
}

function alertingGroup(input: RuleInput): RuleGroup {
  const { namespace, functions } = input;
  const platform = input.platform ?? DEFAULT_PLATFORM_ALERTS;
  const ns = nsMatcher(namespace);
  const names = functions.map((f) => f.name);
  const stable = (o: object): string => JSON.stringify(o);
  const rules: AlertingRule[] = [];

  rules.push(
    ...alertRules({
      alert: Alerts.functionErrorRatio,
      partitions: partitionFunctions(functions, (f) => f.alerts.errorRatio, stable),
      condition: (p, i) =>
        `${selector(RecordingRules.functionErrorRatio, withMatchers([ns], functionMatcher(p, i, names)))} > ${p.settings.threshold}`,
      forSeconds: (s) => s.for,
      severity: (s) => s.severity,
      annotations: {
        summary: 'Function {{ $labels.function }} fails {{ $value | humanizePercentage }} of its invocations',
        description:
          '{{ $value | humanizePercentage }} of invocations of {{ $labels.namespace }}/{{ $labels.function }} ended in error or timeout over the last ' +
          RATE_WINDOW +
          ', above its alert threshold.',
      },
    }),
  );

  // The threshold depends on each function's timeout, so the timeout is part of the partition key.
  rules.push(
    ...alertRules({
      alert: Alerts.functionLatencyNearTimeout,
      partitions: partitionFunctions(
        functions,
        (f) =>
          f.alerts.latencyNearTimeout ? { ...f.alerts.latencyNearTimeout, timeoutSeconds: f.timeoutSeconds } : false,
        stable,
      ),
      condition: (p, i) => {
        const threshold = Number((p.settings.timeoutFraction * p.settings.timeoutSeconds).toFixed(3));
        return `${selector(RecordingRules.functionDurationP99, withMatchers([ns], functionMatcher(p, i, names)))} > ${threshold}`;
      },
      forSeconds: (s) => s.for,
      severity: (s) => s.severity,
      annotations: {
        summary: 'Function {{ $labels.function }} p99 latency is near its timeout',
        description:
          'p99 duration of {{ $labels.namespace }}/{{ $labels.function }} is {{ $value | humanizeDuration }}, close to its timeout; requests are about to be cut off with 504.',
      },
    }),
  );

  // `up` is the runtime answering its metrics endpoint, which it does once the handler is loaded.
  // Functions that had a target in the last hour and now have none that is up: covers crash loops,
  // failing probes that kill the pod and pods stuck Pending (they are kept as down targets), without
  // kube-state-metrics. Listed positively so removed functions stop alerting.
  rules.push(
    ...alertRules({
      alert: Alerts.functionNoReadyReplica,
      partitions: partitionFunctions(functions, (f) => f.alerts.noReadyReplica, stable),
      condition: (p) => {
        const up = selector('up', [ns, 'component="function"', `function=~${quote(alternatives(p.functions))}`]);
        return `max by (namespace, function) (max_over_time(${up}[1h])) unless on (namespace, function) (${up} == 1)`;
      },
      forSeconds: (s) => s.for,
      severity: (s) => s.severity,
      annotations: {
        summary: 'Function {{ $labels.function }} has no replica answering',
        description:
          'No pod of {{ $labels.namespace }}/{{ $labels.function }} has answered a scrape for a while: requests to it fail with 502/503.',
      },
    }),
  );

  rules.push(
    ...alertRules({
      alert: Alerts.queueDeadLetters,
      partitions: partitionFunctions(functions, (f) => f.alerts.deadLetters, stable),
      condition: (p, i) => {
        const counter = selector(MetricNames.queueDeadLetters, withMatchers([ns], functionMatcher(p, i, names)));
        return `sum by (namespace, function, trigger) (increase(${counter}[${promDuration(p.settings.window)}])) > ${p.settings.threshold}`;
      },
      severity: (s) => s.severity,
      annotations: {
        summary: 'Function {{ $labels.function }} dead-letters messages of {{ $labels.trigger }}',
        description:
          '{{ $value | humanize }} messages of {{ $labels.trigger }} were given up on by {{ $labels.namespace }}/{{ $labels.function }} recently.',
      },
    }),
  );

  rules.push(
    ...alertRules({
      alert: Alerts.queueLagGrowing,
      partitions: partitionFunctions(functions, (f) => f.alerts.queueLag, stable),
      condition: (p, i) => {
        const lag = selector(MetricNames.queueConsumerLag, withMatchers([ns], functionMatcher(p, i, names)));
        return `deriv(${lag}[${promDuration(p.settings.window)}]) > 0 and ${lag} > ${p.settings.minMessages}`;
      },
      forSeconds: (s) => s.for,
      severity: (s) => s.severity,
      annotations: {
        summary: 'Queue lag of {{ $labels.function }} on {{ $labels.trigger }} keeps growing',
        description:
          '{{ $labels.namespace }}/{{ $labels.function }} consumes {{ $labels.trigger }} slower than messages arrive and its backlog keeps growing.',
      },
    }),
  );

  if (platform.routerErrorRatio) {
    const s = platform.routerErrorRatio;
    rules.push({
      alert: Alerts.routerErrorRatio,
      expr: `${selector(RecordingRules.routerErrorRatio, [ns])} > ${s.threshold}`,
      for: promDuration(s.for),
      labels: { severity: s.severity },
      annotations: {
        summary: `The kubefaas router answers more than ${percent(s.threshold)} of requests with 5xx`,
        description:
          '{{ $value | humanizePercentage }} of requests through the router of {{ $labels.namespace }} got a 5xx answer over the last ' +
          RATE_WINDOW +
          '.',
      },
    });
  }

  return { name: `kubefaas.${namespace}.alerts`, rules };
}

/** All rule groups of a platform: recording rules first (alerts use them), then alerts. */
export function ruleGroups(input: RuleInput): RuleGroup[] {
  return [recordingGroup(input.namespace), alertingGroup(input)];
}
