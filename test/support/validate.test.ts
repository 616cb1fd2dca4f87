import { imageIsPinned } from './pod-security';
import { pick, SAMPLE_NAMESPACE, sampleManifests } from './sample-manifests';
import { expectValidManifests, K8sObject, ManifestProblem, validateManifests, ValidateOptions } from './validate';

/** Problems found after `mutate` broke a fresh copy of the valid sample, as `Object: message` lines. */
async function problemsAfter(mutate: (objects: K8sObject[]) => void, options?: ValidateOptions): Promise<string[]> {
  const objects = sampleManifests();
  mutate(objects);
  return lines(await validateManifests(objects, options));
}

function lines(problems: readonly ManifestProblem[]): string[] {
  return problems.map((p) => `${p.object}: ${p.message}`);
}

const fnDeployment = (objects: K8sObject[]) => pick(objects, 'Deployment', 'hello');
const fnPod = (objects: K8sObject[]) => fnDeployment(objects).spec.template.spec;
const fnContainer = (objects: K8sObject[]) => fnPod(objects).containers[0];
const routerDeployment = (objects: K8sObject[]) => pick(objects, 'Deployment', 'kubefaas-router');

describe('valid manifests', () => {
  it('accept the sample platform (Namespace, ConfigMaps, Secret, Deployments, Services, HPA, PDB, NetworkPolicy, HTTPRoute, Ingress)', async () => {
    await expect(validateManifests(sampleManifests())).resolves.toEqual([]);
    await expect(expectValidManifests(sampleManifests())).resolves.toBeUndefined();
  });

  it('accept prometheus-operator custom resources', async () => {
    const extra = [
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PodMonitor',
        metadata: { name: 'functions', namespace: SAMPLE_NAMESPACE },
        spec: {
          selector: { matchLabels: { 'app.kubernetes.io/part-of': 'kubefaas' } },
          podMetricsEndpoints: [{ port: 'http', path: '/metrics' }],
        },
      },
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'router', namespace: SAMPLE_NAMESPACE },
        spec: {
          selector: { matchLabels: { 'kubefaas.dev/component': 'router' } },
          endpoints: [{ port: 'http', interval: '30s' }],
        },
      },
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: { name: 'kubefaas', namespace: SAMPLE_NAMESPACE },
        spec: {
          groups: [{ name: 'kubefaas', rules: [{ alert: 'FunctionErrors', expr: 'sum(rate(x[5m])) > 0', for: '5m' }] }],
        },
      },
    ];
    expect(lines(await validateManifests([...sampleManifests(), ...extra]))).toEqual([]);
  });

  it('accept an existing namespace declared by option instead of a Namespace object', async () => {
    const mutate = (objects: K8sObject[]) =>
      objects.splice(
        objects.findIndex((o) => o.kind === 'Namespace'),
        1,
      );
    expect(await problemsAfter(mutate, { existingNamespaces: [SAMPLE_NAMESPACE] })).toEqual([]);
  });

  it('accept the seccomp profile and runAsNonRoot on every container instead of the pod', async () => {
    const problems = await problemsAfter((objects) => {
      const pod = fnPod(objects);
      delete pod.securityContext.seccompProfile;
      delete pod.securityContext.runAsNonRoot;
      Object.assign(pod.containers[0].securityContext, {
        runAsNonRoot: true,
        seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' },
      });
    });
    expect(problems).toEqual([]);
  });
});

