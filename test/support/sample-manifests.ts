/**
 * A small, hand-written, valid set of manifests shaped like what a Platform synthesizes (router,
 * one function, their ConfigMaps, Services, policies, exposure). Tests of the verification layer
 * break one thing at a time in a fresh copy and expect exactly that to be reported.
 */
import { Annotations, CONTAINER_PORT, Env, Labels, NODE_UID, PART_OF, Paths, SERVICE_PORT } from '../../src/contract';
import { K8sObject } from './manifest';

export const SAMPLE_NAMESPACE = 'kubefaas';
const IMAGE = 'node:22.20.0-alpine';

const commonLabels = { [Labels.partOf]: PART_OF, [Labels.managedBy]: PART_OF };

function meta(name: string, extra: Record<string, string> = {}) {
  return { name, namespace: SAMPLE_NAMESPACE, labels: { ...commonLabels, ...extra } };
}

function podSecurityContext() {
  return {
    runAsNonRoot: true,
    runAsUser: NODE_UID,
    runAsGroup: NODE_UID,
    fsGroup: NODE_UID,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function containerSecurityContext() {
  return { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
}

function probe(path: string) {
  return { httpGet: { path, port: CONTAINER_PORT }, periodSeconds: 10, failureThreshold: 3 };
}

function nodeContainer(name: string, command: string[], env: K8sObject[], mounts: K8sObject[]) {
  return {
    name,
    image: IMAGE,
    imagePullPolicy: 'IfNotPresent',
    command,
    env,
    ports: [{ name: 'http', containerPort: CONTAINER_PORT, protocol: 'TCP' }],
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    securityContext: containerSecurityContext(),
    readinessProbe: probe('/readyz'),
    livenessProbe: probe('/healthz'),
    volumeMounts: [...mounts, { name: 'tmp', mountPath: Paths.tmpDir }],
  };
}

function service(name: string, selector: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name),
    spec: {
      type: 'ClusterIP',
      selector,
      ports: [{ name: 'http', port: SERVICE_PORT, targetPort: CONTAINER_PORT, protocol: 'TCP' }],
    },
  };
}

/** Fresh objects on every call: tests mutate them. */
export function sampleManifests(): K8sObject[] {
  const fn = 'hello';
  const fnSelector = { [Labels.function]: fn };
  const routerSelector = { [Labels.platformComponent]: 'router' };
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: SAMPLE_NAMESPACE,
        labels: { ...commonLabels, 'pod-security.kubernetes.io/enforce': 'restricted' },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('kubefaas-runtime'),
      data: { [Paths.runtimeFile]: 'module.exports = {};' },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('kubefaas-router'),
      data: { [Paths.routerFile]: 'module.exports = {};' },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('kubefaas-routes'),
      data: {
        [Paths.routesFile]: JSON.stringify({
          version: 1,
          functions: {
            [fn]: { url: `http://${fn}.${SAMPLE_NAMESPACE}.svc.cluster.local:${SERVICE_PORT}`, timeoutMs: 30000 },
          },
          routes: [{ function: fn, methods: ['GET'], path: '/hello' }],
        }),
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(`${fn}-code`),
      data: { [Paths.functionFile]: 'module.exports = () => "hi";' },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(`${fn}-settings`), data: { GREETING: 'hello' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta('kubefaas-router', { [Labels.component]: 'router' }),
      spec: {
        selector: { matchLabels: routerSelector },
        template: {
          metadata: { labels: { ...commonLabels, ...routerSelector } },
          spec: {
            automountServiceAccountToken: false,
            securityContext: podSecurityContext(),
            containers: [
              nodeContainer(
                'router',
                ['node', `${Paths.routerDir}/${Paths.routerFile}`],
                [
                  { name: Env.PORT, value: String(CONTAINER_PORT) },
                  { name: Env.ROUTES_PATH, value: `${Paths.routesDir}/${Paths.routesFile}` },
                ],
                [
                  { name: 'router', mountPath: Paths.routerDir, readOnly: true },
                  { name: 'routes', mountPath: Paths.routesDir, readOnly: true },
                ],
              ),
            ],
            volumes: [
              { name: 'router', configMap: { name: 'kubefaas-router' } },
              { name: 'routes', configMap: { name: 'kubefaas-routes' } },
              { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
            ],
          },
        },
      },
    },
    service('kubefaas-router', routerSelector),
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: meta('kubefaas-router'),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'kubefaas-router' },
        minReplicas: 2,
        maxReplicas: 5,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
        ],
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta('kubefaas-router'),
      spec: { maxUnavailable: 1, selector: { matchLabels: routerSelector } },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: meta('kubefaas-router'),
      spec: {
        parentRefs: [{ name: 'public', namespace: 'gateway-system' }],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            backendRefs: [{ name: 'kubefaas-router', port: SERVICE_PORT }],
          },
        ],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta('kubefaas-router'),
      spec: {
        ingressClassName: 'traefik',
        rules: [
          {
            host: 'faas.example.com',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'kubefaas-router', port: { name: 'http' } } },
                },
              ],
            },
          },
        ],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(fn, { [Labels.name]: fn }),
      spec: {
        replicas: 1,
        selector: { matchLabels: fnSelector },
        template: {
          metadata: {
            labels: { ...commonLabels, ...fnSelector, [Labels.name]: fn },
            annotations: { [Annotations.codeHash]: 'abc123' },
          },
          spec: {
            automountServiceAccountToken: false,
            securityContext: podSecurityContext(),
            containers: [
              nodeContainer(
                'function',
                ['node', `${Paths.runtimeDir}/${Paths.runtimeFile}`],
                [
                  { name: Env.PORT, value: String(CONTAINER_PORT) },
                  { name: Env.FUNCTION_NAME, value: fn },
                  { name: Env.HANDLER_PATH, value: `${Paths.functionDir}/${Paths.functionFile}` },
                  { name: 'GREETING', valueFrom: { configMapKeyRef: { name: `${fn}-settings`, key: 'GREETING' } } },
                  { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis', key: 'password' } } },
                ],
                [
                  { name: 'runtime', mountPath: Paths.runtimeDir, readOnly: true },
                  { name: 'code', mountPath: Paths.functionDir, readOnly: true },
                ],
              ),
            ],
            volumes: [
              { name: 'runtime', configMap: { name: 'kubefaas-runtime' } },
              { name: 'code', configMap: { name: `${fn}-code` } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    },
    service(fn, fnSelector),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(fn),
      spec: {
        podSelector: { matchLabels: fnSelector },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ podSelector: { matchLabels: routerSelector } }],
            ports: [{ protocol: 'TCP', port: CONTAINER_PORT }],
          },
        ],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta('redis'),
      type: 'Opaque',
      stringData: { password: 'not-a-real-password' },
    },
  ];
}

/** Finds an object of a sample set by kind and name (throws when absent, so tests stay honest). */
export function pick(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the sample`);
  return found;
}
