/** The Grafana dashboard: valid JSON, labelled for the sidecar, queries that parse and name real metrics. */
import { stringify } from 'yaml';
import { Metrics } from '../../constructs/metrics';
import { METRIC_CATALOG, RecordingRules, seriesNames } from '../../constructs/metrics/generators';
import { metricNames } from './promql-names';
import { NAMESPACE, find, run, synthMetrics, tempFiles } from './support';

/** Standard series our queries may use besides the catalog: `up` comes from every scrape. */
const STANDARD_SERIES = ['up'];
const KNOWN = new Set([...METRIC_CATALOG.flatMap(seriesNames), ...Object.values(RecordingRules), ...STANDARD_SERIES]);

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

function dashboardOf(metrics: Metrics): { json: string; labels: Record<string, string> } {
  const cm = find(synthMetrics(metrics), 'ConfigMap', 'kubefaas-dashboard');
  return { json: cm.data[`kubefaas-${NAMESPACE}.json`], labels: cm.metadata.labels };
}

/** Grafana variables replaced by values Prometheus accepts, so queries can be checked by promtool. */
function asPromQL(expr: string): string {
  return expr.replace(/\$__rate_interval/g, '5m').replace(/\$function/g, '.*');
}

describe('Grafana dashboard', () => {
  const { json, labels } = dashboardOf(Metrics.prometheus());
  const dashboard = JSON.parse(json);
  const panels: Panel[] = dashboard.panels.filter((p: Panel) => p.type !== 'row');
  const queries = [
    ...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    dashboard.templating.list[1].definition.replace(/^label_values\((.*), function\)$/, '$1'),
  ];

  test('is labelled for the Grafana sidecar and emitted in both modes', () => {
    expect(labels.grafana_dashboard).toBe('1');
    expect(dashboardOf(Metrics.operator()).json).toBe(json);
  });

  test('has RED panels for functions, the router and the queue, and a scaling row', () => {
    const rows = dashboard.panels.filter((p: Panel) => p.type === 'row').map((p: Panel) => p.title);
    expect(rows).toEqual(['Functions', 'Router', 'Queue', 'Scaling']);
    const titles = panels.map((p) => p.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        'Invocations per second',
        'Error ratio',
        'Duration p50 / p99',
        '5xx ratio',
        'Consumer lag',
        'Retries and dead letters',
      ]),
    );
    expect(new Set(dashboard.panels.map((p: { id: number }) => p.id)).size).toBe(dashboard.panels.length);
  });

  test('every query names only metrics that exist', () => {
    const unknown = queries.flatMap((q) =>
      metricNames(q)
        .filter((n) => !KNOWN.has(n))
        .map((n) => `${n} in ${q}`),
    );
    expect(unknown).toEqual([]);
    const used = new Set(queries.flatMap(metricNames));
    // Every catalog metric appears somewhere on the dashboard.
    expect(METRIC_CATALOG.filter((m) => !seriesNames(m).some((s) => used.has(s))).map((m) => m.name)).toEqual([]);
  });

  test('the name extractor sees through functions, matchers and grouping (and can flag unknown names)', () => {
    expect(metricNames('sum by (function, le) (rate(foo_bucket{a="b", c=~"x|y"}[5m])) / on (x) bar')).toEqual([
      'foo_bucket',
      'bar',
    ]);
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le) (rate(kubefaas_nope_seconds_bucket{namespace="faas"}[$__rate_interval])))',
      ),
    ).toEqual(['kubefaas_nope_seconds_bucket']);
  });

  test('every query parses (promtool check rules on them as recording rules)', async () => {
    const rules = {
      groups: [
        { name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: asPromQL(q) })) },
      ],
    };
    const files = tempFiles({ 'dashboard.yml': stringify(rules) });
    try {
      const result = await run('promtool', ['check', 'rules', 'dashboard.yml'], files.dir);
      expect(result.output).toContain(`SUCCESS: ${queries.length} rules found`);
      expect(result.code).toBe(0);
    } finally {
      files.cleanup();
    }
  });
});