describe('schema check', () => {
  it('reports a misspelled field with its path', async () => {
    expect(await problemsAfter((o) => (fnContainer(o).imagePullPolicyy = 'IfNotPresent'))).toEqual([
      'Deployment kubefaas/hello: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy"',
    ]);
  });

  it('reports unknown fields in Deployment spec, pod spec, probes, securityContext and Service', async () => {
    const problems = await problemsAfter((o) => {
      fnDeployment(o).spec.replica = 2;
      fnPod(o).securityContext.runAsNonroot = true;
      fnContainer(o).readinessProbe.httpGet.paht = '/readyz';
      fnContainer(o).securityContext.capabilities.dorp = ['ALL'];
      pick(o, 'Service', 'hello').spec.ports[0].targetport = 8080;
    });
    expect(problems.sort()).toEqual(
      [
        'Deployment kubefaas/hello: spec.replica: unknown field "replica"',
        'Deployment kubefaas/hello: spec.template.spec.securityContext.runAsNonroot: unknown field "runAsNonroot"',
        'Deployment kubefaas/hello: spec.template.spec.containers[0].readinessProbe.httpGet.paht: unknown field "paht"',
        'Deployment kubefaas/hello: spec.template.spec.containers[0].securityContext.capabilities.dorp: unknown field "dorp"',
        'Service kubefaas/hello: spec.ports[0].targetport: unknown field "targetport"',
      ].sort(),
    );
  });

  it('reports only the outermost unknown field', async () => {
    expect(await problemsAfter((o) => (fnPod(o).extra = { nested: { deeper: 1 } }))).toEqual([
      'Deployment kubefaas/hello: spec.template.spec.extra: unknown field "extra"',
    ]);
  });

  it('reports wrong types and missing required fields', async () => {
    const problems = await problemsAfter((o) => {
      fnDeployment(o).spec.replicas = '1';
      delete fnContainer(o).name;
    });
    expect(problems).toContain('Deployment kubefaas/hello: spec.replicas: must be integer');
    expect(problems).toContain(
      'Deployment kubefaas/hello: spec.template.spec.containers[0]: missing required field "name"',
    );
  });

  it('reports an unknown kind unless it is allow-listed', async () => {
    const scaledJob = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledJob',
      metadata: { name: 'hello', namespace: SAMPLE_NAMESPACE },
      spec: {},
    };
    expect(await problemsAfter((o) => o.push(scaledJob))).toEqual([
      'ScaledJob kubefaas/hello: unknown kind ScaledJob (keda.sh/v1alpha1): no schema for API group "keda.sh"',
    ]);
    expect(await problemsAfter((o) => o.push(scaledJob), { allowKinds: ['keda.sh/v1alpha1/ScaledJob'] })).toEqual([]);
    const typo = { apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x', namespace: SAMPLE_NAMESPACE } };
    expect(await problemsAfter((o) => o.push(typo))).toEqual([
      'Deploymnet kubefaas/x: unknown kind Deploymnet (apps/v1): not in the kubernetes-models/apps/v1 schemas',
    ]);
  });

  it('answers concurrent calls each with its own findings', async () => {
    const broken = (field: string) => {
      const objects = sampleManifests();
      fnContainer(objects)[field] = 'x';
      return validateManifests(objects);
    };
    const [a, b, c] = await Promise.all([
      broken('imagePullPolicyy'),
      validateManifests(sampleManifests()),
      broken('workDir'),
    ]);
    expect(lines(a)).toEqual([
      'Deployment kubefaas/hello: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy"',
    ]);
    expect(b).toEqual([]);
    expect(lines(c)).toEqual([
      'Deployment kubefaas/hello: spec.template.spec.containers[0].workDir: unknown field "workDir"',
    ]);
  });

  it('hands kinds without a kubernetes-models package to a given schema checker', async () => {
    const profile = {
      apiVersion: 'eks.services.k8s.aws/v1alpha1',
      kind: 'FargateProfile',
      metadata: { name: 'burst', namespace: SAMPLE_NAMESPACE },
      spec: {},
    };
    const schemaCheckers = {
      'eks.services.k8s.aws/v1alpha1/FargateProfile': (o: K8sObject) => (o.spec.name ? [] : ['spec.name: required']),
    };
    expect(await problemsAfter((o) => o.push(profile), { schemaCheckers })).toEqual([
      'FargateProfile kubefaas/burst: spec.name: required',
    ]);
    expect(await problemsAfter((o) => o.push({ ...profile, spec: { name: 'burst' } }), { schemaCheckers })).toEqual([]);
  });

  it('checks custom resources against their CRD schema unless crds is false', async () => {
    const mutate = (o: K8sObject[]) => {
      pick(o, 'HTTPRoute', 'kubefaas-router').spec.rules[0].backendRefs[0].weight = 'heavy';
    };
    expect(await problemsAfter(mutate)).toEqual([
      'HTTPRoute kubefaas/kubefaas-router: spec.rules[0].backendRefs[0].weight: must be integer',
    ]);
    expect(await problemsAfter(mutate, { crds: false })).toEqual([]);
  });
});

