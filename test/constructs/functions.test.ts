import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Annotations, Labels } from '../../src/contract';
import { Code, ContainerFunction, Duration, EnvValue, HttpTrigger, NodeFunction, Size } from '../../constructs';
import { podBundle } from '../../constructs/pod-code';
import { shutdownTiming } from '../../constructs/shutdown';
import { container, envOf, expectValid, find, INLINE, kinds, maybeFind, newPlatform, synth, codeMap } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures');

describe('NodeFunction', () => {
  test('synthesizes code ConfigMap, Deployment, Service and NetworkPolicy with the agreed shape', async () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'hello', { code: INLINE, triggers: [new HttpTrigger({ path: '/hello' })] });
    const objects = synth(platform);
    expect(kinds(objects)).toEqual(
      expect.arrayContaining([
        `ConfigMap/${codeMap(objects, 'hello').metadata.name}`,
        `ConfigMap/${codeMap(objects, 'kubefaas-runtime').metadata.name}`,
        'Deployment/hello',
        'NetworkPolicy/hello',
        'Service/hello',
      ]),
    );
    expect(maybeFind(objects, 'HorizontalPodAutoscaler', 'hello')).toBeUndefined();
    expect(maybeFind(objects, 'PodDisruptionBudget', 'hello')).toBeUndefined();
    expect(codeMap(objects, 'kubefaas-runtime').data['runtime.js']).toBe(podBundle('runtime').source);
    expect(codeMap(objects, 'hello').data['index.js']).toContain('module.exports');

    const deployment = find(objects, 'Deployment', 'hello');
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.selector.matchLabels).toEqual({ [Labels.function]: 'hello' });
    const pod = deployment.spec.template;
    expect(pod.metadata.labels).toMatchObject({ [Labels.function]: 'hello', [Labels.name]: 'hello' });
    const c = container(deployment);
    expect(c.name).toBe('function');
    expect(c.image).toBe('node:22.20.0-alpine');
    expect(c.command).toEqual(['node', '/var/kubefaas/runtime/runtime.js']);
    expect(c.env).toEqual([
      { name: 'PORT', value: '8080' },
      { name: 'KUBEFAAS_FUNCTION_NAME', value: 'hello' },
      { name: 'KUBEFAAS_HANDLER', value: '/var/kubefaas/function/index.js' },
      { name: 'KUBEFAAS_TIMEOUT_MS', value: '30000' },
      { name: 'KUBEFAAS_MAX_CONCURRENCY', value: '0' },
      { name: 'KUBEFAAS_MAX_BODY_BYTES', value: String(6 * 1024 * 1024) },
      { name: 'KUBEFAAS_DRAIN_DELAY_MS', value: '10000' },
      { name: 'KUBEFAAS_SHUTDOWN_GRACE_MS', value: '31000' },
    ]);
    const volumes = Object.fromEntries(pod.spec.volumes.map((v: any) => [v.name, v]));
    const byPath = Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, volumes[m.name]]));
    expect(byPath['/var/kubefaas/runtime'].configMap.name).toBe(codeMap(objects, 'kubefaas-runtime').metadata.name);
    expect(byPath['/var/kubefaas/function'].configMap.name).toBe(codeMap(objects, 'hello').metadata.name);
    expect(byPath['/tmp'].emptyDir).toEqual({ sizeLimit: '512Mi' });

    const service = find(objects, 'Service', 'hello');
    expect(service.spec.selector).toEqual({ [Labels.function]: 'hello' });
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }]);

    const policy = find(objects, 'NetworkPolicy', 'hello');
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: { [Labels.function]: 'hello' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { [Labels.platformComponent]: 'router' } } }],
          ports: [{ protocol: 'TCP', port: 8080 }],
        },
      ],
      // DNS only: no queue, no declared egress.
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    });
    await expectValid(objects);
  });

  test('pod defaults: restricted PSS fields, small explicit resources, IfNotPresent, probes, no token', () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'hello', { code: INLINE });
    const deployment = find(synth(platform), 'Deployment', 'hello');
    const spec = deployment.spec.template.spec;
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const c = container(deployment);
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '128Mi' } });
    expect(JSON.stringify(c.resources)).not.toContain('1000m');
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 8080 });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 8080 });
    expect(c.startupProbe).toBeUndefined();
  });

  test('HPA when maxReplicas > minReplicas (no fixed replicas), PDB from 2 replicas', async () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'scaled', {
      code: INLINE,
      scaling: { minReplicas: 2, maxReplicas: 6, targetCpuUtilization: 60 },
    });
    new NodeFunction(platform, 'pinned', { code: INLINE, scaling: { minReplicas: 3 } });
    const objects = synth(platform);
    expect(find(objects, 'Deployment', 'scaled').spec.replicas).toBeUndefined();
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'scaled');
    expect(hpa.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'scaled' },
      minReplicas: 2,
      maxReplicas: 6,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } },
      ],
    });
    expect(find(objects, 'PodDisruptionBudget', 'scaled').spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { [Labels.function]: 'scaled' } },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    expect(find(objects, 'Deployment', 'pinned').spec.replicas).toBe(3);
    expect(maybeFind(objects, 'HorizontalPodAutoscaler', 'pinned')).toBeUndefined();
    expect(find(objects, 'PodDisruptionBudget', 'pinned')).toBeDefined();
    await expectValid(objects);
  });

  test('env: literals, Secret and ConfigMap references (valueFrom, never the value), addEnv after construction', async () => {
    const platform = newPlatform();
    const fn = new NodeFunction(platform, 'db', {
      code: INLINE,
      env: {
        PLAIN: 'x',
        LITERAL: EnvValue.fromValue('y'),
        PASSWORD: EnvValue.fromSecret('db-credentials', 'password'),
        TOKEN: EnvValue.fromSecret('api', 'token', { optional: true }),
        MODE: EnvValue.fromConfigMap('settings', 'mode'),
      },
    });
    fn.addEnv('LATE', 'z');
    const objects = synth(platform);
    const env = envOf(find(objects, 'Deployment', 'db')).slice(8); // after the system env (incl. drain and grace)
    expect(env).toEqual([
      { name: 'PLAIN', value: 'x' },
      { name: 'LITERAL', value: 'y' },
      { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'password' } } },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token', optional: true } } },
      { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } },
      { name: 'LATE', value: 'z' },
    ]);
    // no ConfigMap carries env
    for (const cm of objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name === 'db-code')) {
      expect(Object.keys(cm.data)).toEqual(['index.js']);
    }
    await expectValid(objects, { externalSecrets: ['db-credentials', 'api'], externalConfigMaps: ['settings'] });
  });

  test('code hash: sha256 of runtime + function code; changes with the code, not with env', () => {
    const hashOf = (source: string, env: Record<string, string> = {}) => {
      const platform = newPlatform();
      new NodeFunction(platform, 'fn', { code: Code.fromInline(source), env });
      return find(synth(platform), 'Deployment', 'fn').spec.template.metadata.annotations[
        Annotations.codeHash
      ] as string;
    };
    const a = hashOf('module.exports = () => 1;');
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(hashOf('module.exports = () => 2;')).not.toBe(a);
    expect(hashOf('module.exports = () => 1;', { X: '1' })).toBe(a);
    const platform = newPlatform();
    const fn = new NodeFunction(platform, 'fn', { code: Code.fromInline('module.exports = () => 1;') });
    const codeSource = codeMap(synth(platform), 'fn').data['index.js'];
    const expected = createHash('sha256')
      .update(podBundle('runtime').sha256)
      .update(createHash('sha256').update(codeSource).digest('hex'))
      .digest('hex')
      .slice(0, 16);
    expect(fn.codeHash).toBe(expected);
  });

  test('functionName overrides the id; user labels reach pods; custom node image', () => {
    const platform = newPlatform({ nodeImage: 'node:20.19.5-bookworm-slim' });
    new NodeFunction(platform, 'Some Id', {
      code: INLINE,
      functionName: 'renamed',
      labels: { team: 'payments', 'example.com/tier': 'gold' },
    });
    const objects = synth(platform);
    const deployment = find(objects, 'Deployment', 'renamed');
    expect(deployment.spec.template.metadata.labels).toMatchObject({ team: 'payments', 'example.com/tier': 'gold' });
    expect(deployment.spec.selector.matchLabels).toEqual({ [Labels.function]: 'renamed' });
    expect(container(deployment).image).toBe('node:20.19.5-bookworm-slim');
  });

  test('timeout drives KUBEFAAS_TIMEOUT_MS and the termination grace period', () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'long', {
      code: INLINE,
      timeout: Duration.minutes(5),
      maxBodySize: Size.kibibytes(10),
      maxConcurrency: 4,
    });
    const deployment = find(synth(platform), 'Deployment', 'long');
    expect(envOf(deployment)).toEqual(
      expect.arrayContaining([
        { name: 'KUBEFAAS_TIMEOUT_MS', value: '300000' },
        { name: 'KUBEFAAS_MAX_BODY_BYTES', value: '10240' },
        { name: 'KUBEFAAS_MAX_CONCURRENCY', value: '4' },
      ]),
    );
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBe(
      shutdownTiming(300_000).terminationGracePeriodSeconds,
    );
  });

  test('exposeErrorMessages (unsafe, off by default) sets KUBEFAAS_EXPOSE_ERROR_MESSAGES only when true', () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'open', { code: INLINE, exposeErrorMessages: true });
    new NodeFunction(platform, 'closed', { code: INLINE });
    const objects = synth(platform);
    expect(envOf(find(objects, 'Deployment', 'open'))).toContainEqual({
      name: 'KUBEFAAS_EXPOSE_ERROR_MESSAGES',
      value: 'true',
    });
    expect(envOf(find(objects, 'Deployment', 'closed')).map((e) => String(e.name))).not.toContain(
      'KUBEFAAS_EXPOSE_ERROR_MESSAGES',
    );
  });
});

