/**
 * Cross-object checks a schema cannot express: selectors match pod templates, Services reach real
 * container ports, everything referenced exists, names are valid, one namespace that exists,
 * ConfigMaps small enough for etcd. Each check returns messages; none throws on malformed input.
 */
import {
  asArray,
  asRecord,
  containersOf,
  describeObject,
  isNamespaced,
  K8sObject,
  nameOf,
  namespaceOf,
  podTemplateOf,
  PodTemplate,
  selectorIsEmpty,
  selectorMatches,
} from './manifest';
import {
  configKeyProblem,
  dns1035LabelProblem,
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  labelKeyProblem,
  labelValueProblem,
  portNameProblem,
} from './names';

export interface SemanticProblem {
  readonly object: string;
  readonly message: string;
}

export interface SemanticOptions {
  /** @default [] */
  readonly externalSecrets?: readonly string[];
  /** @default [] */
  readonly externalConfigMaps?: readonly string[];
  /** @default [] */
  readonly existingNamespaces?: readonly string[];
  /** @default [] */
  readonly externalServiceAccounts?: readonly string[];
}

/** The API server's limit on a ConfigMap's (and Secret's) data. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Everything the checks look up, indexed once. */
type NamespacedTemplate = PodTemplate & { readonly namespace: string | undefined };

class Inventory {
  readonly byKey = new Map<string, K8sObject>();
  readonly templates: NamespacedTemplate[] = [];
  /** `namespace|label=value` -> templates carrying it: selectors of 1000 functions stay linear. */
  private readonly byLabel = new Map<string, NamespacedTemplate[]>();

  constructor(readonly objects: readonly K8sObject[]) {
    for (const obj of objects) {
      this.byKey.set(Inventory.key(String(obj?.kind), namespaceOf(obj), nameOf(obj)), obj);
      const template = podTemplateOf(obj);
      if (!template) continue;
      const entry = { ...template, namespace: namespaceOf(obj) };
      this.templates.push(entry);
      for (const [label, value] of Object.entries(template.labels)) {
        const key = `${entry.namespace ?? ''}|${label}=${String(value)}`;
        const list = this.byLabel.get(key);
        if (list) list.push(entry);
        else this.byLabel.set(key, [entry]);
      }
    }
  }

  static key(kind: string, namespace: string | undefined, name: string): string {
    return `${kind}|${namespace ?? ''}|${name}`;
  }

  find(kind: string, namespace: string | undefined, name: string): K8sObject | undefined {
    return this.byKey.get(Inventory.key(kind, namespace, name));
  }

  /** Pod templates in a namespace whose labels a selector selects. */
  podsSelectedBy(selector: unknown, namespace: string | undefined): NamespacedTemplate[] {
    const first = Object.entries(asRecord(asRecord(selector).matchLabels))[0];
    const candidates = first
      ? (this.byLabel.get(`${namespace ?? ''}|${first[0]}=${String(first[1])}`) ?? [])
      : this.templates;
    return candidates.filter((t) => t.namespace === namespace && selectorMatches(selector, t.labels));
  }
}

export function checkSemantics(objects: readonly K8sObject[], options: SemanticOptions = {}): SemanticProblem[] {
  const inv = new Inventory(objects);
  const problems: SemanticProblem[] = [];
  const report = (obj: K8sObject, messages: Iterable<string>) => {
    for (const message of messages) problems.push({ object: describeObject(obj), message });
  };

  problems.push(...checkDuplicates(objects));
  problems.push(...checkNamespaces(objects, options));
  for (const obj of objects) {
    report(obj, checkNames(obj));
    report(obj, checkLabels(obj));
    switch (obj.kind) {
      case 'ConfigMap':
      case 'Secret':
        report(obj, checkConfigData(obj));
        break;
      case 'Service':
        report(obj, checkService(obj, inv));
        break;
      case 'PodDisruptionBudget':
        report(obj, checkPdb(obj, inv));
        break;
      case 'NetworkPolicy':
        report(obj, checkNetworkPolicy(obj, inv));
        break;
      case 'HorizontalPodAutoscaler':
        report(obj, checkHpa(obj, inv));
        break;
      case 'ScaledObject':
        report(obj, checkScaledObject(obj, inv));
        break;
      case 'HTTPRoute':
        report(obj, checkHttpRoute(obj, inv));
        report(obj, checkParentRefs(obj, inv));
        break;
      case 'Gateway':
        report(obj, checkGateway(obj, inv, options));
        break;
      case 'Ingress':
        report(obj, checkIngress(obj, inv, options));
        break;
    }
    const template = podTemplateOf(obj);
    if (template) {
      report(obj, checkWorkloadSelector(obj, template));
      report(obj, checkPodReferences(template, namespaceOf(obj), inv, options));
      report(obj, checkContainerNames(template));
    }
  }
  return problems;
}

