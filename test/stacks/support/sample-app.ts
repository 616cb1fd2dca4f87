/**
 * A small cdk8s app with the kinds a platform synthesizes (and a CRD with an instance), written
 * with plain ApiObjects so the adapter is tested independently of the kubefaas constructs.
 */
import { ApiObject, App, Chart } from 'cdk8s';
import { Construct } from 'constructs';

export interface SampleOptions {
  readonly namespace?: string;
  /** Nest the objects one construct level deeper (object names unchanged). */
  readonly nested?: boolean;
  readonly exposure?: 'clusterIp' | 'gateway' | 'gateway-tls' | 'ingress' | 'ingress-tls' | 'loadBalancer';
}

export function buildSampleApp(app: App, options: SampleOptions = {}): Chart {
  const ns = options.namespace ?? 'sample';
  const chart = new Chart(app, 'sample', { disableResourceNameHashes: true });
  const scope: Construct = options.nested ? new Construct(new Construct(chart, 'outer'), 'inner') : chart;
  const meta = (name: string) => ({ name, namespace: ns, labels: { 'app.kubernetes.io/part-of': 'kubefaas' } });

  new ApiObject(scope, 'ns', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  new ApiObject(scope, 'crd', {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.com' },
    spec: {
      group: 'example.com',
      names: { kind: 'Widget', plural: 'widgets' },
      scope: 'Namespaced',
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object' } } }],
    },
  });
  new ApiObject(scope, 'widget', {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: meta('gizmo'),
    spec: { size: 3 },
  });
  new ApiObject(scope, 'code', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta('web-code'),
    data: { 'index.js': 'module.exports = () => "hi";' },
  });
  new ApiObject(scope, 'other', { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('unrelated'), data: { a: '1' } });
  new ApiObject(scope, 'token', {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta('web-token'),
    stringData: { TOKEN: 'not-a-real-token' },
  });
  new ApiObject(scope, 'sa', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('web') });
  new ApiObject(scope, 'router-svc', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('kubefaas-router'),
    spec: {
      type: options.exposure === 'loadBalancer' ? 'LoadBalancer' : 'ClusterIP',
      selector: { 'kubefaas.dev/component': 'router' },
      ports: [{ name: 'http', port: 80, targetPort: 8080 }],
    },
  });
  new ApiObject(scope, 'deploy', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('web'),
    spec: {
      selector: { matchLabels: { 'kubefaas.dev/function': 'web' } },
      template: {
        metadata: { labels: { 'kubefaas.dev/function': 'web' } },
        spec: {
          serviceAccountName: 'web',
          containers: [
            {
              name: 'function',
              image: 'node:22.20.0-alpine',
              env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'web-token', key: 'TOKEN' } } }],
              volumeMounts: [{ name: 'code', mountPath: '/var/kubefaas/function' }],
            },
          ],
          volumes: [{ name: 'code', configMap: { name: 'web-code' } }],
        },
      },
    },
  });
  new ApiObject(scope, 'svc', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('web'),
    spec: { selector: { 'kubefaas.dev/function': 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
  new ApiObject(scope, 'hpa', {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta('web'),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 2,
      maxReplicas: 5,
    },
  });
  new ApiObject(scope, 'pdb', {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta('web'),
    spec: { minAvailable: 1, selector: { matchLabels: { 'kubefaas.dev/function': 'web' } } },
  });
  if (options.exposure === 'gateway') {
    new ApiObject(scope, 'route', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: meta('kubefaas-router'),
      spec: {
        parentRefs: [{ name: 'public', namespace: 'gateways' }],
        hostnames: ['faas.example.com'],
        rules: [{ backendRefs: [{ name: 'kubefaas-router', port: 80 }] }],
      },
    });
  }
  if (options.exposure === 'gateway-tls') {
    // The app's own Gateway (router.tls with gatewayClassName): the route's listener is HTTPS.
    new ApiObject(scope, 'gateway', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: meta('public'),
      spec: {
        gatewayClassName: 'eg',
        listeners: [
          { name: 'http', port: 80, protocol: 'HTTP' },
          { name: 'https', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'tls' }] } },
        ],
      },
    });
    new ApiObject(scope, 'route', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: meta('kubefaas-router'),
      spec: {
        parentRefs: [{ name: 'public', sectionName: 'https' }],
        hostnames: ['faas.example.com'],
        rules: [{ backendRefs: [{ name: 'kubefaas-router', port: 80 }] }],
      },
    });
  }
  if (options.exposure === 'ingress' || options.exposure === 'ingress-tls') {
    new ApiObject(scope, 'ingress', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta('kubefaas-router'),
      spec: {
        rules: [
          {
            host: 'faas.example.org',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'kubefaas-router', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
        ...(options.exposure === 'ingress-tls'
          ? { tls: [{ hosts: ['faas.example.org'], secretName: 'faas-tls' }] }
          : {}),
      },
    });
  }
  return chart;
}
