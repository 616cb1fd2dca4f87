/**
 * Spreading a platform component's replicas over nodes and zones, so one node or zone going down
 * does not take all of them (the router's, the queue's servers). Soft (`ScheduleAnyway`): a
 * one-node cluster still runs every replica. Not on Fargate, which refuses the field
 * (rule fargate/topology-spread) and gives every pod its own micro-VM anyway.
 */
import { Placement } from './placement';

export const TOPOLOGY_KEYS = ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'] as const;

export interface TopologySpreadConstraintLike {
  readonly maxSkew: number;
  readonly topologyKey: string;
  readonly whenUnsatisfiable: 'ScheduleAnyway';
  readonly labelSelector: { readonly matchLabels: Readonly<Record<string, string>> };
  readonly matchLabelKeys?: readonly string[];
}

/**
 * The constraints for pods matching `selector` on `placement`, or undefined where they do not apply.
 * `revisionLabel` (Deployments: `pod-template-hash`) spreads each rollout's new pods on their own,
 * instead of counting the old ones that are about to go.
 */
export function topologySpread(
  placement: Placement,
  selector: Readonly<Record<string, string>>,
  revisionLabel?: string,
): TopologySpreadConstraintLike[] | undefined {
  return placement.provider === 'aws-fargate' ? undefined : spreadOverNodesAndZones(selector, revisionLabel);
}

/** One soft constraint per topology key (node, zone) for pods matching `selector`. */
export function spreadOverNodesAndZones(
  selector: Readonly<Record<string, string>>,
  revisionLabel?: string,
): TopologySpreadConstraintLike[] {
  return TOPOLOGY_KEYS.map((topologyKey) => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: 'ScheduleAnyway' as const,
    labelSelector: { matchLabels: { ...selector } },
    ...(revisionLabel ? { matchLabelKeys: [revisionLabel] } : {}),
  }));
}