function checkDuplicates(objects: readonly K8sObject[]): SemanticProblem[] {
  const seen = new Set<string>();
  const out: SemanticProblem[] = [];
  for (const obj of objects) {
    const key = `${obj?.apiVersion}|${Inventory.key(String(obj?.kind), namespaceOf(obj), nameOf(obj))}`;
    if (seen.has(key)) out.push({ object: describeObject(obj), message: 'is defined more than once' });
    seen.add(key);
  }
  return out;
}

/** All namespaced objects live in one namespace, which is created here or declared existing. */
function checkNamespaces(objects: readonly K8sObject[], options: SemanticOptions): SemanticProblem[] {
  const out: SemanticProblem[] = [];
  const declared = new Set([
    ...(options.existingNamespaces ?? []),
    ...objects.filter((o) => o.kind === 'Namespace').map(nameOf),
  ]);
  const counts = new Map<string, number>();
  for (const obj of objects) {
    // A cluster-scoped object may carry metadata.namespace: the API server drops it (and our
    // objects all carry the platform namespace by convention), so it is not a problem.
    if (!isNamespaced(obj)) continue;
    const ns = namespaceOf(obj);
    if (ns === undefined)
      out.push({
        object: describeObject(obj),
        message: 'has no metadata.namespace (every namespaced object must name its namespace)',
      });
    else counts.set(ns, (counts.get(ns) ?? 0) + 1);
  }
  const primary = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  for (const obj of objects) {
    const ns = namespaceOf(obj);
    if (!isNamespaced(obj) || ns === undefined) continue;
    if (ns !== primary)
      out.push({
        object: describeObject(obj),
        message: `is in namespace "${ns}" while the other objects are in "${primary}"`,
      });
    else if (!declared.has(ns)) {
      out.push({
        object: describeObject(obj),
        message: `namespace "${ns}" is neither a Namespace object here nor declared existing (existingNamespaces)`,
      });
    }
  }
  return out;
}

function checkNames(obj: K8sObject): string[] {
  const name = nameOf(obj);
  if (!name) return ['has no metadata.name'];
  const problem =
    obj.kind === 'Service'
      ? dns1035LabelProblem(name)
      : obj.kind === 'Namespace'
        ? dns1123LabelProblem(name)
        : dns1123SubdomainProblem(name);
  return problem ? [`metadata.name ${problem}`] : [];
}

function labelProblems(labels: unknown, where: string): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(asRecord(labels))) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) out.push(`${where}: ${problem}`);
  }
  return out;
}

function checkLabels(obj: K8sObject): string[] {
  const out = labelProblems(obj.metadata?.labels, 'metadata.labels');
  const template = podTemplateOf(obj);
  if (template && template.path) out.push(...labelProblems(template.labels, `${template.path}.metadata.labels`));
  return out;
}

function checkConfigData(obj: K8sObject): string[] {
  const out: string[] = [];
  let bytes = 0;
  const data = asRecord(obj.data);
  const binary = asRecord(obj.kind === 'ConfigMap' ? obj.binaryData : undefined);
  const stringData = asRecord(obj.kind === 'Secret' ? obj.stringData : undefined);
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== 'string') continue; // the schema check reports the type
    // ConfigMap values are text; Secret `data` values are base64.
    bytes += obj.kind === 'Secret' ? Buffer.from(value, 'base64').length : Buffer.byteLength(value, 'utf8');
    const problem = configKeyProblem(key);
    if (problem) out.push(problem);
  }
  for (const [key, value] of Object.entries({ ...binary, ...stringData })) {
    if (typeof value !== 'string') continue;
    bytes += obj.kind === 'ConfigMap' ? Buffer.from(value, 'base64').length : Buffer.byteLength(value, 'utf8');
    const problem = configKeyProblem(key);
    if (problem) out.push(problem);
    if (Object.prototype.hasOwnProperty.call(data, key) && obj.kind === 'ConfigMap')
      out.push(`key "${key}" is in both data and binaryData`);
  }
  if (bytes >= MAX_CONFIG_BYTES) {
    out.push(`data is ${bytes} bytes; a ${obj.kind} must stay under ${MAX_CONFIG_BYTES} bytes (1 MiB)`);
  }
  return out;
}

