/** The `metrics` option of Platform: wiring, NetworkPolicies, per-function alerts, whole-platform validity. */
import { App, Duration, Testing } from 'cdk8s';
import { parse } from 'yaml';
import {
  Code,
  ContainerFunction,
  HttpTrigger,
  Metrics,
  NodeFunction,
  Platform,
  ValidationError,
} from '../../constructs';
import { Labels } from '../../src/contract';
import { validateManifests, formatProblems, K8sObject } from '../support/validate';
import { find } from './support';

function platformWith(metrics: Metrics | undefined): K8sObject[] {
  const app = Testing.app();
  const platform = new Platform(app, 'faas', { namespace: 'faas', ...(metrics ? { metrics } : {}) });
  new NodeFunction(platform, 'hello', {
    code: Code.fromInline('module.exports = async () => "hi"'),
    timeout: Duration.seconds(20),
    alerts: { errorRatio: { threshold: 0.3 } },
    triggers: [new HttpTrigger({ path: '/hello' })],
  });
  new ContainerFunction(platform, 'legacy', { image: 'ghcr.io/example/legacy:1.2.3' });
  new ContainerFunction(platform, 'instrumented', { image: 'ghcr.io/example/instrumented:1.0.0', servesMetrics: true });
  return Testing.synth(platform) as K8sObject[];
}

const hasMonitoring = (objects: K8sObject[]) =>
  objects.some((o) => String(o.metadata?.name).startsWith('kubefaas-prometheus') || o.kind === 'PodMonitor');

describe('Platform metrics option', () => {
  test('default is none: no monitoring objects, NetworkPolicies admit the router only', () => {
    const objects = platformWith(undefined);
    expect(hasMonitoring(objects)).toBe(false);
    expect(find(objects, 'NetworkPolicy', 'hello').spec.ingress).toHaveLength(1);
  });

  test('bundled Prometheus: the whole platform validates, functions admit Prometheus on 8080', async () => {
    const objects = platformWith(Metrics.prometheus());
    const claims = new Set(['data']);
    const problems = (await validateManifests(objects)).filter((p) => {
      const claim = /mounts volume "([^"]+)", which the pod does not define/.exec(p.message)?.[1];
      return !(p.object === 'StatefulSet faas/kubefaas-prometheus' && claim !== undefined && claims.has(claim));
    });
    expect(formatProblems(problems)).toBe(formatProblems([]));

    const ingress = find(objects, 'NetworkPolicy', 'hello').spec.ingress;
    expect(ingress).toContainEqual({
      from: [
        { podSelector: { matchLabels: { [Labels.platformComponent]: 'prometheus', [Labels.name]: 'prometheus' } } },
      ],
      ports: [{ protocol: 'TCP', port: 8080 }],
    });
    // The Prometheus pod carries exactly the labels the policy admits.
    const promPod = find(objects, 'StatefulSet', 'kubefaas-prometheus').spec.template.metadata.labels;
    expect(promPod).toEqual(
      expect.objectContaining({ [Labels.platformComponent]: 'prometheus', [Labels.name]: 'prometheus' }),
    );
    // A container image without /metrics is neither scraped nor opened to Prometheus.
    expect(find(objects, 'NetworkPolicy', 'legacy').spec.ingress).toHaveLength(1);
    expect(find(objects, 'Deployment', 'legacy').spec.template.metadata.annotations['prometheus.io/scrape']).toBe(
      'false',
    );
    expect(find(objects, 'NetworkPolicy', 'instrumented').spec.ingress).toHaveLength(2);
    expect(
      find(objects, 'Deployment', 'instrumented').spec.template.metadata.annotations?.['prometheus.io/scrape'],
    ).toBeUndefined();
  });

  test('function and router pods carry the labels the scrape config relabels on', () => {
    const objects = platformWith(Metrics.prometheus());
    const hello = find(objects, 'Deployment', 'hello').spec.template;
    expect(hello.metadata.labels).toEqual(
      expect.objectContaining({ [Labels.partOf]: 'kubefaas', [Labels.function]: 'hello' }),
    );
    expect(hello.spec.containers[0].ports).toContainEqual(
      expect.objectContaining({ name: 'http', containerPort: 8080 }),
    );
    const router = find(objects, 'Deployment', 'kubefaas-router').spec.template;
    expect(router.metadata.labels).toEqual(
      expect.objectContaining({ [Labels.partOf]: 'kubefaas', [Labels.platformComponent]: 'router' }),
    );
  });

  test("rules use each function's timeout and its own alerts prop", () => {
    const rules = parse(
      find(platformWith(Metrics.prometheus()), 'ConfigMap', 'kubefaas-prometheus-rules').data['kubefaas.rules.yml'],
    );
    const alerts = rules.groups[1].rules;
    const errorRatio = alerts.find((r: { alert: string }) => r.alert === 'KubefaasFunctionErrorRatioHigh').expr;
    expect(errorRatio).toContain('function=~"hello"} > 0.3');
    const latency = alerts.find((r: { alert: string }) => r.alert === 'KubefaasFunctionLatencyNearTimeout').expr;
    expect(latency).toMatch(/function=~"hello"\} > 16/);
    const noReplica = alerts.find((r: { alert: string }) => r.alert === 'KubefaasFunctionNoReadyReplica').expr;
    expect(noReplica).toContain('function=~"hello|instrumented"'); // not "legacy": never scraped
  });

  test("operator mode: PodMonitor + PrometheusRule, functions admit the operator's Prometheus", async () => {
    const objects = platformWith(Metrics.operator({ labels: { release: 'kps' } }));
    expect(find(objects, 'PodMonitor', 'kubefaas').metadata.labels.release).toBe('kps');
    find(objects, 'PrometheusRule', 'kubefaas');
    expect(find(objects, 'NetworkPolicy', 'hello').spec.ingress[1].from).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
      },
    ]);
    expect(formatProblems(await validateManifests(objects))).toBe(formatProblems([]));
  });

  test('a bad function alert setting fails at construction with the function path', () => {
    const app = new App();
    const platform = new Platform(app, 'faas', { metrics: Metrics.prometheus() });
    expect(
      () =>
        new NodeFunction(platform, 'bad', {
          code: Code.fromInline('module.exports = async () => 1'),
          alerts: { errorRatio: { threshold: 3 } },
        }),
    ).toThrow(ValidationError);
    expect(
      () =>
        new NodeFunction(platform, 'bad2', {
          code: Code.fromInline('module.exports = async () => 1'),
          alerts: { errorRatio: { threshold: 3 } },
        }),
    ).toThrow(/\[faas\/bad2\] alerts: errorRatio.threshold must be in \(0, 1\]/);
  });
});
