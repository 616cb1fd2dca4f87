/**
 * The bundled Prometheus: its config and rules pass promtool, the objects pass the schema, semantic
 * and restricted pod-security checks, and RBAC is the least pod discovery needs.
 */
import { Duration, Size } from 'cdk8s';
import { parse, stringify } from 'yaml';
import { Metrics } from '../../constructs/metrics';
import { RULES_FILE } from '../../constructs/metrics/prometheus-server';
import { expectValidManifests } from '../support/validate';
import { NAMESPACE, find, run, synthMetrics, tempFiles } from './support';

const PROMETHEUS = 'kubefaas-prometheus';

/**
 * Debian's Prometheus is built without Kubernetes service discovery, so its promtool rejects
 * `kubernetes_sd_configs`. Swap that one block for a static target; everything else (relabel
 * regexes, rule files, alerting, globals) is checked as synthesized. The SD block itself is
 * asserted field by field in 'discovers only kubefaas pods of the platform namespace'.
 */
function withoutKubernetesSd(configYaml: string): string {
  const config = parse(configYaml);
  for (const job of config.scrape_configs) {
    expect(job.kubernetes_sd_configs).toBeDefined();
    delete job.kubernetes_sd_configs;
    job.static_configs = [{ targets: ['127.0.0.1:8080'] }];
  }
  return stringify(config);
}

/** Writes the config and the rule file it references, laid out as in the pod. */
function writeServerFiles(objects: ReturnType<typeof synthMetrics>): ReturnType<typeof tempFiles> {
  const config = withoutKubernetesSd(find(objects, 'ConfigMap', PROMETHEUS).data['prometheus.yml']);
  const rules = find(objects, 'ConfigMap', 'kubefaas-prometheus-rules').data;
  return tempFiles({ 'prometheus.yml': config, [RULES_FILE]: rules[RULES_FILE.split('/').pop()!] });
}

describe('Metrics.prometheus()', () => {
  const objects = synthMetrics(
    Metrics.prometheus({ alertmanager: { receiverSecret: { name: 'alert-receiver', key: 'url' } } }),
  );

  test('promtool check config accepts the config and the rule file it references', async () => {
    const files = writeServerFiles(objects);
    try {
      const result = await run('promtool', ['check', 'config', 'prometheus.yml'], files.dir);
      expect(result.output).toContain('SUCCESS');
      expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
      expect(result.code).toBe(0);
    } finally {
      files.cleanup();
    }
  });

  test('promtool check rules accepts the rule file', async () => {
    const files = writeServerFiles(objects);
    try {
      const result = await run('promtool', ['check', 'rules', RULES_FILE], files.dir);
      expect(result.code).toBe(0);
      expect(result.output).toMatch(/SUCCESS: (1[0-9]|[2-9][0-9]) rules found/);
    } finally {
      files.cleanup();
    }
  });

  test('promtool rejects a broken config (the check can fail)', async () => {
    const files = tempFiles({
      'prometheus.yml': 'scrape_configs: [{ job_name: x, relabel_configs: [{ action: keep, regex: "(" }] }]\n',
    });
    try {
      expect((await run('promtool', ['check', 'config', 'prometheus.yml'], files.dir)).code).not.toBe(0);
    } finally {
      files.cleanup();
    }
  });

  test('objects are schema-valid, consistent and pass restricted pod security', async () => {
    const options = { externalSecrets: ['alert-receiver'], existingNamespaces: [NAMESPACE] };
    await expectValidManifests(
      synthMetrics(
        Metrics.prometheus({
          ephemeral: true,
          alertmanager: { receiverSecret: { name: 'alert-receiver', key: 'url' } },
        }),
      ),
      options,
    );
    await expectValidManifests(objects, options);
  });

  test('discovers only kubefaas pods of the platform namespace', () => {
    const config = parse(find(objects, 'ConfigMap', PROMETHEUS).data['prometheus.yml']);
    const [job] = config.scrape_configs;
    expect(config.scrape_configs).toHaveLength(1);
    expect(job.kubernetes_sd_configs).toEqual([
      {
        role: 'pod',
        namespaces: { names: [NAMESPACE] },
        selectors: [{ role: 'pod', label: 'app.kubernetes.io/part-of=kubefaas' }],
      },
    ]);
    const keeps = job.relabel_configs.filter((r: { action: string }) => r.action === 'keep');
    expect(keeps).toContainEqual({
      source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_part_of'],
      regex: 'kubefaas',
      action: 'keep',
    });
    expect(keeps).toContainEqual({ source_labels: ['component'], regex: 'function|router|scaler', action: 'keep' });
  });

  test('RBAC: a namespaced Role allowing only reads of pods, bound to the server account', () => {
    expect(objects.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).toBe(false);
    expect(find(objects, 'Role', PROMETHEUS).rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
    ]);
    const binding = find(objects, 'RoleBinding', PROMETHEUS);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: PROMETHEUS, namespace: NAMESPACE }]);
    const pod = find(objects, 'StatefulSet', PROMETHEUS).spec.template.spec;
    expect(pod.serviceAccountName).toBe(PROMETHEUS);
    expect(pod.automountServiceAccountToken).toBe(true);
    // Alertmanager talks to nobody's API: no token.
    expect(find(objects, 'StatefulSet', 'kubefaas-alertmanager').spec.template.spec.automountServiceAccountToken).toBe(
      false,
    );
  });

  test('pinned official images, storage, retention and explicit resources', () => {
    const sts = find(objects, 'StatefulSet', PROMETHEUS);
    const [container] = sts.spec.template.spec.containers;
    expect(container.image).toMatch(/^quay\.io\/prometheus\/prometheus:v\d+\.\d+\.\d+$/);
    expect(container.args).toContain('--storage.tsdb.retention.time=1296000s');
    expect(container.resources.requests).toEqual({ cpu: '100m', memory: '256Mi' });
    expect(container.resources.limits).toEqual({ cpu: '1000m', memory: '1Gi' });
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('10Gi');
    expect(sts.spec.template.metadata.annotations['kubefaas.dev/config-hash']).toMatch(/^[0-9a-f]{16}$/);
    expect(find(objects, 'StatefulSet', 'kubefaas-alertmanager').spec.template.spec.containers[0].image).toMatch(
      /^quay\.io\/prometheus\/alertmanager:v\d+\.\d+\.\d+$/,
    );
  });

  test('options change storage, class, retention and make storage ephemeral', () => {
    const custom = synthMetrics(
      Metrics.prometheus({ storage: Size.gibibytes(50), storageClass: 'fast-ssd', retention: Duration.days(30) }),
    );
    const sts = find(custom, 'StatefulSet', PROMETHEUS);
    expect(sts.spec.volumeClaimTemplates[0].spec).toEqual(
      expect.objectContaining({ storageClassName: 'fast-ssd', resources: { requests: { storage: '50Gi' } } }),
    );
    expect(sts.spec.template.spec.containers[0].args).toContain('--storage.tsdb.retention.time=2592000s');
    const ephemeral = find(
      synthMetrics(Metrics.prometheus({ ephemeral: true, storage: Size.gibibytes(2) })),
      'StatefulSet',
      PROMETHEUS,
    );
    expect(ephemeral.spec.volumeClaimTemplates).toEqual([]);
    expect(ephemeral.spec.template.spec.volumes).toContainEqual({ name: 'data', emptyDir: { sizeLimit: '2Gi' } });
  });

  test('changing an alert rule changes the pod template hash (the pod rolls)', () => {
    const hash = (o: ReturnType<typeof synthMetrics>) =>
      find(o, 'StatefulSet', PROMETHEUS).spec.template.metadata.annotations['kubefaas.dev/config-hash'];
    const changed = synthMetrics(Metrics.prometheus({ rules: { defaults: { errorRatio: { threshold: 0.1 } } } }));
    expect(hash(changed)).not.toBe(hash(synthMetrics(Metrics.prometheus())));
  });

  test('bad options fail at synth with the construct path', () => {
    expect(() => synthMetrics(Metrics.prometheus({ retention: Duration.minutes(5) }))).toThrow(
      /\[platform\/Metrics\] metrics retention must be at least 1 hour/,
    );
    expect(() => synthMetrics(Metrics.prometheus({ storageClass: 'Not_Valid' }))).toThrow(/storageClass/);
    expect(() => synthMetrics(Metrics.prometheus({ rules: { functions: { nope: { errorRatio: false } } } }))).toThrow(
      /function "nope", which is not part of this platform/,
    );
    expect(() => synthMetrics(Metrics.prometheus({ rules: { defaults: { errorRatio: { threshold: 2 } } } }))).toThrow(
      /errorRatio.threshold must be in \(0, 1\]/,
    );
    expect(() =>
      synthMetrics(Metrics.prometheus({ alertmanager: { receiverSecret: { name: 'Bad Name', key: 'url' } } })),
    ).toThrow(/receiverSecret/);
  });
});