function checkWorkloadSelector(obj: K8sObject, template: PodTemplate): string[] {
  // Jobs get a generated selector by default; bare Pods and CronJobs have none.
  if (!['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(obj.kind)) return [];
  const selector = obj.spec?.selector;
  if (selectorIsEmpty(selector)) return ['spec.selector is empty (it must select the pod template labels)'];
  if (!selectorMatches(selector, template.labels)) {
    return [
      `spec.selector ${JSON.stringify(selector)} does not match the template labels ${JSON.stringify(template.labels)}`,
    ];
  }
  return [];
}

function checkContainerNames(template: PodTemplate): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const ref of containersOf(template.spec)) {
    const name = String(ref.container.name ?? '');
    const problem = dns1123LabelProblem(name);
    if (problem) out.push(`${ref.list}[${ref.index}] name ${problem}`);
    if (seen.has(name)) out.push(`${ref.list}[${ref.index}] name "${name}" is used by another container`);
    seen.add(name);
    for (const port of asArray(ref.container.ports)) {
      if (typeof port.name === 'string') {
        const portProblem = portNameProblem(port.name);
        if (portProblem) out.push(`${ref.list}[${ref.index}] ${portProblem}`);
      }
    }
  }
  return out;
}

/** ConfigMaps and Secrets a pod uses exist (with the keys it reads), volume mounts name volumes. */
function checkPodReferences(
  template: PodTemplate,
  namespace: string | undefined,
  inv: Inventory,
  options: SemanticOptions,
): string[] {
  const out: string[] = [];
  const externalSecrets = new Set(options.externalSecrets ?? []);
  const externalConfigMaps = new Set(options.externalConfigMaps ?? []);

  const need = (
    kind: 'ConfigMap' | 'Secret',
    name: unknown,
    keys: readonly unknown[],
    where: string,
    optional: unknown,
  ) => {
    if (optional === true) return;
    if (typeof name !== 'string' || name === '') {
      out.push(`${where} references a ${kind} without a name`);
      return;
    }
    const external = kind === 'Secret' ? externalSecrets : externalConfigMaps;
    const target = inv.find(kind, namespace, name);
    if (!target) {
      if (!external.has(name)) {
        const hint = kind === 'Secret' ? ' (declare it in externalSecrets if it is created outside the platform)' : '';
        out.push(`${where} references ${kind} "${name}", which is not among the objects${hint}`);
      }
      return;
    }
    const available = new Set([
      ...Object.keys(asRecord(target.data)),
      ...Object.keys(asRecord(target.binaryData)),
      ...Object.keys(asRecord(target.stringData)),
    ]);
    for (const key of keys) {
      if (typeof key === 'string' && !available.has(key))
        out.push(`${where} reads key "${key}" that ${kind} "${name}" does not have`);
    }
  };

  // `default` exists in every namespace; any other ServiceAccount must be defined or declared external.
  const account = template.spec.serviceAccountName;
  if (
    account !== undefined &&
    account !== 'default' &&
    !inv.find('ServiceAccount', namespace, String(account)) &&
    !(options.externalServiceAccounts ?? []).includes(String(account))
  ) {
    out.push(
      `serviceAccountName references ServiceAccount "${String(account)}", which is not among the objects (declare it in externalServiceAccounts if it is created outside the platform)`,
    );
  }

  const volumeNames = new Set<string>();
  // A StatefulSet's volumeClaimTemplates are volumes of its pods too.
  if (template.owner.kind === 'StatefulSet') {
    for (const claim of asArray(template.owner.spec?.volumeClaimTemplates))
      volumeNames.add(String(claim.metadata?.name));
  }
  asArray(template.spec.volumes).forEach((volume, i) => {
    const where = `volumes[${i}] "${volume.name}"`;
    volumeNames.add(String(volume.name));
    const itemKeys = (source: K8sObject) => asArray(source.items).map((item) => item.key);
    if (volume.configMap)
      need('ConfigMap', volume.configMap.name, itemKeys(volume.configMap), where, volume.configMap.optional);
    if (volume.secret) need('Secret', volume.secret.secretName, itemKeys(volume.secret), where, volume.secret.optional);
    for (const source of asArray(volume.projected?.sources)) {
      if (source.configMap)
        need('ConfigMap', source.configMap.name, itemKeys(source.configMap), where, source.configMap.optional);
      if (source.secret) need('Secret', source.secret.name, itemKeys(source.secret), where, source.secret.optional);
    }
  });

  for (const ref of containersOf(template.spec)) {
    const c = ref.container;
    const where = `${ref.list}[${ref.index}]`;
    asArray(c.envFrom).forEach((from, i) => {
      if (from.configMapRef)
        need('ConfigMap', from.configMapRef.name, [], `${where}.envFrom[${i}]`, from.configMapRef.optional);
      if (from.secretRef) need('Secret', from.secretRef.name, [], `${where}.envFrom[${i}]`, from.secretRef.optional);
    });
    asArray(c.env).forEach((env, i) => {
      const cmRef = env.valueFrom?.configMapKeyRef;
      const secretRef = env.valueFrom?.secretKeyRef;
      if (cmRef) need('ConfigMap', cmRef.name, [cmRef.key], `${where}.env[${i}] ${env.name}`, cmRef.optional);
      if (secretRef)
        need('Secret', secretRef.name, [secretRef.key], `${where}.env[${i}] ${env.name}`, secretRef.optional);
    });
    asArray(c.volumeMounts).forEach((mount, i) => {
      if (!volumeNames.has(String(mount.name)))
        out.push(`${where}.volumeMounts[${i}] mounts volume "${mount.name}", which the pod does not define`);
    });
  }
  return out;
}

