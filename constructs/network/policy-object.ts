import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { objectMeta } from '../metadata';
import { EgressRuleSpec, IngressRuleSpec, LabelSelectorSpec } from './spec';

export interface NetworkPolicyObjectProps {
  readonly name: string;
  readonly namespace: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly podSelector: LabelSelectorSpec;
  /** Read at synth, so rules added after construction (triggers, egress, callers) are included. */
  readonly ingress: () => readonly IngressRuleSpec[];
  readonly egress: () => readonly EgressRuleSpec[];
}

/**
 * A NetworkPolicy isolating its pods both ways: only what `ingress` and `egress` list is allowed
 * (an empty list allows nothing in that direction).
 */
export function networkPolicyObject(scope: Construct, id: string, props: NetworkPolicyObjectProps): ApiObject {
  return new ApiObject(scope, id, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: objectMeta(props.name, props.namespace, props.labels),
    spec: {
      podSelector: props.podSelector,
      policyTypes: ['Ingress', 'Egress'],
      ingress: Lazy.any({ produce: () => dedupe(props.ingress()) }),
      egress: Lazy.any({ produce: () => dedupe(props.egress()) }),
    },
  });
}

/** The same rules without repeats (two callers declaring the same target render one rule). */
function dedupe<T>(rules: readonly T[]): T[] {
  const seen = new Set<string>();
  return rules.filter((r) => {
    const key = JSON.stringify(r);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
