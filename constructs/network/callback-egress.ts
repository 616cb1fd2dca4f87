import type { IConstruct } from 'constructs';
import type { CallbackUrlPolicy } from '../../src/contract';
import { warn } from '../placement/warnings';
import { Egress } from './egress';
import { NetworkPort } from './ports';
import type { EgressRuleSpec } from './spec';

/** Rule name of the warning about callbacks to private networks. */
export const PRIVATE_CALLBACKS_RULE = 'network/private-callbacks';

/**
 * Egress for delivering callbacks: the public internet on the ports the allowed prefixes name
 * (443 for https, 80 for http, or the explicit port). Callbacks to private addresses
 * (`allowPrivateNetworks`) cannot be derived from URL prefixes (a host name says nothing about its
 * address), so the user declares those receivers; without any declared egress that is warned about.
 */
export function callbackEgress(
  scope: IConstruct,
  policy: CallbackUrlPolicy,
  hasDeclaredEgress: boolean,
): EgressRuleSpec[] {
  const ports = [...new Set(policy.allow.map(prefixPort))].sort((a, b) => a - b);
  if (policy.allowPrivateNetworks && !hasDeclaredEgress)
    warn(
      scope,
      PRIVATE_CALLBACKS_RULE,
      'router.callbacks allows private networks, but this function declares no egress to them: its NetworkPolicy lets callbacks reach public addresses only. Declare the receivers with `egress` / allowEgressTo (e.g. Egress.cidr("10.20.0.0/16", { ports: [NetworkPort.tcp(443)] }))',
    );
  return ports.length === 0
    ? []
    : [Egress.internet({ ports: ports.map((p) => NetworkPort.tcp(p)) })._render(scope, '')];
}

function prefixPort(prefix: string): number {
  const url = new URL(prefix);
  return url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}