/** The container ports (number/name/protocol) of the given pod templates. */
function containerPorts(templates: readonly PodTemplate[]) {
  return templates.map((t) =>
    asArray(t.spec.containers).flatMap((c) =>
      asArray(c.ports).map((p) => ({
        number: p.containerPort as unknown,
        name: p.name as unknown,
        protocol: (p.protocol ?? 'TCP') as unknown,
      })),
    ),
  );
}

/** Whether every template exposes the port (by number or by name, with the protocol). */
function everyTemplateHasPort(templates: readonly PodTemplate[], port: unknown, protocol: unknown): boolean {
  return containerPorts(templates).every((ports) =>
    ports.some((p) => p.protocol === protocol && (typeof port === 'number' ? p.number === port : p.name === port)),
  );
}

function checkService(obj: K8sObject, inv: Inventory): string[] {
  const spec = asRecord(obj.spec);
  const out: string[] = [];
  asArray(spec.ports).forEach((port, i) => {
    if (typeof port.name === 'string') {
      const problem = dns1123LabelProblem(port.name);
      if (problem) out.push(`spec.ports[${i}] name ${problem}`);
    }
  });
  if (spec.type === 'ExternalName' || spec.selector === undefined) return out; // endpoints managed elsewhere
  const selector = { matchLabels: spec.selector };
  const pods = inv.podsSelectedBy(selector, namespaceOf(obj));
  if (Object.keys(asRecord(spec.selector)).length === 0) return [...out, 'spec.selector is empty'];
  if (pods.length === 0)
    return [...out, `spec.selector ${JSON.stringify(spec.selector)} matches the pods of no workload`];
  asArray(spec.ports).forEach((port, i) => {
    const target = port.targetPort ?? port.port;
    const protocol = port.protocol ?? 'TCP';
    if (!everyTemplateHasPort(pods, target, protocol)) {
      const owners = pods.map((p) => describeObject(p.owner)).join(', ');
      out.push(
        `spec.ports[${i}] targetPort ${JSON.stringify(target)}/${protocol} is not a containerPort of the selected pods (${owners})`,
      );
    }
  });
  return out;
}

