/** Metrics.operator(): monitoring.coreos.com/v1 objects that validate and match the bundled setup. */
import { Chart, Testing } from 'cdk8s';
import { parse, stringify } from 'yaml';
import { Metrics } from '../../constructs/metrics';
import { labelingSteps, toPrometheusRelabel } from '../../constructs/metrics/generators';
import { expectValidManifests, validateManifests } from '../support/validate';
import { COMMON_LABELS, NAMESPACE, NETWORK, find, run, synthMetrics, tempFiles } from './support';

describe('Metrics.operator()', () => {
  const objects = synthMetrics(Metrics.operator({ labels: { release: 'kps' } }));

  test('PodMonitor, PrometheusRule and dashboard validate against their schemas', async () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'PodMonitor', 'PrometheusRule']);
    await expectValidManifests(objects, { existingNamespaces: [NAMESPACE] });
  });

  test('ServiceMonitor variant validates too', async () => {
    const services = synthMetrics(Metrics.operator({ monitor: 'ServiceMonitor' }));
    const monitor = find(services, 'ServiceMonitor', 'kubefaas');
    // Service port names: functions' `http`, the router's `admin` (kubefaas-router-admin).
    expect(monitor.spec.endpoints.map((e: { port: string }) => e.port)).toEqual(['http', 'admin']);
    await expectValidManifests(services, { existingNamespaces: [NAMESPACE] });
  });

  test('the schema check rejects a malformed monitor (it can fail)', async () => {
    const broken = JSON.parse(JSON.stringify(find(objects, 'PodMonitor', 'kubefaas')));
    broken.spec.podMetricsEndpoints[0].relabelings[0].action = 'explode';
    const problems = await validateManifests([broken], { existingNamespaces: [NAMESPACE] });
    expect(problems.some((p) => p.check === 'schema')).toBe(true);
  });

  test('selects kubefaas pods of the namespace and carries the selection labels', () => {
    const monitor = find(objects, 'PodMonitor', 'kubefaas');
    expect(monitor.metadata.labels).toEqual({ ...COMMON_LABELS, release: 'kps' });
    expect(monitor.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/part-of': 'kubefaas' } });
    expect(monitor.spec.namespaceSelector).toEqual({ matchNames: [NAMESPACE] });
    expect(find(objects, 'PrometheusRule', 'kubefaas').metadata.labels.release).toBe('kps');
  });

  test('same labeling as the bundled server: the relabel steps are the shared ones, then the component of the port', () => {
    const endpoints = find(objects, 'PodMonitor', 'kubefaas').spec.podMetricsEndpoints;
    // Functions serve /metrics on `http`, the router on its admin port only.
    expect(endpoints.map((e: { port: string }) => e.port)).toEqual(['http', 'admin']);
    const bundled = parse(
      find(synthMetrics(Metrics.prometheus()), 'ConfigMap', 'kubefaas-prometheus').data['prometheus.yml'],
    );
    const shared = labelingSteps().map(toPrometheusRelabel);
    expect(bundled.scrape_configs[0].relabel_configs).toEqual(expect.arrayContaining(shared));
    for (const [endpoint, component] of [
      [endpoints[0], 'function'],
      [endpoints[1], 'router'],
    ] as const) {
      expect(endpoint.relabelings).toHaveLength(shared.length + 1);
      shared.forEach((step, i) => {
        const r = endpoint.relabelings[i] as Record<string, unknown>;
        expect(r.sourceLabels).toEqual(step.source_labels);
        expect(r.targetLabel).toEqual(step.target_label);
        expect(r.action).toEqual(step.action);
      });
      expect(endpoint.relabelings[shared.length]).toEqual({
        sourceLabels: ['component'],
        regex: component,
        action: 'keep',
      });
    }
  });

  test('PrometheusRule groups equal the bundled rule file and pass promtool', async () => {
    const groups = find(objects, 'PrometheusRule', 'kubefaas').spec.groups;
    const bundled = parse(
      find(synthMetrics(Metrics.prometheus()), 'ConfigMap', 'kubefaas-prometheus-rules').data['kubefaas.rules.yml'],
    );
    expect(groups).toEqual(bundled.groups);
    const files = tempFiles({ 'rules.yml': stringify({ groups }) });
    try {
      const result = await run('promtool', ['check', 'rules', 'rules.yml'], files.dir);
      expect(result.code).toBe(0);
    } finally {
      files.cleanup();
    }
  });

  test("network peers: the operator's Prometheus namespace and pods", () => {
    const chartObjects = Metrics.operator({ scraper: { namespace: 'observability', podLabels: { app: 'prom' } } });
    const binding = chartObjects.bind(new Chart(Testing.app(), 'c'), {
      namespace: NAMESPACE,
      functions: () => [],
      commonLabels: COMMON_LABELS,
      network: NETWORK,
    });
    expect(binding.scrapers).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } },
        podSelector: { matchLabels: { app: 'prom' } },
      },
    ]);
  });

  test('Metrics.none() emits nothing and admits no scraper', () => {
    expect(synthMetrics(Metrics.none())).toEqual([]);
  });
});