describe('Code', () => {
  test('fromAsset bundles a TypeScript entry with its imports into one CommonJS module', () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'bundled', { code: Code.fromAsset(path.join(FIXTURES, 'with-dep.ts')) });
    const source: string = codeMap(synth(platform), 'bundled').data['index.js'];
    expect(source).toContain('hello ');
    expect(source).not.toContain('import ');
    // it loads as CommonJS and exports the handler
    const mod = { exports: {} as any };
    new Function('module', 'exports', 'require', source)(mod, mod.exports, require);
    return expect(mod.exports.default()).resolves.toBe('hello fixture');
  });

  test('fromAsset resolves relative paths against the current directory', () => {
    const platform = newPlatform();
    const relative = path.relative(process.cwd(), path.join(FIXTURES, 'plain.js'));
    new NodeFunction(platform, 'plain', { code: Code.fromAsset(relative) });
    expect(codeMap(synth(platform), 'plain').data['index.js']).toContain('hi');
  });

  test('fromInline accepts ESM/TypeScript and emits CommonJS', () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'esm', {
      code: Code.fromInline('export default async (e: unknown): Promise<string> => "typed";'),
    });
    const source: string = codeMap(synth(platform), 'esm').data['index.js'];
    const mod = { exports: {} as any };
    new Function('module', 'exports', 'require', source)(mod, mod.exports, require);
    return expect(mod.exports.default()).resolves.toBe('typed');
  });
});