function checkPdb(obj: K8sObject, inv: Inventory): string[] {
  const spec = asRecord(obj.spec);
  if (selectorIsEmpty(spec.selector)) return ['spec.selector is empty (it would cover every pod of the namespace)'];
  const pods = inv.podsSelectedBy(spec.selector, namespaceOf(obj));
  if (pods.length === 0) return [`spec.selector ${JSON.stringify(spec.selector)} matches the pods of no workload`];
  const out: string[] = [];
  // A budget that can never be met blocks every node drain.
  for (const pod of pods) {
    const replicas = pod.owner.spec?.replicas;
    if (typeof spec.minAvailable === 'number' && typeof replicas === 'number' && spec.minAvailable >= replicas) {
      out.push(
        `spec.minAvailable ${spec.minAvailable} >= the ${replicas} replicas of ${describeObject(pod.owner)}: no pod could ever be evicted`,
      );
    }
  }
  return out;
}

function checkNetworkPolicy(obj: K8sObject, inv: Inventory): string[] {
  const spec = asRecord(obj.spec);
  const ns = namespaceOf(obj);
  const out: string[] = [];
  const pods = inv.podsSelectedBy(spec.podSelector, ns);
  if (pods.length === 0)
    return [`spec.podSelector ${JSON.stringify(spec.podSelector ?? {})} matches the pods of no workload`];
  asArray(spec.ingress).forEach((rule, r) => {
    asArray(rule.from).forEach((peer, p) => {
      // Pod peers without a namespace selector are pods of this namespace: they must exist here.
      if (peer.podSelector && !peer.namespaceSelector && inv.podsSelectedBy(peer.podSelector, ns).length === 0) {
        out.push(
          `spec.ingress[${r}].from[${p}].podSelector ${JSON.stringify(peer.podSelector)} matches the pods of no workload`,
        );
      }
    });
    asArray(rule.ports).forEach((port, p) => {
      if (port.port === undefined || port.endPort !== undefined) return;
      if (!everyTemplateHasPort(pods, port.port, port.protocol ?? 'TCP')) {
        out.push(
          `spec.ingress[${r}].ports[${p}] ${JSON.stringify(port.port)}/${port.protocol ?? 'TCP'} is not a containerPort of the selected pods`,
        );
      }
    });
  });
  return out;
}

function checkHpa(obj: K8sObject, inv: Inventory): string[] {
  const spec = asRecord(obj.spec);
  const ref = asRecord(spec.scaleTargetRef);
  const out: string[] = [];
  const target =
    typeof ref.name === 'string' && typeof ref.kind === 'string'
      ? inv.find(ref.kind, namespaceOf(obj), ref.name)
      : undefined;
  if (!target) return [`spec.scaleTargetRef ${ref.kind} "${ref.name}" is not among the objects`];
  if (target.apiVersion !== ref.apiVersion)
    out.push(`spec.scaleTargetRef.apiVersion "${ref.apiVersion}" differs from the target's "${target.apiVersion}"`);
  if (target.spec?.replicas !== undefined) {
    out.push(
      `${describeObject(target)} sets spec.replicas (${target.spec.replicas}) while this HPA scales it: every apply would reset the replica count`,
    );
  }
  const min = typeof spec.minReplicas === 'number' ? spec.minReplicas : 1;
  if (typeof spec.maxReplicas === 'number' && spec.maxReplicas < min)
    out.push(`spec.maxReplicas ${spec.maxReplicas} < minReplicas ${min}`);
  // Utilization targets are relative to requests: without them the HPA cannot compute anything.
  const template = podTemplateOf(target);
  for (const metric of asArray(spec.metrics)) {
    const resource =
      metric.type === 'Resource' && metric.resource?.target?.type === 'Utilization' ? metric.resource.name : undefined;
    if (!resource || !template) continue;
    for (const c of asArray(template.spec.containers)) {
      if (asRecord(asRecord(c.resources).requests)[resource] === undefined) {
        out.push(
          `scales on ${resource} utilization but container "${c.name}" of ${describeObject(target)} has no ${resource} request`,
        );
      }
    }
  }
  return out;
}

