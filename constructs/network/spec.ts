/** NetworkPolicy pieces in the shape of the Kubernetes API (networking.k8s.io/v1), as kubefaas renders them. */
import type { NetworkPolicyPortSpec } from './ports';

export interface LabelSelectorSpec {
  readonly matchLabels?: { readonly [name: string]: string };
  readonly matchExpressions?: ReadonlyArray<{
    readonly key: string;
    readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    readonly values?: readonly string[];
  }>;
}

export interface PeerSpec {
  readonly podSelector?: LabelSelectorSpec;
  readonly namespaceSelector?: LabelSelectorSpec;
  readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] };
}

/** An ingress rule; no `from` = every source. */
export interface IngressRuleSpec {
  readonly from?: readonly PeerSpec[];
  readonly ports?: readonly NetworkPolicyPortSpec[];
}

/** An egress rule; no `to` = every destination. */
export interface EgressRuleSpec {
  readonly to?: readonly PeerSpec[];
  readonly ports?: readonly NetworkPolicyPortSpec[];
}

/** The label Kubernetes puts on every Namespace (1.21+), naming it: how a policy selects one namespace. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** Pods of `labels` in `namespace`, as seen from a policy in `from` (no namespace selector for the same namespace). */
export function podsPeer(labels: LabelSelectorSpec, namespace: string | undefined, from: string): PeerSpec {
  return namespace === undefined || namespace === from
    ? { podSelector: labels }
    : { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: namespace } }, podSelector: labels };
}

/** Copies of rules with empty `ports` dropped (an empty list would mean "every port" anyway, but reads as "none"). */
export function tidyRule<T extends IngressRuleSpec | EgressRuleSpec>(rule: T): T {
  const ports = rule.ports;
  if (ports === undefined || ports.length > 0) return rule;
  const { ports: _ports, ...rest } = rule;
  return rest as T;
}
