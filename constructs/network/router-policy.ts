import { isIP } from 'node:net';
import type { Construct } from 'constructs';
import { CONTAINER_PORT, Labels, ROUTER_ADMIN_PORT } from '../../src/contract';
import { NatsPorts } from '../queue/names';
import { warn } from '../placement/warnings';
import { Egress } from './egress';
import { admit, ResolvedNetwork } from './network-policies';
import { networkPolicyObject } from './policy-object';
import { NetworkPort } from './ports';
import { EgressRuleSpec, IngressRuleSpec, PeerSpec } from './spec';

/** Rule name of the warning about a JWKS URL on an in-cluster host. */
export const IN_CLUSTER_JWKS_RULE = 'network/in-cluster-jwks';

/** Pods of the router (what other policies admit or reach). */
export const ROUTER_PODS: PeerSpec = { podSelector: { matchLabels: { [Labels.platformComponent]: 'router' } } };

/** Pods of the KEDA scaler (`Autoscaling.keda()`): the router admits them on its admin port, Prometheus scrapes them. */
export const SCALER_PODS: PeerSpec = { podSelector: { matchLabels: { [Labels.platformComponent]: 'scaler' } } };

/** Every function pod of the namespace (the router proxies to all of them). */
export const FUNCTION_PODS: PeerSpec = {
  podSelector: { matchExpressions: [{ key: Labels.function, operator: 'Exists' }] },
};

const tcp = (port: number) => [{ protocol: 'TCP' as const, port }];

export interface RouterPolicyProps {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly network: ResolvedNetwork;
  /** Read at synth: who scrapes the router's /metrics. */
  readonly scrapers: () => readonly PeerSpec[];
  /**
   * Read at synth: kubefaas pods that call the admin port (cron senders without a queue on the
   * internal path, the scaler on the scaling endpoints).
   */
  readonly internalClients: () => readonly PeerSpec[];
  /** Where the API server is, when the router calls it (the activator's EndpointSlice watch); empty otherwise. */
  readonly apiServer: readonly EgressRuleSpec[];
  /** Read at synth: the queue's pod labels, when the router stores async calls there. */
  readonly queuePods: () => Readonly<Record<string, string>> | undefined;
  /** Read at synth: the JWKS URLs of the platform's and the routes' JWT policies. */
  readonly jwksUris: () => readonly string[];
  /** Declared egress (`router.egress`), already rendered. */
  readonly egress: readonly EgressRuleSpec[];
}

/**
 * The router's NetworkPolicy. In: the public port from `routerClients` (anywhere by default); the
 * admin port from kubefaas' own callers and the scrapers. Out: DNS, the API server (with KEDA: the
 * EndpointSlice watch), every function pod's container port, the queue's client port, JWKS hosts,
 * and what `router.egress` declares.
 */
export function routerNetworkPolicy(scope: Construct, props: RouterPolicyProps): void {
  const ingress = (): IngressRuleSpec[] => {
    const clients = props.network.routerClients;
    const internal = props.internalClients();
    const scrapers = props.scrapers();
    return [
      ...admit(clients, tcp(CONTAINER_PORT)),
      // The admin port serves every function without policies (and health, /metrics, the scaling
      // counts): only kubefaas' own callers and the scrapers reach it, never the router's clients.
      ...(internal.length > 0 ? admit(internal, tcp(ROUTER_ADMIN_PORT)) : []),
      ...(scrapers.length > 0 ? admit(scrapers, tcp(ROUTER_ADMIN_PORT)) : []),
    ];
  };
  const egress = (): EgressRuleSpec[] => {
    const queue = props.queuePods();
    return [
      ...props.network.dns,
      ...props.apiServer,
      { to: [FUNCTION_PODS], ports: tcp(CONTAINER_PORT) },
      ...(queue ? [{ to: [{ podSelector: { matchLabels: { ...queue } } }], ports: tcp(NatsPorts.client) }] : []),
      ...jwksEgress(scope, props.jwksUris(), props.egress.length > 0),
      ...props.egress,
    ];
  };
  networkPolicyObject(scope, 'NetworkPolicy', {
    name: props.name,
    namespace: props.namespace,
    labels: props.labels,
    podSelector: { matchLabels: { [Labels.platformComponent]: 'router' } },
    ingress,
    egress,
  });
}

/**
 * Egress to the JWKS hosts: an address literal as itself, a public name as the internet on the
 * URL's port. A cluster-internal name (`*.svc`, `*.cluster.local`, no dot) resolves to a Service
 * whose pods' port is unknown here: the user declares it in `router.egress` (warned otherwise).
 */
function jwksEgress(scope: Construct, uris: readonly string[], hasDeclared: boolean): EgressRuleSpec[] {
  const rules: EgressRuleSpec[] = [];
  for (const uri of [...new Set(uris)].sort()) {
    const url = new URL(uri);
    const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const ports = [NetworkPort.tcp(port)];
    if (isIP(host) !== 0) {
      rules.push(Egress.cidr(`${host}/${isIP(host) === 4 ? 32 : 128}`, { ports })._render(scope, ''));
    } else if (!host.includes('.') || /\.(svc|cluster\.local|local)$/.test(host)) {
      if (!hasDeclared)
        warn(
          scope,
          IN_CLUSTER_JWKS_RULE,
          `the JWKS URL ${uri} names an in-cluster host: declare the router's egress to its pods with router.egress (e.g. Egress.namespace("auth", { ports: [NetworkPort.tcp(8080)] })), or the router cannot fetch the keys`,
        );
    } else {
      rules.push(Egress.internet({ ports })._render(scope, ''));
    }
  }
  return rules;
}