/**
 * A KEDA ScaledObject: its target exists and leaves the replica count to it, no HPA of ours scales
 * the same target (KEDA's webhook refuses that), utilization triggers have requests to divide by,
 * and the in-cluster addresses its triggers name (`<svc>.<ns>.svc.<domain>:<port>`) are Services
 * of the manifests with that port.
 */
function checkScaledObject(obj: K8sObject, inv: Inventory): string[] {
  const spec = asRecord(obj.spec);
  const ref = asRecord(spec.scaleTargetRef);
  const namespace = namespaceOf(obj);
  const kind = typeof ref.kind === 'string' ? ref.kind : 'Deployment';
  const target = typeof ref.name === 'string' ? inv.find(kind, namespace, ref.name) : undefined;
  if (!target) return [`spec.scaleTargetRef ${kind} "${String(ref.name)}" is not among the objects`];
  const out: string[] = [];
  if ((ref.apiVersion ?? 'apps/v1') !== target.apiVersion)
    out.push(
      `spec.scaleTargetRef.apiVersion "${String(ref.apiVersion)}" differs from the target's "${target.apiVersion}"`,
    );
  if (target.spec?.replicas !== undefined)
    out.push(
      `${describeObject(target)} sets spec.replicas (${target.spec.replicas}) while this ScaledObject scales it: every apply would reset the replica count`,
    );
  for (const other of inv.objects) {
    const otherRef = asRecord(asRecord(other.spec).scaleTargetRef);
    if (other.kind === 'HorizontalPodAutoscaler' && namespaceOf(other) === namespace && otherRef.name === ref.name)
      out.push(`${describeObject(other)} scales the same ${kind}: KEDA refuses a target another HPA owns`);
  }
  const template = podTemplateOf(target);
  asArray(spec.triggers).forEach((trigger, i) => {
    const metadata = asRecord(trigger.metadata);
    if ((trigger.type === 'cpu' || trigger.type === 'memory') && template) {
      for (const c of asArray(template.spec.containers))
        if (asRecord(asRecord(c.resources).requests)[trigger.type] === undefined)
          out.push(
            `spec.triggers[${i}] scales on ${trigger.type} utilization but container "${c.name}" of ${describeObject(target)} has no ${trigger.type} request`,
          );
    }
    for (const key of ['scalerAddress', 'natsServerMonitoringEndpoint']) {
      const address = metadata[key];
      if (typeof address !== 'string') continue;
      const problem = inClusterAddressProblem(address, inv);
      if (problem) out.push(`spec.triggers[${i}].metadata.${key} ${problem}`);
    }
  });
  return out;
}

/** `<service>.<namespace>.svc.<domain>:<port>` names a Service of the manifests with that port. */
function inClusterAddressProblem(address: string, inv: Inventory): string | undefined {
  const match = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.[a-z0-9.-]+)?:(\d+)$/.exec(address);
  if (!match) return `"${address}" is not <service>.<namespace>.svc.<cluster domain>:<port>`;
  const [, name, namespace, port] = match;
  const service = inv.find('Service', namespace, name);
  if (!service) return `"${address}" names Service ${namespace}/${name}, which is not among the objects`;
  return servicePortProblem(service, Number(port));
}

/** A Service port reference (number or name) exists on the Service. */
function servicePortProblem(service: K8sObject, port: unknown): string | undefined {
  const ports = asArray(service.spec?.ports);
  const found = ports.some((p) => (typeof port === 'number' ? p.port === port : p.name === port));
  if (found) return undefined;
  const have = ports.map((p) => (p.name ? `${p.port} (${p.name})` : String(p.port))).join(', ');
  return `port ${JSON.stringify(port)} is not a port of Service "${nameOf(service)}" (it has ${have || 'none'})`;
}

