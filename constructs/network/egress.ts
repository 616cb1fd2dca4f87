import type { IConstruct } from 'constructs';
import { CONTAINER_PORT, Labels } from '../../src/contract';
import { ValidationError } from '../errors';
import { NamespacePeerOptions, PeerDefinition, renderPeer } from './peers';
import { NetworkPort, renderPorts } from './ports';
import { EgressRuleSpec, PeerSpec, podsPeer, tidyRule } from './spec';

/** Ports of an egress rule. */
export interface EgressPortOptions {
  /**
   * Destination ports.
   * @default - every port
   */
  readonly ports?: readonly NetworkPort[];
}

/** Options of `Egress.cidr`. */
export interface CidrEgressOptions extends EgressPortOptions {
  /**
   * Ranges inside the CIDR that stay unreachable.
   * @default - none
   */
  readonly except?: readonly string[];
}

/** Options of `Egress.namespace`. */
export interface NamespaceEgressOptions extends NamespacePeerOptions, EgressPortOptions {}

/**
 * A kubefaas function as an egress target: what `Egress.toFunction` needs (every function is one).
 * An interface so this module does not import the function classes (which import it).
 */
export interface EgressTargetFunction extends IConstruct {
  readonly functionName: string;
  readonly platform: { readonly namespace: string };
}

/**
 * Private, shared, loopback and link-local ranges, which `Egress.internet()` leaves out: the pod and
 * service networks (they live in these ranges), the VPC, the node, and the cloud metadata services
 * (169.254.169.254, fd00:ec2::254), which hand out the node's credentials.
 */
export const NON_PUBLIC_RANGES = {
  ipv4: [
    '0.0.0.0/8',
    '10.0.0.0/8',
    '100.64.0.0/10',
    '127.0.0.0/8',
    '169.254.0.0/16',
    '172.16.0.0/12',
    '192.168.0.0/16',
  ],
  ipv6: ['::1/128', '::ffff:0:0/96', 'fc00::/7', 'fe80::/10'],
} as const;

/**
 * Where a pod may open connections (a NetworkPolicy egress rule): a CIDR, the public internet, another
 * kubefaas function, or the pods of a namespace. Function pods may reach DNS and, when they use it,
 * the queue by default, and nothing else: give them more with `egress` or `fn.allowEgressTo(...)`.
 */
export class Egress {
  /**
   * The public internet on the given ports: `0.0.0.0/0` and `::/0` except private, shared (100.64/10),
   * loopback and link-local ranges (NON_PUBLIC_RANGES), so neither the cluster's own pods nor the
   * cloud metadata endpoint (169.254.169.254) are reachable through it.
   */
  public static internet(options: EgressPortOptions = {}): Egress {
    return new Egress(
      [
        { kind: 'cidr', cidr: '0.0.0.0/0', except: NON_PUBLIC_RANGES.ipv4 },
        { kind: 'cidr', cidr: '::/0', except: NON_PUBLIC_RANGES.ipv6 },
      ],
      options.ports,
      'Egress.internet',
    );
  }

  /** Addresses in `cidr` (IPv4 or IPv6, a network address: `203.0.113.0/24`), minus `except`. */
  public static cidr(cidr: string, options: CidrEgressOptions = {}): Egress {
    return new Egress([{ kind: 'cidr', cidr, except: options.except ?? [] }], options.ports, `Egress.cidr(${cidr})`);
  }

  /** Pods of a namespace (all, or those with `podLabels`), e.g. a database or an auth server. */
  public static namespace(name: string, options: NamespaceEgressOptions = {}): Egress {
    return new Egress(
      [{ kind: 'namespace', name, podLabels: options.podLabels }],
      options.ports,
      `Egress.namespace(${name})`,
    );
  }

  /** Pods of the same namespace with these labels. */
  public static pods(labels: Readonly<Record<string, string>>, options: EgressPortOptions = {}): Egress {
    return new Egress([{ kind: 'pods', labels }], options.ports, 'Egress.pods');
  }

  /**
   * Another kubefaas function, called directly at its Service (`fn.url`), which bypasses the router
   * and so its auth and rate limits. The target's NetworkPolicy admits the caller in turn.
   */
  public static toFunction(target: EgressTargetFunction): Egress {
    return new Egress([], [NetworkPort.tcp(CONTAINER_PORT)], 'Egress.toFunction', target);
  }

  private constructor(
    private readonly peers: readonly PeerDefinition[],
    private readonly ports: readonly NetworkPort[] | undefined,
    private readonly description: string,
    /** @internal */
    public readonly _targetFunction?: EgressTargetFunction,
  ) {}

  /**
   * The egress rule, checked against `scope` (the construct it is attached to).
   * @internal
   */
  public _render(scope: IConstruct, ownNamespace: string): EgressRuleSpec {
    const what = this.description;
    const ports = renderPorts(scope, what, this.ports);
    const target = this._targetFunction;
    if (target !== undefined) {
      if (typeof target.functionName !== 'string' || typeof target.platform?.namespace !== 'string')
        throw new ValidationError(
          scope,
          `${what}: the target is not a kubefaas function`,
          'Pass a NodeFunction, PythonFunction or ContainerFunction',
        );
      const to: PeerSpec[] = [
        podsPeer({ matchLabels: { [Labels.function]: target.functionName } }, target.platform.namespace, ownNamespace),
      ];
      return tidyRule({ to, ports });
    }
    const to = this.peers.map((p) => renderPeer(scope, what, p, ownNamespace));
    // A peer that is "anywhere" makes the whole rule destination-free.
    if (to.some((p) => p === undefined)) return tidyRule({ ports });
    return tidyRule({ to: to as PeerSpec[], ports });
  }
}

/** `Egress | Egress[]` props as a list, each checked to be an Egress. */
export function egressList(scope: IConstruct, what: string, value: Egress | readonly Egress[] | undefined): Egress[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? [...value] : [value as Egress];
  for (const e of list)
    if (!(e instanceof Egress))
      throw new ValidationError(
        scope,
        `${what} must be Egress rules`,
        'Use Egress.internet(), Egress.cidr(...), Egress.namespace(...), Egress.pods(...) or Egress.toFunction(fn)',
      );
  return list;
}
