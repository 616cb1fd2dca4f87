import type { IConstruct } from 'constructs';
import { ValidationError } from '../errors';
import { isDns1123Label, validateSelectorLabels } from '../validation';
import { cidrContains, parseCidr } from './cidr';
import { LabelSelectorSpec, NAMESPACE_NAME_LABEL, PeerSpec, podsPeer } from './spec';

/** Options of a namespace peer. */
export interface NamespacePeerOptions {
  /**
   * Only the pods with these labels in the namespace.
   * @default - every pod of the namespace
   */
  readonly podLabels?: Readonly<Record<string, string>>;
}

/**
 * Who may open connections to a platform component (NetworkPolicy ingress `from`): anyone, an IP
 * range, the pods of a namespace, or pods of the platform's namespace by label.
 */
export class NetworkPeer {
  /** Every source, in and outside the cluster. */
  public static anywhere(): NetworkPeer {
    return new NetworkPeer({ kind: 'anywhere' });
  }

  /** Addresses in `cidr` (e.g. a load balancer's or an office's range), minus `except`. */
  public static cidr(cidr: string, except: readonly string[] = []): NetworkPeer {
    return new NetworkPeer({ kind: 'cidr', cidr, except });
  }

  /** Pods of another namespace (e.g. the Gateway's data plane, Grafana's), optionally by label. */
  public static namespace(name: string, options: NamespacePeerOptions = {}): NetworkPeer {
    return new NetworkPeer({ kind: 'namespace', name, podLabels: options.podLabels });
  }

  /** Pods of the platform's namespace with these labels. */
  public static pods(labels: Readonly<Record<string, string>>): NetworkPeer {
    return new NetworkPeer({ kind: 'pods', labels });
  }

  private constructor(private readonly peer: PeerDefinition) {}

  /**
   * The peer in Kubernetes form (undefined for `anywhere`: a rule without `from`), checked against `scope`.
   * @internal
   */
  public _render(scope: IConstruct, what: string, ownNamespace: string): PeerSpec | undefined {
    return renderPeer(scope, what, this.peer, ownNamespace);
  }
}

/** The peers every kind of rule (ingress sources, egress destinations) is built from. */
export type PeerDefinition =
  | { readonly kind: 'anywhere' }
  | { readonly kind: 'cidr'; readonly cidr: string; readonly except: readonly string[] }
  | { readonly kind: 'namespace'; readonly name: string; readonly podLabels?: Readonly<Record<string, string>> }
  | { readonly kind: 'pods'; readonly labels: Readonly<Record<string, string>> };

export function renderPeer(
  scope: IConstruct,
  what: string,
  peer: PeerDefinition,
  ownNamespace: string,
): PeerSpec | undefined {
  switch (peer.kind) {
    case 'anywhere':
      return undefined;
    case 'cidr':
      return { ipBlock: ipBlock(scope, what, peer.cidr, peer.except) };
    case 'namespace': {
      if (typeof peer.name !== 'string' || !isDns1123Label(peer.name))
        throw new ValidationError(
          scope,
          `${what}: namespace '${String(peer.name)}' is not a valid namespace name`,
          'Name an existing namespace (a DNS-1123 label)',
        );
      const namespaceSelector = { matchLabels: { [NAMESPACE_NAME_LABEL]: peer.name } };
      return peer.podLabels === undefined
        ? { namespaceSelector }
        : { namespaceSelector, podSelector: selector(scope, peer.podLabels) };
    }
    case 'pods':
      return podsPeer(selector(scope, peer.labels), undefined, ownNamespace);
  }
}

function selector(scope: IConstruct, labels: Readonly<Record<string, string>>): LabelSelectorSpec {
  if (labels === null || typeof labels !== 'object' || Object.keys(labels).length === 0)
    throw new ValidationError(scope, 'a pod selector needs at least one label', 'Give e.g. { app: "grafana" }');
  return { matchLabels: validateSelectorLabels(scope, labels) };
}

/** A checked `ipBlock`: canonical CIDR, every `except` strictly inside it. */
export function ipBlock(
  scope: IConstruct,
  what: string,
  cidr: string,
  except: readonly string[] = [],
): { cidr: string; except?: string[] } {
  const fix = 'Use a network address with its prefix length, e.g. 203.0.113.0/24 or 2001:db8::/32';
  const parsed = parseCidr(cidr);
  if (typeof parsed === 'string')
    throw new ValidationError(scope, `${what}: '${String(cidr)}' is not a valid CIDR (${parsed})`, fix);
  if (!Array.isArray(except)) throw new ValidationError(scope, `${what}: except must be an array of CIDRs`, fix);
  const excepts = except.map((e) => {
    const inner = parseCidr(e);
    if (typeof inner === 'string')
      throw new ValidationError(scope, `${what}: except '${String(e)}' is not a valid CIDR (${inner})`, fix);
    if (!cidrContains(parsed, inner) || inner.prefix === parsed.prefix)
      throw new ValidationError(
        scope,
        `${what}: except ${inner.text} is not strictly inside ${parsed.text}`,
        'The API server refuses an except outside its CIDR: drop it or widen the CIDR',
      );
    return inner.text;
  });
  return excepts.length > 0 ? { cidr: parsed.text, except: excepts } : { cidr: parsed.text };
}