describe('semantic checks', () => {
  it('reports a Deployment selector that does not match its template labels', async () => {
    const problems = await problemsAfter(
      (o) => (fnDeployment(o).spec.selector.matchLabels = { 'kubefaas.dev/function': 'helo' }),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/^Deployment kubefaas\/hello: spec\.selector .* does not match the template labels/),
    );
  });

  it('reports a Service whose selector matches no pods', async () => {
    expect(
      await problemsAfter((o) => (pick(o, 'Service', 'hello').spec.selector = { 'kubefaas.dev/function': 'nope' })),
    ).toEqual([
      'Service kubefaas/hello: spec.selector {"kubefaas.dev/function":"nope"} matches the pods of no workload',
    ]);
  });

  it('reports a Service targetPort (number or name) that no container exposes', async () => {
    expect(await problemsAfter((o) => (pick(o, 'Service', 'hello').spec.ports[0].targetPort = 8081))).toEqual([
      'Service kubefaas/hello: spec.ports[0] targetPort 8081/TCP is not a containerPort of the selected pods (Deployment kubefaas/hello)',
    ]);
    expect(await problemsAfter((o) => (pick(o, 'Service', 'hello').spec.ports[0].targetPort = 'web'))).toEqual([
      'Service kubefaas/hello: spec.ports[0] targetPort "web"/TCP is not a containerPort of the selected pods (Deployment kubefaas/hello)',
    ]);
    expect(await problemsAfter((o) => (pick(o, 'Service', 'hello').spec.ports[0].targetPort = 'http'))).toEqual([]);
  });

  it('reports a missing ConfigMap, a missing key and a volume mount without a volume', async () => {
    const problems = await problemsAfter((o) => {
      fnPod(o).volumes[1].configMap.name = 'hello-cod';
      fnContainer(o).env[3].valueFrom.configMapKeyRef.key = 'GREETINGS';
      fnContainer(o).volumeMounts.push({ name: 'cache', mountPath: '/cache' });
    });
    expect(problems.sort()).toEqual(
      [
        'Deployment kubefaas/hello: volumes[1] "code" references ConfigMap "hello-cod", which is not among the objects',
        'Deployment kubefaas/hello: containers[0].env[3] GREETING reads key "GREETINGS" that ConfigMap "hello-settings" does not have',
        'Deployment kubefaas/hello: containers[0].volumeMounts[3] mounts volume "cache", which the pod does not define',
      ].sort(),
    );
  });

  it('reports a missing Secret unless it is declared external', async () => {
    const removeSecret = (o: K8sObject[]) => o.splice(o.indexOf(pick(o, 'Secret', 'redis')), 1);
    expect(await problemsAfter(removeSecret)).toEqual([
      'Deployment kubefaas/hello: containers[0].env[4] REDIS_PASSWORD references Secret "redis", which is not among the objects (declare it in externalSecrets if it is created outside the platform)',
    ]);
    expect(await problemsAfter(removeSecret, { externalSecrets: ['redis'] })).toEqual([]);
  });

  it('reports an HPA without a target, and an HPA whose target pins replicas', async () => {
    expect(
      await problemsAfter(
        (o) => (pick(o, 'HorizontalPodAutoscaler', 'kubefaas-router').spec.scaleTargetRef.name = 'router'),
      ),
    ).toEqual([
      'HorizontalPodAutoscaler kubefaas/kubefaas-router: spec.scaleTargetRef Deployment "router" is not among the objects',
    ]);
    expect(await problemsAfter((o) => (routerDeployment(o).spec.replicas = 2))).toEqual([
      'HorizontalPodAutoscaler kubefaas/kubefaas-router: Deployment kubefaas/kubefaas-router sets spec.replicas (2) while this HPA scales it: every apply would reset the replica count',
    ]);
  });

  it('reports an HPA on CPU utilization when the target requests no CPU', async () => {
    expect(
      await problemsAfter((o) => delete routerDeployment(o).spec.template.spec.containers[0].resources.requests.cpu),
    ).toContain(
      'HorizontalPodAutoscaler kubefaas/kubefaas-router: scales on cpu utilization but container "router" of Deployment kubefaas/kubefaas-router has no cpu request',
    );
  });

  it('reports a PDB and a NetworkPolicy that select nothing, and a policy port the pods do not open', async () => {
    const problems = await problemsAfter((o) => {
      pick(o, 'PodDisruptionBudget', 'kubefaas-router').spec.selector.matchLabels = {
        'kubefaas.dev/component': 'routr',
      };
      pick(o, 'NetworkPolicy', 'hello').spec.ingress[0].from[0].podSelector.matchLabels = {
        'kubefaas.dev/component': 'routr',
      };
      pick(o, 'NetworkPolicy', 'hello').spec.ingress[0].ports[0].port = 9090;
    });
    expect(problems.sort()).toEqual(
      [
        'PodDisruptionBudget kubefaas/kubefaas-router: spec.selector {"matchLabels":{"kubefaas.dev/component":"routr"}} matches the pods of no workload',
        'NetworkPolicy kubefaas/hello: spec.ingress[0].from[0].podSelector {"matchLabels":{"kubefaas.dev/component":"routr"}} matches the pods of no workload',
        'NetworkPolicy kubefaas/hello: spec.ingress[0].ports[0] 9090/TCP is not a containerPort of the selected pods',
      ].sort(),
    );
  });

  it('reports HTTPRoute and Ingress backends that name a missing Service or port', async () => {
    const problems = await problemsAfter((o) => {
      pick(o, 'HTTPRoute', 'kubefaas-router').spec.rules[0].backendRefs[0].port = 8080;
      pick(o, 'Ingress', 'kubefaas-router').spec.rules[0].http.paths[0].backend.service.name = 'router';
    });
    expect(problems.sort()).toEqual(
      [
        'HTTPRoute kubefaas/kubefaas-router: spec.rules[0].backendRefs[0]: port 8080 is not a port of Service "kubefaas-router" (it has 80 (http))',
        'Ingress kubefaas/kubefaas-router: spec.rules[0].http.paths[0].backend names Service "router", which is not among the objects',
      ].sort(),
    );
    expect(
      await problemsAfter(
        (o) =>
          (pick(o, 'Ingress', 'kubefaas-router').spec.rules[0].http.paths[0].backend.service.port = { name: 'https' }),
      ),
    ).toEqual([
      'Ingress kubefaas/kubefaas-router: spec.rules[0].http.paths[0].backend: port "https" is not a port of Service "kubefaas-router" (it has 80 (http))',
    ]);
  });

  it('reports an Ingress TLS Secret that does not exist unless it is declared external', async () => {
    const addTls = (o: K8sObject[]) =>
      (pick(o, 'Ingress', 'kubefaas-router').spec.tls = [{ hosts: ['faas.example.com'], secretName: 'faas-tls' }]);
    expect(await problemsAfter(addTls)).toEqual([
      'Ingress kubefaas/kubefaas-router: spec.tls[0] names Secret "faas-tls", which is not among the objects (declare it in externalSecrets if it is created outside the platform)',
    ]);
    expect(await problemsAfter(addTls, { externalSecrets: ['faas-tls'] })).toEqual([]);
  });

  it('reports names that are not DNS-1123', async () => {
    const problems = await problemsAfter((o) => {
      pick(o, 'ConfigMap', 'hello-settings').metadata.name = 'Hello_Settings';
      fnContainer(o).env[3].valueFrom.configMapKeyRef.name = 'Hello_Settings';
      pick(o, 'NetworkPolicy', 'hello').metadata.name = 'hello.';
    });
    expect(problems.sort()).toEqual(
      [
        'ConfigMap kubefaas/Hello_Settings: metadata.name "Hello_Settings" is not a DNS-1123 subdomain (lowercase letters, digits, "-" and ".")',
        'NetworkPolicy kubefaas/hello.: metadata.name "hello." is not a DNS-1123 subdomain (lowercase letters, digits, "-" and ".")',
      ].sort(),
    );
  });

  it('reports namespaces that are mixed, missing or not declared', async () => {
    expect(await problemsAfter((o) => (pick(o, 'ConfigMap', 'hello-code').metadata.namespace = 'default'))).toEqual(
      expect.arrayContaining([
        'ConfigMap default/hello-code: is in namespace "default" while the other objects are in "kubefaas"',
      ]),
    );
    expect(await problemsAfter((o) => delete pick(o, 'ConfigMap', 'hello-code').metadata.namespace)).toEqual(
      expect.arrayContaining([
        'ConfigMap hello-code: has no metadata.namespace (every namespaced object must name its namespace)',
      ]),
    );
    const withoutNamespace = await problemsAfter((o) =>
      o.splice(
        o.findIndex((x) => x.kind === 'Namespace'),
        1,
      ),
    );
    expect(withoutNamespace).toContain(
      'Service kubefaas/hello: namespace "kubefaas" is neither a Namespace object here nor declared existing (existingNamespaces)',
    );
  });

  it('reports a ConfigMap over 1 MiB and duplicate objects', async () => {
    const problems = await problemsAfter((o) => {
      pick(o, 'ConfigMap', 'hello-code').data['index.js'] = 'x'.repeat(1024 * 1024);
      o.push(sampleManifests().find((x) => x.kind === 'Service')!);
    });
    expect(problems.sort()).toEqual(
      [
        'ConfigMap kubefaas/hello-code: data is 1048576 bytes; a ConfigMap must stay under 1048576 bytes (1 MiB)',
        'Service kubefaas/kubefaas-router: is defined more than once',
      ].sort(),
    );
  });
});

