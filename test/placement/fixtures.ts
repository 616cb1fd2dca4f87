import { PodTemplateLike } from '../../constructs/placement/pod-types';
import { PlacementTarget } from '../../constructs/placement/rules';

/** A function pod as the constructs render it (restricted PSS, small explicit resources). */
export function functionPod(overrides: Partial<PodTemplateLike['spec']> = {}): PodTemplateLike {
  return {
    metadata: { labels: { 'kubefaas.dev/function': 'hello', 'app.kubernetes.io/name': 'hello' } },
    spec: {
      automountServiceAccountToken: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        fsGroup: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'function',
          image: 'node:22.20.0-alpine',
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '100m', memory: '128Mi' } },
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            readOnlyRootFilesystem: true,
          },
          ports: [{ containerPort: 8080, name: 'http' }],
        },
      ],
      volumes: [
        { name: 'runtime', configMap: { name: 'kubefaas-runtime' } },
        { name: 'code', configMap: { name: 'hello-code' } },
        { name: 'tmp', emptyDir: {} },
      ],
      ...overrides,
    },
  };
}

export function target(
  template: PodTemplateLike = functionPod(),
  extra: Partial<PlacementTarget> = {},
): PlacementTarget {
  return { subject: 'function "hello"', workloadKind: 'Deployment', namespace: 'kubefaas', template, ...extra };
}

/** The function container with `changes` merged in. */
export function withContainer(
  changes: Record<string, unknown>,
  spec: Partial<PodTemplateLike['spec']> = {},
): PodTemplateLike {
  const base = functionPod(spec);
  return { ...base, spec: { ...base.spec, containers: [{ ...base.spec.containers[0], ...changes }] } };
}
