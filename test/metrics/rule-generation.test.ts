/** How settings become rules: partitions, catch-all, lint-clean duplicates, scale-to-zero. */
import { Duration } from 'cdk8s';
import { parse } from 'yaml';
import { Metrics } from '../../constructs/metrics';
import { Alerts, AlertingRule, RuleGroup, promDuration } from '../../constructs/metrics/generators';
import { find, run, synthMetrics, tempFiles } from './support';

function alertRules(groups: RuleGroup[], alert: string): AlertingRule[] {
  return groups.flatMap((g) => g.rules).filter((r): r is AlertingRule => 'alert' in r && r.alert === alert);
}

function synthRules(
  metrics: Metrics,
  functions: Parameters<typeof synthMetrics>[1],
): { yaml: string; groups: RuleGroup[] } {
  const yaml = find(synthMetrics(metrics, functions), 'ConfigMap', 'kubefaas-prometheus-rules').data[
    'kubefaas.rules.yml'
  ];
  return { yaml, groups: parse(yaml).groups };
}

describe('rule generation', () => {
  test('1000 functions with default settings: one short rule per alert', () => {
    const functions = Array.from({ length: 1000 }, (_, i) => ({ name: `fn-${i}`, timeout: Duration.seconds(30) }));
    const { groups } = synthRules(Metrics.prometheus(), functions);
    const error = alertRules(groups, Alerts.functionErrorRatio);
    expect(error).toHaveLength(1);
    expect(error[0].expr).toBe('kubefaas:function_error_ratio:rate5m{namespace="faas"} > 0.05');
    expect(alertRules(groups, Alerts.functionLatencyNearTimeout)[0].expr).toMatch(/> 24$/);
  });

  test('different thresholds share a rule (joined by or); a different `for` gets its own, lint-clean', async () => {
    const functions = [
      { name: 'a', timeout: Duration.seconds(10) },
      { name: 'b', timeout: Duration.seconds(10) },
      { name: 'c', timeout: Duration.seconds(10), alerts: { errorRatio: { threshold: 0.5 } } },
      { name: 'd', timeout: Duration.seconds(10), alerts: { errorRatio: { for: Duration.minutes(30) } } },
      { name: 'e', timeout: Duration.seconds(10), alerts: { errorRatio: false as const } },
    ];
    const { yaml, groups } = synthRules(Metrics.prometheus(), functions);
    const rules = alertRules(groups, Alerts.functionErrorRatio);
    expect(rules).toHaveLength(2);
    expect(rules[0].expr).toBe(
      '(kubefaas:function_error_ratio:rate5m{namespace="faas", function!~"c|d|e"} > 0.05) or (kubefaas:function_error_ratio:rate5m{namespace="faas", function=~"c"} > 0.5)',
    );
    expect(rules[1]).toEqual(
      expect.objectContaining({ for: '30m', labels: { severity: 'warning', kubefaas_for: '30m' } }),
    );
    expect(rules[1].expr).toContain('function=~"d"');
    const files = tempFiles({ 'rules.yml': yaml });
    try {
      const result = await run('promtool', ['check', 'rules', 'rules.yml'], files.dir);
      expect(result.output).not.toContain('duplicate');
      expect(result.code).toBe(0);
    } finally {
      files.cleanup();
    }
  });

  test('precedence: function alerts > rules.functions > rules.defaults > defaults; scale-to-zero opt-in', () => {
    const functions = [
      { name: 'a', timeout: Duration.seconds(10), alerts: { latencyNearTimeout: { timeoutFraction: 0.9 } } },
      { name: 'z', timeout: Duration.seconds(10), minReplicas: 0 },
      { name: 'y', timeout: Duration.seconds(10), minReplicas: 0, alerts: { noReadyReplica: {} } },
    ];
    const { groups } = synthRules(
      Metrics.prometheus({
        rules: {
          defaults: { latencyNearTimeout: { timeoutFraction: 0.5 } },
          functions: { a: { latencyNearTimeout: { timeoutFraction: 0.7 } } },
        },
      }),
      functions,
    );
    const latency = alertRules(groups, Alerts.functionLatencyNearTimeout)[0].expr;
    expect(latency).toContain('function=~"a"} > 9');
    expect(latency).toContain('function!~"a"} > 5');
    const noReplica = alertRules(groups, Alerts.functionNoReadyReplica);
    expect(noReplica).toHaveLength(1);
    expect(noReplica[0].expr).toContain('function=~"a|y"'); // z scales to zero: left out
  });

  test('disabling the router alert and Prometheus durations', () => {
    const { groups } = synthRules(Metrics.prometheus({ rules: { routerErrorRatio: false } }), []);
    expect(alertRules(groups, Alerts.routerErrorRatio)).toEqual([]);
    expect([0, 45, 120, 7200, 5400].map(promDuration)).toEqual(['0s', '45s', '2m', '2h', '90m']);
  });
});