describe('Alertmanager config', () => {
  function alertmanagerYaml(receiverType: 'webhook' | 'slack'): string {
    const objects = synthMetrics(
      Metrics.prometheus({
        alertmanager: { receiverSecret: { name: 's', key: 'k' }, receiverType, slackChannel: '#alerts' },
      }),
    );
    return find(objects, 'ConfigMap', 'kubefaas-alertmanager').data['alertmanager.yml'];
  }

  test('the receiver URL is read from the mounted Secret, never written into the ConfigMap', () => {
    const objects = synthMetrics(
      Metrics.prometheus({ alertmanager: { receiverSecret: { name: 'alert-receiver', key: 'url' } } }),
    );
    const config = parse(find(objects, 'ConfigMap', 'kubefaas-alertmanager').data['alertmanager.yml']);
    const [receiver] = config.receivers;
    expect(receiver.webhook_configs[0].url_file).toBe('/etc/alertmanager/secrets/receiver-url');
    const pod = find(objects, 'StatefulSet', 'kubefaas-alertmanager').spec.template.spec;
    expect(pod.volumes).toContainEqual({
      name: 'receiver',
      secret: { secretName: 'alert-receiver', items: [{ key: 'url', path: 'receiver-url' }] },
    });
  });

  // Debian's amtool (0.25) predates the webhook `url_file` field (0.26+, the pinned image is 0.34),
  // so only the Slack variant can be checked by the local tool.
  test('amtool check-config accepts the Slack receiver config', async () => {
    const files = tempFiles({
      'alertmanager.yml': alertmanagerYaml('slack').replace('/etc/alertmanager/secrets/receiver-url', 'url'),
      url: 'https://hooks.example.com/x\n',
    });
    try {
      const result = await run('amtool', ['check-config', 'alertmanager.yml'], files.dir);
      expect(result.output).toContain('SUCCESS');
      expect(result.code).toBe(0);
    } finally {
      files.cleanup();
    }
  });
});