describe('ContainerFunction', () => {
  test('runs the image on $PORT with TCP probes by default, no code or runtime ConfigMaps', async () => {
    const platform = newPlatform();
    new ContainerFunction(platform, 'clock', {
      image: 'python:3.13.7-alpine',
      triggers: [new HttpTrigger({ path: '/clock' })],
    });
    const objects = synth(platform);
    expect(maybeFind(objects, 'ConfigMap', 'clock-code')).toBeUndefined();
    expect(maybeFind(objects, 'ConfigMap', 'kubefaas-runtime')).toBeUndefined();
    const deployment = find(objects, 'Deployment', 'clock');
    const c = container(deployment);
    expect(c.image).toBe('python:3.13.7-alpine');
    expect(c.command).toBeUndefined();
    expect(c.env).toEqual([
      { name: 'PORT', value: '8080' },
      { name: 'KUBEFAAS_FUNCTION_NAME', value: 'clock' },
    ]);
    expect(c.readinessProbe.tcpSocket).toEqual({ port: 8080 });
    expect(c.livenessProbe.tcpSocket).toEqual({ port: 8080 });
    expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(deployment.spec.template.metadata.annotations).toBeUndefined();
    expect(find(objects, 'NetworkPolicy', 'clock')).toBeDefined();
    await expectValid(objects);
  });

  test('command, args, HTTP health check and the local command annotation', async () => {
    const platform = newPlatform();
    new ContainerFunction(platform, 'py', {
      image: 'ghcr.io/acme/py@sha256:' + 'a'.repeat(64),
      command: ['python3', '-c'],
      args: ['print(1)'],
      healthCheck: { path: '/healthz' },
      local: { command: ['python3', 'server.py'] },
      env: { GREETING: 'hi' },
    });
    const objects = synth(platform);
    const deployment = find(objects, 'Deployment', 'py');
    const c = container(deployment);
    expect(c.command).toEqual(['python3', '-c']);
    expect(c.args).toEqual(['print(1)']);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 8080 });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 8080 });
    expect(c.env).toContainEqual({ name: 'GREETING', value: 'hi' });
    // Local-only: on the Deployment, never on the pods a cluster runs.
    expect(JSON.parse(deployment.metadata.annotations[Annotations.localCommand])).toEqual(['python3', 'server.py']);
    expect(deployment.spec.template.metadata.annotations?.[Annotations.localCommand]).toBeUndefined();
    await expectValid(objects);
  });
});

describe('code ConfigMaps for rollbacks (issue 13, item 3)', () => {
  function codeVolume(source: string): { name: string; objects: any[] } {
    const platform = newPlatform();
    new NodeFunction(platform, 'fn', { code: Code.fromInline(source) });
    const objects = synth(platform);
    const pod = find(objects, 'Deployment', 'fn').spec.template;
    const volume = pod.spec.volumes.find((v: any) => v.name === 'function');
    return { name: volume.configMap.name, objects };
  }

  test('new code is a new, immutable ConfigMap named by its content; the pod template names it', () => {
    const v1 = codeVolume('module.exports = async () => "v1";');
    const v2 = codeVolume('module.exports = async () => "v2";');
    expect(v1.name).not.toBe(v2.name);
    expect(codeMap(v1.objects, 'fn').metadata.name).toBe(v1.name);
    expect(codeMap(v2.objects, 'fn').metadata.name).toBe(v2.name);
    // The same code synthesizes the same name (no churn on re-synth).
    expect(codeVolume('module.exports = async () => "v1";').name).toBe(v1.name);
    expect(codeMap(v1.objects, 'kubefaas-runtime').metadata.labels['app.kubernetes.io/instance']).toBe('kubefaas');
  });
});
