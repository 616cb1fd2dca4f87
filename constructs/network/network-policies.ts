import type { IConstruct } from 'constructs';
import { ValidationError } from '../errors';
import { Egress, egressList } from './egress';
import { NetworkPeer } from './peers';
import { NetworkPort } from './ports';
import { EgressRuleSpec, IngressRuleSpec, NAMESPACE_NAME_LABEL, PeerSpec } from './spec';

/** What the platform's NetworkPolicies assume about the cluster, and who may reach its components. */
export interface NetworkPolicyOptions {
  /**
   * Where pods resolve names.
   * @default - the cluster DNS pods (`k8s-app: kube-dns`, CoreDNS or kube-dns) in `kube-system`, UDP and TCP 53
   */
  readonly dns?: Egress | readonly Egress[];
  /**
   * The Kubernetes API server, for the components that call it (the bundled Prometheus discovers
   * pods through it). Its address is the cluster's (`kubectl get endpoints kubernetes`), unknown at synth.
   * @default - any address on TCP 443 and 6443
   */
  readonly apiServer?: Egress | readonly Egress[];
  /**
   * Who may call the router's public port: e.g. the Gateway's or Ingress controller's pods
   * (`NetworkPeer.namespace('envoy-gateway-system')`) or a load balancer's range. kubefaas' own
   * callers (cron senders without a queue) are always admitted.
   * @default [NetworkPeer.anywhere()]
   */
  readonly routerClients?: readonly NetworkPeer[];
  /**
   * Who may query the bundled Prometheus' HTTP API (port 9090), e.g. Grafana. `kubectl port-forward`
   * does not go through NetworkPolicies.
   * @default - nobody
   */
  readonly prometheusClients?: readonly NetworkPeer[];
  /**
   * Where the bundled Alertmanager sends notifications (its receiver URL is in a Secret, unknown at synth).
   * @default Egress.internet({ ports: [NetworkPort.tcp(443)] })
   */
  readonly alertmanagerReceivers?: Egress | readonly Egress[];
}

/**
 * How a platform isolates its pods. Every component (router, functions, queue, cron senders,
 * Prometheus, Alertmanager) always gets its own NetworkPolicy for ingress and egress, allowing the
 * data paths of docs/architecture.md and nothing else; `defaultDeny()` also denies everything to
 * every other pod of the namespace.
 */
export class NetworkPolicies {
  /** One NetworkPolicy per component (the default). */
  public static perComponent(options: NetworkPolicyOptions = {}): NetworkPolicies {
    return new NetworkPolicies(false, options);
  }

  /**
   * One NetworkPolicy per component, plus `kubefaas-default-deny`: every pod of the namespace is
   * isolated for ingress and egress, so pods kubefaas does not know (added by hand) get nothing.
   */
  public static defaultDeny(options: NetworkPolicyOptions = {}): NetworkPolicies {
    return new NetworkPolicies(true, options);
  }

  private constructor(
    /** Whether a namespace-wide deny-all policy is synthesized. */
    public readonly defaultDeny: boolean,
    private readonly options: NetworkPolicyOptions,
  ) {}

  /**
   * The options in rendered form, checked against `scope` (the platform).
   * @internal
   */
  public _resolve(scope: IConstruct, namespace: string): ResolvedNetwork {
    const o = this.options ?? {};
    const rules = (what: string, value: Egress | readonly Egress[] | undefined, fallback: Egress[]) =>
      (value === undefined ? fallback : egressList(scope, `networkPolicies.${what}`, value)).map((e) =>
        e._render(scope, namespace),
      );
    const peers = (what: string, value: readonly NetworkPeer[] | undefined): (PeerSpec | undefined)[] | undefined => {
      if (value === undefined) return undefined;
      if (!Array.isArray(value))
        throw new ValidationError(
          scope,
          `networkPolicies.${what} must be an array of NetworkPeer`,
          'Use e.g. [NetworkPeer.namespace("gateway")]',
        );
      return value.map((p) => {
        if (!(p instanceof NetworkPeer))
          throw new ValidationError(
            scope,
            `networkPolicies.${what} must be NetworkPeers`,
            'Use NetworkPeer.anywhere(), .cidr(), .namespace() or .pods()',
          );
        return p._render(scope, `networkPolicies.${what}`, namespace);
      });
    };
    const routerClients = peers('routerClients', o.routerClients);
    const prometheusClients = peers('prometheusClients', o.prometheusClients) ?? [];
    return {
      defaultDeny: this.defaultDeny,
      dns: rules('dns', o.dns, [KUBE_DNS]),
      apiServer: rules('apiServer', o.apiServer, [
        Egress.cidr('0.0.0.0/0', { ports: API_SERVER_PORTS }),
        Egress.cidr('::/0', { ports: API_SERVER_PORTS }),
      ]),
      // Undefined: anywhere. A list holding `anywhere` is anywhere too.
      routerClients:
        routerClients === undefined || routerClients.some((p) => p === undefined)
          ? undefined
          : (routerClients as PeerSpec[]),
      prometheusClients: prometheusClients.some((p) => p === undefined) ? undefined : (prometheusClients as PeerSpec[]),
      alertmanagerReceivers: rules('alertmanagerReceivers', o.alertmanagerReceivers, [
        Egress.internet({ ports: [NetworkPort.tcp(443)] }),
      ]),
    };
  }
}

const API_SERVER_PORTS = [NetworkPort.tcp(443), NetworkPort.tcp(6443)];

const KUBE_DNS = Egress.namespace('kube-system', {
  podLabels: { 'k8s-app': 'kube-dns' },
  ports: [NetworkPort.udp(53), NetworkPort.tcp(53)],
});

/** NetworkPolicies options in rendered form (what the components' policies are built from). */
export interface ResolvedNetwork {
  readonly defaultDeny: boolean;
  readonly dns: readonly EgressRuleSpec[];
  readonly apiServer: readonly EgressRuleSpec[];
  /** Sources of the router's public port; undefined = anywhere. */
  readonly routerClients: readonly PeerSpec[] | undefined;
  /** Sources of Prometheus' port; empty = nobody, undefined = anywhere. */
  readonly prometheusClients: readonly PeerSpec[] | undefined;
  readonly alertmanagerReceivers: readonly EgressRuleSpec[];
}

/** An ingress rule admitting `sources` (undefined = every source; empty = none, so no rule) on `ports`. */
export function admit(sources: readonly PeerSpec[] | undefined, ports: IngressRuleSpec['ports']): IngressRuleSpec[] {
  if (sources === undefined) return [{ ports }];
  return sources.length === 0 ? [] : [{ from: [...sources], ports }];
}

export { NAMESPACE_NAME_LABEL };
