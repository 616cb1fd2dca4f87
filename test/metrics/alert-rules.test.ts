/**
 * `promtool test rules`: each alert fires on the series it should and stays silent otherwise. The
 * rule file under test is the one the bundled Prometheus loads (synthesized through the construct),
 * with annotations removed: promtool compares annotations verbatim, and their templates are already
 * checked by `promtool check rules` in prometheus-server.test.ts.
 */
import { Duration } from 'cdk8s';
import { parse, stringify } from 'yaml';
import { MetricNames } from '../../src/contract';
import { Alerts, RecordingRules } from '../../constructs/metrics/generators';
import { Metrics } from '../../constructs/metrics';
import { NAMESPACE, find, run, synthMetrics, tempFiles } from './support';

const ns = `namespace="${NAMESPACE}"`;

interface Series {
  readonly series: string;
  readonly values: string;
}
interface ExpectedAlert {
  readonly exp_labels: Record<string, string>;
}
interface AlertCheck {
  readonly eval_time: string;
  readonly alertname: string;
  readonly exp_alerts: ExpectedAlert[];
}
interface UnitTest {
  readonly name: string;
  readonly interval: string;
  readonly input_series: Series[];
  readonly alert_rule_test?: AlertCheck[];
  readonly promql_expr_test?: unknown[];
}

function fnAlert(fn: string, extra: Record<string, string> = {}, severity = 'warning'): ExpectedAlert {
  return { exp_labels: { severity, namespace: NAMESPACE, function: fn, ...extra } };
}

/** Counter series for invocations of `fn` with outcome `outcome`, growing by `perMinute`. */
function invocations(fn: string, outcome: string, perMinute: number, minutes = 30): Series {
  return {
    series: `${MetricNames.functionInvocations}{${ns}, function="${fn}", trigger="http", outcome="${outcome}"}`,
    values: `0+${perMinute}x${minutes}`,
  };
}

/** Histogram buckets where every observation falls in (lower, upper]. */
function durations(fn: string, lower: number, upper: number): Series[] {
  const bounds = ['0.1', '1', '5', '10', '30', '60', '+Inf'];
  return bounds.map((le) => ({
    series: `${MetricNames.functionDuration}_bucket{${ns}, function="${fn}", trigger="http", le="${le}"}`,
    values: (le === '+Inf' || Number(le) >= upper) && !(Number(le) <= lower) ? '0+10x30' : '0x30',
  }));
}

