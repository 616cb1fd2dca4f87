/** Network isolation: NetworkPolicies of the platform's components and the typed rules users add. */
export { Egress } from './egress';
export type { CidrEgressOptions, EgressPortOptions, EgressTargetFunction, NamespaceEgressOptions } from './egress';
export { NetworkPeer } from './peers';
export type { NamespacePeerOptions } from './peers';
export { NetworkPolicies } from './network-policies';
export type { NetworkPolicyOptions } from './network-policies';
export { NetworkPort } from './ports';
