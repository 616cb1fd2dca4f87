import { apiGroup, manifestKey, objectKey } from './object-identity';
import type { KubeManifest } from './synthesize';

/**
 * Which objects must exist before which, inferred from what the objects reference — so Pulumi
 * creates Namespaces and CRDs before what lives in them, ConfigMaps, Secrets and ServiceAccounts
 * before the workloads that mount or read them, and workloads/Services before the autoscalers,
 * disruption budgets and routes that point at them. Only references to objects of the same app
 * become dependencies; references to objects that already exist in the cluster are left alone.
 *
 * Edges point at exact referenced objects (not "every ConfigMap first"), which keeps the graph
 * linear in the number of objects for platforms with thousands of functions.
 */
export function inferDependencies(manifests: readonly KubeManifest[]): number[][] {
  const index = new Map<string, number>();
  manifests.forEach((m, i) => index.set(manifestKey(m), i));
  const crdByKind = new Map<string, number>();
  manifests.forEach((m, i) => {
    if (m.kind === 'CustomResourceDefinition') {
      const spec = m.spec as { group?: string; names?: { kind?: string } } | undefined;
      if (spec?.group && spec.names?.kind) crdByKind.set(`${spec.group}/${spec.names.kind}`, i);
    }
  });
  const workloadsByNamespace = new Map<string, number[]>();
  manifests.forEach((m, i) => {
    if (podTemplateLabels(m)) {
      const ns = m.metadata.namespace ?? '';
      const list = workloadsByNamespace.get(ns);
      if (list) list.push(i);
      else workloadsByNamespace.set(ns, [i]);
    }
  });

  return manifests.map((m, self) => {
    const deps = new Set<number>();
    const ns = m.metadata.namespace;
    const add = (kind: string, name: string | undefined, namespace: string | undefined = ns): void => {
      if (!name) return;
      const target = index.get(objectKey(kind, name, namespace)) ?? index.get(objectKey(kind, name));
      if (target !== undefined && target !== self) deps.add(target);
    };

    if (ns) add('Namespace', ns, undefined);
    const crd = crdByKind.get(`${apiGroup(m.apiVersion)}/${m.kind}`);
    if (crd !== undefined) deps.add(crd);

    for (const pod of podSpecs(m)) addPodReferences(pod, add);
    addScaleTarget(m, add);
    addRouteBackends(m, add);
    addRoleBindingReferences(m, add);
    if (m.kind === 'PodDisruptionBudget') {
      const selector = (m.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector;
      for (const w of workloadsByNamespace.get(ns ?? '') ?? []) {
        if (selector?.matchLabels && labelsMatch(podTemplateLabels(manifests[w]) ?? {}, selector.matchLabels))
          deps.add(w);
      }
    }
    return [...deps];
  });
}

/**
 * A registration order in which every object comes after its dependencies (stable: otherwise the
 * order cdk8s rendered). Throws, naming the objects, if the dependencies form a cycle.
 */
export function registrationOrder(
  manifests: readonly KubeManifest[],
  dependencies: readonly (readonly number[])[],
): number[] {
  const remaining = dependencies.map((d) => new Set(d).size);
  const dependents: number[][] = manifests.map(() => []);
  dependencies.forEach((deps, i) => new Set(deps).forEach((d) => dependents[d].push(i)));
  const ready: number[] = [];
  remaining.forEach((n, i) => n === 0 && ready.push(i));
  const order: number[] = [];
  // Process in rounds so the result stays close to the rendered order.
  while (ready.length > 0) {
    ready.sort((a, b) => a - b);
    const round = ready.splice(0, ready.length);
    for (const i of round) {
      order.push(i);
      for (const d of dependents[i]) if (--remaining[d] === 0) ready.push(d);
    }
  }
  if (order.length !== manifests.length) {
    const stuck = manifests.filter((_, i) => remaining[i] > 0).map(manifestKey);
    throw new Error(`dependency cycle between Kubernetes objects: ${stuck.join(', ')}`);
  }
  return order;
}

type AddReference = (kind: string, name: string | undefined, namespace?: string) => void;

interface PodSpecLike {
  readonly volumes?: readonly {
    readonly configMap?: { readonly name?: string };
    readonly secret?: { readonly secretName?: string };
    readonly persistentVolumeClaim?: { readonly claimName?: string };
    readonly projected?: {
      readonly sources?: readonly { configMap?: { name?: string }; secret?: { name?: string } }[];
    };
  }[];
  readonly containers?: readonly ContainerLike[];
  readonly initContainers?: readonly ContainerLike[];
  readonly serviceAccountName?: string;
  readonly imagePullSecrets?: readonly { readonly name?: string }[];
}

interface ContainerLike {
  readonly env?: readonly {
    readonly valueFrom?: { configMapKeyRef?: { name?: string }; secretKeyRef?: { name?: string } };
  }[];
  readonly envFrom?: readonly { configMapRef?: { name?: string }; secretRef?: { name?: string } }[];
}

interface WithTemplate {
  readonly template?: { readonly metadata?: { readonly labels?: Record<string, string> }; readonly spec?: PodSpecLike };
  readonly jobTemplate?: { readonly spec?: WithTemplate };
}

/** Pod specs carried by an object: a Pod, any `spec.template` workload, a CronJob's job template. */
function podSpecs(m: KubeManifest): PodSpecLike[] {
  const spec = m.spec as (WithTemplate & PodSpecLike) | undefined;
  if (!spec) return [];
  if (m.kind === 'Pod') return [spec];
  const specs: PodSpecLike[] = [];
  if (spec.template?.spec) specs.push(spec.template.spec);
  if (spec.jobTemplate?.spec?.template?.spec) specs.push(spec.jobTemplate.spec.template.spec);
  return specs;
}

function podTemplateLabels(m: KubeManifest): Record<string, string> | undefined {
  if (m.kind === 'Pod') return m.metadata.labels as Record<string, string> | undefined;
  return (m.spec as WithTemplate | undefined)?.template?.metadata?.labels;
}

function addPodReferences(pod: PodSpecLike, add: AddReference): void {
  for (const v of pod.volumes ?? []) {
    add('ConfigMap', v.configMap?.name);
    add('Secret', v.secret?.secretName);
    add('PersistentVolumeClaim', v.persistentVolumeClaim?.claimName);
    for (const source of v.projected?.sources ?? []) {
      add('ConfigMap', source.configMap?.name);
      add('Secret', source.secret?.name);
    }
  }
  for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    for (const e of c.env ?? []) {
      add('ConfigMap', e.valueFrom?.configMapKeyRef?.name);
      add('Secret', e.valueFrom?.secretKeyRef?.name);
    }
    for (const e of c.envFrom ?? []) {
      add('ConfigMap', e.configMapRef?.name);
      add('Secret', e.secretRef?.name);
    }
  }
  add('ServiceAccount', pod.serviceAccountName);
  for (const s of pod.imagePullSecrets ?? []) add('Secret', s.name);
}