const TESTS: UnitTest[] = [
  {
    name: 'error ratio: default threshold, per-function override, catch-all for unknown functions',
    interval: '1m',
    input_series: [
      invocations('hello', 'success', 60),
      invocations('hello', 'error', 10), // 14%: above the default 5%
      invocations('resize', 'success', 60),
      invocations('resize', 'timeout', 10), // 14%: below resize's 20%
      invocations('analytics', 'success', 60), // no errors
      invocations('added-later', 'success', 10),
      invocations('added-later', 'error', 10), // not known at synth
      invocations('batch', 'success', 10),
      invocations('batch', 'rejected', 10), // 429s are not errors
    ],
    alert_rule_test: [
      { eval_time: '3m', alertname: Alerts.functionErrorRatio, exp_alerts: [] }, // not yet for 5m
      {
        eval_time: '15m',
        alertname: Alerts.functionErrorRatio,
        exp_alerts: [fnAlert('added-later'), fnAlert('hello')],
      },
    ],
    promql_expr_test: [
      {
        expr: `${RecordingRules.functionErrorRatio}{function="analytics"}`,
        eval_time: '15m',
        exp_samples: [{ labels: `${RecordingRules.functionErrorRatio}{${ns}, function="analytics"}`, value: 0 }],
      },
    ],
  },
  {
    name: 'p99 latency near the function timeout',
    interval: '1m',
    input_series: [
      ...durations('hello', 5, 10), // p99 ~9.95s, timeout 10s: above 80%
      ...durations('resize', 5, 10), // same latency, timeout 60s: fine
      ...durations('analytics', 0.1, 1), // fast
    ],
    alert_rule_test: [
      { eval_time: '8m', alertname: Alerts.functionLatencyNearTimeout, exp_alerts: [] }, // not yet for 10m
      { eval_time: '20m', alertname: Alerts.functionLatencyNearTimeout, exp_alerts: [fnAlert('hello')] },
    ],
  },
  {
    name: 'no ready replica: down targets and vanished targets fire, scale-to-zero stays silent',
    interval: '1m',
    input_series: [
      { series: `up{${ns}, component="function", function="hello", pod="hello-1"}`, values: '1x10 0x30' },
      { series: `up{${ns}, component="function", function="resize", pod="resize-1"}`, values: '1x10 _x30' },
      { series: `up{${ns}, component="function", function="analytics", pod="analytics-1"}`, values: '0x10 1x30' },
      { series: `up{${ns}, component="function", function="analytics", pod="analytics-2"}`, values: '1x40' },
      { series: `up{${ns}, component="function", function="batch", pod="batch-1"}`, values: '1x10 _x30' },
    ],
    alert_rule_test: [
      { eval_time: '12m', alertname: Alerts.functionNoReadyReplica, exp_alerts: [] },
      {
        eval_time: '30m',
        alertname: Alerts.functionNoReadyReplica,
        exp_alerts: [fnAlert('hello', {}, 'critical'), fnAlert('resize', {}, 'critical')],
      },
    ],
  },
  {
    name: 'dead letters',
    interval: '1m',
    input_series: [
      { series: `${MetricNames.queueDeadLetters}{${ns}, function="hello", trigger="orders"}`, values: '0x10 1x20' },
      { series: `${MetricNames.queueDeadLetters}{${ns}, function="analytics", trigger="clicks"}`, values: '0x30' },
    ],
    alert_rule_test: [
      { eval_time: '8m', alertname: Alerts.queueDeadLetters, exp_alerts: [] },
      { eval_time: '15m', alertname: Alerts.queueDeadLetters, exp_alerts: [fnAlert('hello', { trigger: 'orders' })] },
      { eval_time: '29m', alertname: Alerts.queueDeadLetters, exp_alerts: [] }, // no new ones for 10m+
    ],
  },
  {
    name: 'queue lag growing',
    interval: '1m',
    input_series: [
      { series: `${MetricNames.queueConsumerLag}{${ns}, function="hello", trigger="orders"}`, values: '0+20x40' },
      { series: `${MetricNames.queueConsumerLag}{${ns}, function="analytics", trigger="clicks"}`, values: '500x40' }, // large but steady
      { series: `${MetricNames.queueConsumerLag}{${ns}, function="resize", trigger="images"}`, values: '0+1x40' }, // growing but small
    ],
    alert_rule_test: [
      { eval_time: '10m', alertname: Alerts.queueLagGrowing, exp_alerts: [] },
      { eval_time: '35m', alertname: Alerts.queueLagGrowing, exp_alerts: [fnAlert('hello', { trigger: 'orders' })] },
    ],
  },
  {
    name: 'router 5xx ratio',
    interval: '1m',
    input_series: [
      {
        series: `${MetricNames.routerRequests}{${ns}, route="/hello", method="GET", status="200", function="hello"}`,
        values: '0+100x30',
      },
      {
        series: `${MetricNames.routerRequests}{${ns}, route="/hello", method="GET", status="502", function="hello"}`,
        values: '0+10x30',
      },
      { series: `${MetricNames.routerRequests}{${ns}, method="GET", status="404"}`, values: '0+50x30' },
    ],
    alert_rule_test: [
      { eval_time: '3m', alertname: Alerts.routerErrorRatio, exp_alerts: [] },
      {
        eval_time: '15m',
        alertname: Alerts.routerErrorRatio,
        exp_alerts: [{ exp_labels: { severity: 'warning', namespace: NAMESPACE } }],
      },
    ],
  },
  {
    name: 'router without 5xx stays silent',
    interval: '1m',
    input_series: [
      {
        series: `${MetricNames.routerRequests}{${ns}, route="/hello", method="GET", status="200", function="hello"}`,
        values: '0+100x30',
      },
      {
        series: `${MetricNames.routerRequests}{${ns}, route="/hello", method="GET", status="500", function="hello"}`,
        values: '0+1x30',
      },
    ],
    alert_rule_test: [{ eval_time: '20m', alertname: Alerts.routerErrorRatio, exp_alerts: [] }],
  },
];

function rulesWithoutAnnotations(rulesYaml: string): string {
  const doc = parse(rulesYaml);
  for (const group of doc.groups) for (const rule of group.rules) delete rule.annotations;
  return stringify(doc);
}

describe('alert rules (promtool test rules)', () => {
  const functions = [
    { name: 'hello', timeout: Duration.seconds(10) },
    { name: 'analytics', timeout: Duration.seconds(10) },
    { name: 'resize', timeout: Duration.seconds(60) },
    { name: 'batch', timeout: Duration.seconds(10), minReplicas: 0 },
  ];
  const objects = synthMetrics(
    Metrics.prometheus({ rules: { functions: { resize: { errorRatio: { threshold: 0.2 } } } } }),
    functions,
  );
  const rules = find(objects, 'ConfigMap', 'kubefaas-prometheus-rules').data['kubefaas.rules.yml'];

  test.each(TESTS.map((t) => [t.name, t] as const))('%s', async (_name, unitTest) => {
    const files = tempFiles({
      'rules.yml': rulesWithoutAnnotations(rules),
      'test.yml': stringify({ rule_files: ['rules.yml'], evaluation_interval: '1m', tests: [unitTest] }),
    });
    try {
      const result = await run('promtool', ['test', 'rules', 'test.yml'], files.dir);
      expect(result.output).toContain('SUCCESS');
      expect(result.code).toBe(0);
    } finally {
      files.cleanup();
    }
  });

  test('a wrong expectation fails (the harness can fail)', async () => {
    const wrong: UnitTest = {
      ...TESTS[0],
      alert_rule_test: [{ eval_time: '15m', alertname: Alerts.functionErrorRatio, exp_alerts: [fnAlert('analytics')] }],
    };
    const files = tempFiles({
      'rules.yml': rulesWithoutAnnotations(rules),
      'test.yml': stringify({ rule_files: ['rules.yml'], evaluation_interval: '1m', tests: [wrong] }),
    });
    try {
      expect((await run('promtool', ['test', 'rules', 'test.yml'], files.dir)).code).not.toBe(0);
    } finally {
      files.cleanup();
    }
  });
});