function checkHttpRoute(obj: K8sObject, inv: Inventory): string[] {
  const out: string[] = [];
  asArray(obj.spec?.rules).forEach((rule, r) => {
    asArray(rule.backendRefs).forEach((backend, b) => {
      const where = `spec.rules[${r}].backendRefs[${b}]`;
      if ((backend.group ?? '') !== '' || (backend.kind ?? 'Service') !== 'Service') return;
      const ns = backend.namespace ?? namespaceOf(obj);
      const service = inv.find('Service', ns, String(backend.name));
      if (!service)
        out.push(`${where} names Service "${backend.name}" in namespace "${ns}", which is not among the objects`);
      else if (backend.port === undefined) out.push(`${where} needs a port for a Service backend`);
      else {
        const problem = servicePortProblem(service, backend.port);
        if (problem) out.push(`${where}: ${problem}`);
      }
    });
  });
  return out;
}

/** A Secret that exists: among the objects, written by a cert-manager Certificate among them, or declared external. */
function secretAvailable(inv: Inventory, ns: string | undefined, name: string, options: SemanticOptions): boolean {
  if (inv.find('Secret', ns, name) || (options.externalSecrets ?? []).includes(name)) return true;
  return inv.objects.some(
    (o) =>
      o.apiVersion === 'cert-manager.io/v1' &&
      o.kind === 'Certificate' &&
      namespaceOf(o) === ns &&
      o.spec?.secretName === name,
  );
}

/** A Gateway's TLS certificates must exist (same-namespace Secrets; cross-namespace refs need a ReferenceGrant). */
function checkGateway(obj: K8sObject, inv: Inventory, options: SemanticOptions): string[] {
  const out: string[] = [];
  asArray(obj.spec?.listeners).forEach((listener, l) => {
    if (listener.protocol === 'HTTPS' && asArray(listener.tls?.certificateRefs).length === 0)
      out.push(`spec.listeners[${l}] is HTTPS without tls.certificateRefs`);
    asArray(listener.tls?.certificateRefs).forEach((ref, r) => {
      if ((ref.kind ?? 'Secret') !== 'Secret' || (ref.group ?? '') !== '' || ref.namespace !== undefined) return;
      if (!secretAvailable(inv, namespaceOf(obj), String(ref.name), options))
        out.push(
          `spec.listeners[${l}].tls.certificateRefs[${r}] names Secret "${ref.name}", which neither exists nor is written by a Certificate`,
        );
    });
  });
  return out;
}

/** Parent refs to a Gateway among the objects must name one of its listeners. */
function checkParentRefs(obj: K8sObject, inv: Inventory): string[] {
  const out: string[] = [];
  asArray(obj.spec?.parentRefs).forEach((ref, i) => {
    if ((ref.kind ?? 'Gateway') !== 'Gateway' || ref.sectionName === undefined) return;
    const gateway = inv.find('Gateway', ref.namespace ?? namespaceOf(obj), String(ref.name));
    if (gateway && !asArray(gateway.spec?.listeners).some((l) => l.name === ref.sectionName))
      out.push(`spec.parentRefs[${i}].sectionName "${ref.sectionName}" is not a listener of Gateway "${ref.name}"`);
  });
  return out;
}

function checkIngress(obj: K8sObject, inv: Inventory, options: SemanticOptions): string[] {
  const out: string[] = [];
  asArray(obj.spec?.tls).forEach((tls, i) => {
    const secret = tls.secretName;
    if (typeof secret === 'string' && !secretAvailable(inv, namespaceOf(obj), secret, options)) {
      out.push(
        `spec.tls[${i}] names Secret "${secret}", which is not among the objects (declare it in externalSecrets if it is created outside the platform)`,
      );
    }
  });
  const checkBackend = (backend: K8sObject | undefined, where: string) => {
    const svc = backend?.service;
    if (!svc) return;
    const service = inv.find('Service', namespaceOf(obj), String(svc.name));
    if (!service) {
      out.push(`${where} names Service "${svc.name}", which is not among the objects`);
      return;
    }
    const port = svc.port?.number ?? svc.port?.name;
    const problem = servicePortProblem(service, port);
    if (problem) out.push(`${where}: ${problem}`);
  };
  checkBackend(obj.spec?.defaultBackend, 'spec.defaultBackend');
  asArray(obj.spec?.rules).forEach((rule, r) => {
    asArray(rule.http?.paths).forEach((path, p) =>
      checkBackend(path.backend, `spec.rules[${r}].http.paths[${p}].backend`),
    );
  });
  return out;
}
