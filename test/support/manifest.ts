/**
 * Small, dependency-free helpers to read synthesized Kubernetes objects: identity, pod templates,
 * label selectors. The objects are plain JSON (as cdk8s `Testing.synth` returns them), so fields are
 * read defensively: a malformed object must produce a problem, never a crash of the checker.
 */

/** A synthesized Kubernetes object, as plain JSON. */

export type K8sObject = Record<string, any>;

/** Kinds that are not namespaced (the ones a FaaS platform might plausibly synthesize). */
const CLUSTER_SCOPED_KINDS = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'GatewayClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'APIService',
  'ClusterTriggerAuthentication',
]);

export function isNamespaced(obj: K8sObject): boolean {
  return !CLUSTER_SCOPED_KINDS.has(String(obj.kind));
}

export function nameOf(obj: K8sObject): string {
  return typeof obj?.metadata?.name === 'string' ? obj.metadata.name : '';
}

export function namespaceOf(obj: K8sObject): string | undefined {
  return typeof obj?.metadata?.namespace === 'string' ? obj.metadata.namespace : undefined;
}

/** `Kind ns/name` (or `Kind name` for cluster-scoped objects): how problems name an object. */
export function describeObject(obj: K8sObject): string {
  const kind = typeof obj?.kind === 'string' ? obj.kind : '<no kind>';
  const name = nameOf(obj) || '<no name>';
  const ns = namespaceOf(obj);
  return ns ? `${kind} ${ns}/${name}` : `${kind} ${name}`;
}

export function asArray<T = K8sObject>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

export function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Kinds that own a pod template, and where it is. */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob'] as const;

/** A pod template (`{ metadata, spec }`) found in an object. */
export interface PodTemplate {
  readonly owner: K8sObject;
  /** Dotted path of the template inside its owner, for messages. */
  readonly path: string;
  readonly labels: Record<string, unknown>;
  readonly spec: K8sObject;
}

/** The pod template of a workload (or a bare Pod), or undefined for other kinds. */
export function podTemplateOf(obj: K8sObject): PodTemplate | undefined {
  let path: string;
  let template: K8sObject | undefined;
  switch (obj.kind) {
    case 'Pod':
      path = '';
      template = obj;
      break;
    case 'CronJob':
      path = 'spec.jobTemplate.spec.template';
      template = obj.spec?.jobTemplate?.spec?.template;
      break;
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job':
      path = 'spec.template';
      template = obj.spec?.template;
      break;
    default:
      return undefined;
  }
  return {
    owner: obj,
    path,
    labels: asRecord(template?.metadata?.labels),
    spec: asRecord(template?.spec),
  };
}

/** A container of a pod spec with the list it came from (for messages). */
export interface ContainerRef {
  readonly list: 'containers' | 'initContainers' | 'ephemeralContainers';
  readonly index: number;
  readonly container: K8sObject;
}

export function containersOf(spec: K8sObject): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const list of ['containers', 'initContainers', 'ephemeralContainers'] as const) {
    asArray(spec[list]).forEach((container, index) => out.push({ list, index, container: asRecord(container) }));
  }
  return out;
}

/** `containers[0] "function"`: how messages name a container. */
export function describeContainer(ref: ContainerRef, template: PodTemplate): string {
  const prefix = template.path ? `${template.path}.spec.` : 'spec.';
  const name = typeof ref.container.name === 'string' ? ` "${ref.container.name}"` : '';
  return `${prefix}${ref.list}[${ref.index}]${name}`;
}

/**
 * Whether a label selector (`{ matchLabels, matchExpressions }`) selects the given labels. An empty
 * selector selects everything, as in Kubernetes.
 */
export function selectorMatches(selector: unknown, labels: Record<string, unknown>): boolean {
  const sel = asRecord(selector);
  for (const [key, value] of Object.entries(asRecord(sel.matchLabels))) {
    if (labels[key] !== value) return false;
  }
  for (const expr of asArray(sel.matchExpressions)) {
    const key = String(expr.key);
    const values = asArray<string>(expr.values);
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    switch (expr.operator) {
      case 'In':
        if (!has || !values.includes(labels[key] as string)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[key] as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Whether a selector has no terms at all (selects everything). */
export function selectorIsEmpty(selector: unknown): boolean {
  const sel = asRecord(selector);
  return Object.keys(asRecord(sel.matchLabels)).length === 0 && asArray(sel.matchExpressions).length === 0;
}