/** HorizontalPodAutoscaler, KEDA ScaledObject and the like: `spec.scaleTargetRef`. */
function addScaleTarget(m: KubeManifest, add: AddReference): void {
  const ref = (m.spec as { scaleTargetRef?: { kind?: string; name?: string } } | undefined)?.scaleTargetRef;
  if (ref) add(ref.kind ?? 'Deployment', ref.name);
}

/** Ingress backends and TLS Secrets; Gateway API routes' backendRefs and parent Gateways. */
function addRouteBackends(m: KubeManifest, add: AddReference): void {
  const spec = m.spec as Record<string, unknown> | undefined;
  if (!spec) return;
  if (m.kind === 'Ingress') {
    const ingress = spec as {
      defaultBackend?: { service?: { name?: string } };
      rules?: { http?: { paths?: { backend?: { service?: { name?: string } } }[] } }[];
      tls?: { secretName?: string }[];
    };
    add('Service', ingress.defaultBackend?.service?.name);
    for (const rule of ingress.rules ?? [])
      for (const p of rule.http?.paths ?? []) add('Service', p.backend?.service?.name);
    for (const tls of ingress.tls ?? []) add('Secret', tls.secretName);
    return;
  }
  if (apiGroup(m.apiVersion) === 'gateway.networking.k8s.io' && m.kind.endsWith('Route')) {
    const route = spec as {
      parentRefs?: { kind?: string; name?: string; namespace?: string }[];
      rules?: { backendRefs?: { kind?: string; name?: string; namespace?: string }[] }[];
    };
    for (const p of route.parentRefs ?? []) add(p.kind ?? 'Gateway', p.name, p.namespace ?? m.metadata.namespace);
    for (const rule of route.rules ?? []) {
      for (const b of rule.backendRefs ?? []) add(b.kind ?? 'Service', b.name, b.namespace ?? m.metadata.namespace);
    }
  }
}

function addRoleBindingReferences(m: KubeManifest, add: AddReference): void {
  if (m.kind !== 'RoleBinding' && m.kind !== 'ClusterRoleBinding') return;
  const binding = m as unknown as {
    roleRef?: { kind?: string; name?: string };
    subjects?: { kind?: string; name?: string; namespace?: string }[];
  };
  if (binding.roleRef?.kind) add(binding.roleRef.kind, binding.roleRef.name);
  for (const s of binding.subjects ?? []) if (s.kind === 'ServiceAccount') add('ServiceAccount', s.name, s.namespace);
}

function labelsMatch(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