describe('pod security (restricted) and pod defaults', () => {
  it('reports a privileged container and host namespaces, paths and ports', async () => {
    const problems = await problemsAfter((o) => {
      fnContainer(o).securityContext.privileged = true;
      fnPod(o).hostNetwork = true;
      fnPod(o).volumes.push({ name: 'host', hostPath: { path: '/var/run' } });
      fnContainer(o).ports[0].hostPort = 8080;
    });
    expect(problems.sort()).toEqual(
      [
        'Deployment kubefaas/hello: spec.template.spec.containers[0] "function": securityContext.privileged must not be true',
        'Deployment kubefaas/hello: spec.template.spec.hostNetwork must not be true',
        'Deployment kubefaas/hello: spec.template.spec.volumes "host" uses hostPath, which restricted pods may not use (allowed: configMap, downwardAPI, emptyDir, projected, secret, csi, persistentVolumeClaim, ephemeral, image)',
        'Deployment kubefaas/hello: spec.template.spec.containers[0] "function": ports must not use hostPort (8080)',
      ].sort(),
    );
  });

  it('reports a missing seccomp profile, non-root and root user', async () => {
    expect(await problemsAfter((o) => delete fnPod(o).securityContext.seccompProfile)).toEqual([
      'Deployment kubefaas/hello: spec.template.spec.containers[0] "function": seccompProfile.type must be RuntimeDefault or Localhost (in the pod securityContext or the container\'s)',
    ]);
    expect(await problemsAfter((o) => delete fnPod(o).securityContext.runAsNonRoot)).toEqual([
      'Deployment kubefaas/hello: spec.template.spec.containers[0] "function": runAsNonRoot must be true (in the pod securityContext or the container\'s)',
    ]);
    expect(await problemsAfter((o) => (fnContainer(o).securityContext.runAsUser = 0))).toEqual([
      'Deployment kubefaas/hello: spec.template.spec.containers[0] "function": securityContext.runAsUser must not be 0 (root)',
    ]);
    expect(await problemsAfter((o) => (fnPod(o).securityContext.seccompProfile.type = 'Unconfined'))).toContain(
      'Deployment kubefaas/hello: spec.template.spec.securityContext.seccompProfile.type must be RuntimeDefault or Localhost, not Unconfined',
    );
  });

  it('reports privilege escalation and capabilities on init containers too', async () => {
    const problems = await problemsAfter((o) => {
      const init = JSON.parse(JSON.stringify(fnContainer(o)));
      init.name = 'setup';
      delete init.securityContext.allowPrivilegeEscalation;
      init.securityContext.capabilities = { drop: ['NET_RAW'], add: ['SYS_ADMIN', 'NET_BIND_SERVICE'] };
      fnPod(o).initContainers = [init];
    });
    expect(problems.sort()).toEqual(
      [
        'Deployment kubefaas/hello: spec.template.spec.initContainers[0] "setup": securityContext.allowPrivilegeEscalation must be set to false',
        'Deployment kubefaas/hello: spec.template.spec.initContainers[0] "setup": securityContext.capabilities.drop must include "ALL"',
        'Deployment kubefaas/hello: spec.template.spec.initContainers[0] "setup": securityContext.capabilities.add may only contain NET_BIND_SERVICE, not SYS_ADMIN',
      ].sort(),
    );
  });

  it('reports an unpinned image, Always pulls and missing requests', async () => {
    const problems = await problemsAfter((o) => {
      fnContainer(o).image = 'node:latest';
      fnContainer(o).imagePullPolicy = 'Always';
      delete fnContainer(o).resources.requests.memory;
    });
    expect(problems.sort()).toEqual(
      [
        'Deployment kubefaas/hello: spec.template.spec.containers[0] "function": image "node:latest" is not pinned (give a version tag other than latest, or a digest)',
        'Deployment kubefaas/hello: spec.template.spec.containers[0] "function": imagePullPolicy must not be Always (use IfNotPresent with a pinned image)',
        'Deployment kubefaas/hello: spec.template.spec.containers[0] "function": resources.requests.memory must be set',
      ].sort(),
    );
  });

  it('tells pinned images from floating ones', () => {
    expect(imageIsPinned('node:22.20.0-alpine')).toBe(true);
    expect(imageIsPinned('ghcr.io/acme/fn@sha256:' + 'a'.repeat(64))).toBe(true);
    expect(imageIsPinned('registry.local:5000/acme/fn:1.2.3')).toBe(true);
    expect(imageIsPinned('registry.local:5000/acme/fn')).toBe(false);
    expect(imageIsPinned('node')).toBe(false);
    expect(imageIsPinned('node:latest')).toBe(false);
  });

  it('checks the pod template of a CronJob', async () => {
    const problems = await problemsAfter((o) => {
      const template = JSON.parse(JSON.stringify(fnDeployment(o).spec.template));
      template.spec.restartPolicy = 'Never';
      template.spec.containers[0].image = 'busybox';
      o.push({
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'nightly', namespace: SAMPLE_NAMESPACE },
        spec: { schedule: '0 2 * * *', jobTemplate: { spec: { template } } },
      });
    });
    expect(problems).toEqual([
      'CronJob kubefaas/nightly: spec.jobTemplate.spec.template.spec.containers[0] "function": image "busybox" is not pinned (give a version tag other than latest, or a digest)',
    ]);
  });

  it('reports a Namespace that does not enforce restricted', async () => {
    expect(
      await problemsAfter(
        (o) => delete o.find((x) => x.kind === 'Namespace')!.metadata.labels['pod-security.kubernetes.io/enforce'],
      ),
    ).toEqual(['Namespace kubefaas: metadata.labels must set pod-security.kubernetes.io/enforce: restricted']);
  });
});

describe('expectValidManifests', () => {
  it('throws one error that lists every problem', async () => {
    const objects = sampleManifests();
    fnContainer(objects).image = 'node';
    pick(objects, 'Service', 'hello').spec.ports[0].targetPort = 9999;
    const error = await expectValidManifests(objects).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).toMatch(/^2 problems in the synthesized manifests:\n/);
    expect(error?.message).toContain(
      '  - Deployment kubefaas/hello: spec.template.spec.containers[0] "function": image "node" is not pinned',
    );
    expect(error?.message).toContain(
      '  - Service kubefaas/hello: spec.ports[0] targetPort 9999/TCP is not a containerPort',
    );
  });
});
