/**
 * A NetworkPolicy evaluator (networking.k8s.io/v1 semantics) for synthesized manifests: may a
 * connection from one endpoint to another, on a port, happen? Both sides must allow it: the egress
 * policies selecting the source (if any isolate it for egress) and the ingress policies selecting
 * the destination (if any isolate it for ingress). Endpoints are the pod templates of the manifests
 * plus whatever a test adds (pods of other namespaces, external addresses).
 *
 * What it models: policyTypes (and their default), podSelector / namespaceSelector (matchLabels and
 * matchExpressions) / ipBlock with except, numeric and named ports, endPort ranges, protocols.
 * What it does not: traffic from the node (kubelet probes; CNIs admit it), Service IPs (policies see
 * the pod after DNAT, so a test names the pod behind a Service).
 */
import { parseCidr, cidrContainsAddress } from '../../constructs/network/cidr';
import { K8sObject, asArray, asRecord, containersOf, namespaceOf, podTemplateOf, selectorMatches } from './manifest';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ListeningPort {
  readonly port: number;
  readonly protocol: Protocol;
  readonly name?: string;
}

/** A pod (namespace + labels) or an address outside the pod network (no namespace). */
export interface Endpoint {
  readonly id: string;
  readonly ip: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ports: readonly ListeningPort[];
}

/** One pod per workload pod template, id `<Kind>/<name>`, with its container ports and an IP in 10.244/16. */
export function podEndpoints(objects: readonly K8sObject[]): Endpoint[] {
  const out: Endpoint[] = [];
  for (const obj of objects) {
    const template = podTemplateOf(obj);
    if (!template) continue;
    const ports: ListeningPort[] = [];
    for (const { container } of containersOf(template.spec))
      for (const p of asArray(container.ports))
        ports.push({ port: Number(p.containerPort), protocol: (p.protocol ?? 'TCP') as Protocol, name: p.name });
    const n = out.length + 1;
    out.push({
      id: `${obj.kind}/${obj.metadata?.name}`,
      ip: `10.244.${Math.floor(n / 250)}.${(n % 250) + 1}`,
      namespace: namespaceOf(obj),
      labels: template.labels as Record<string, string>,
      ports,
    });
  }
  return out;
}

export class NetworkPolicyEvaluator {
  private readonly policies: K8sObject[];

  /** `namespaceLabels`: labels of each namespace (`kubernetes.io/metadata.name` is added). */
  constructor(
    objects: readonly K8sObject[],
    private readonly namespaceLabels: Readonly<Record<string, Readonly<Record<string, string>>>> = {},
  ) {
    this.policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  }

  /** Whether `from` may open a connection to `to` on `port`/`protocol`. */
  allows(from: Endpoint, to: Endpoint, port: number, protocol: Protocol = 'TCP'): boolean {
    return this.side(from, 'Egress', to, port, protocol) && this.side(to, 'Ingress', from, port, protocol);
  }

  /** The direction's verdict at `self`: not isolated, or some rule of a selecting policy admits `peer`. */
  private side(
    self: Endpoint,
    direction: 'Ingress' | 'Egress',
    peer: Endpoint,
    port: number,
    protocol: Protocol,
  ): boolean {
    if (self.namespace === undefined) return true; // outside the cluster: no policy applies
    const selecting = this.policies.filter(
      (p) => namespaceOf(p) === self.namespace && selectorMatches(asRecord(p.spec).podSelector, self.labels ?? {}),
    );
    const isolating = selecting.filter((p) => policyTypes(p).includes(direction));
    if (isolating.length === 0) return true;
    // Named ports refer to the destination's container ports.
    const destination = direction === 'Ingress' ? self : peer;
    return isolating.some((policy) =>
      asArray(asRecord(policy.spec)[direction === 'Ingress' ? 'ingress' : 'egress']).some((rule) => {
        const peers = rule[direction === 'Ingress' ? 'from' : 'to'];
        const peerOk =
          peers === undefined || asArray(peers).length === 0
            ? true
            : asArray(peers).some((spec) => this.peerMatches(spec, peer, namespaceOf(policy) as string));
        return peerOk && portMatches(rule.ports, destination, port, protocol);
      }),
    );
  }

  private peerMatches(spec: K8sObject, endpoint: Endpoint, policyNamespace: string): boolean {
    if (spec.ipBlock) {
      const cidr = parseCidr(spec.ipBlock.cidr);
      if (typeof cidr === 'string') throw new Error(`bad ipBlock ${spec.ipBlock.cidr}`);
      if (!cidrContainsAddress(cidr, endpoint.ip)) return false;
      return !asArray<string>(spec.ipBlock.except).some((e) => {
        const ex = parseCidr(e);
        if (typeof ex === 'string') throw new Error(`bad except ${e}`);
        return cidrContainsAddress(ex, endpoint.ip);
      });
    }
    if (endpoint.namespace === undefined) return false; // selectors select pods only
    if (spec.namespaceSelector !== undefined) {
      const nsLabels = {
        ...this.namespaceLabels[endpoint.namespace],
        'kubernetes.io/metadata.name': endpoint.namespace,
      };
      if (!selectorMatches(spec.namespaceSelector, nsLabels)) return false;
    } else if (endpoint.namespace !== policyNamespace) return false;
    return spec.podSelector === undefined || selectorMatches(spec.podSelector, endpoint.labels ?? {});
  }
}

function policyTypes(policy: K8sObject): string[] {
  const spec = asRecord(policy.spec);
  if (Array.isArray(spec.policyTypes)) return spec.policyTypes as string[];
  return ['Ingress', ...(spec.egress !== undefined ? ['Egress'] : [])];
}

function portMatches(ports: unknown, destination: Endpoint, port: number, protocol: Protocol): boolean {
  const list = asArray(ports);
  if (list.length === 0) return true;
  return list.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'string')
      return destination.ports.some((l) => l.name === p.port && l.port === port && l.protocol === protocol);
    return p.endPort === undefined ? p.port === port : port >= p.port && port <= p.endPort;
  });
}

/** Every (from, to, port) the policies allow among `endpoints`, as `from -> to:port/PROTO` strings, sorted. */
export function allowedConnections(evaluator: NetworkPolicyEvaluator, endpoints: readonly Endpoint[]): string[] {
  const out: string[] = [];
  for (const from of endpoints)
    for (const to of endpoints)
      for (const { port, protocol } of to.ports)
        if (from.namespace !== undefined || to.namespace !== undefined)
          if (evaluator.allows(from, to, port, protocol)) out.push(`${from.id} -> ${to.id}:${port}/${protocol}`);
  return [...new Set(out)].sort();
}
