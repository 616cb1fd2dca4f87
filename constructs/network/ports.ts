import type { IConstruct } from 'constructs';
import { ValidationError } from '../errors';

/** A port or port range of a NetworkPolicy rule, in the shape of the Kubernetes API. */
export interface NetworkPolicyPortSpec {
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly port: number;
  readonly endPort?: number;
}

/**
 * A destination port (or range) of a network rule: `NetworkPort.tcp(443)`, `NetworkPort.udp(53)`,
 * `NetworkPort.tcpRange(30000, 32767)`. Checked (1..65535, first ≤ last) when the rule is attached,
 * so the error names the construct it belongs to.
 */
export class NetworkPort {
  public static tcp(port: number): NetworkPort {
    return new NetworkPort('TCP', port, undefined);
  }

  public static udp(port: number): NetworkPort {
    return new NetworkPort('UDP', port, undefined);
  }

  /** TCP ports `from`..`to` (NetworkPolicy `endPort`, Kubernetes ≥ 1.25). */
  public static tcpRange(from: number, to: number): NetworkPort {
    return new NetworkPort('TCP', from, to);
  }

  /** UDP ports `from`..`to`. */
  public static udpRange(from: number, to: number): NetworkPort {
    return new NetworkPort('UDP', from, to);
  }

  private constructor(
    private readonly protocol: 'TCP' | 'UDP',
    private readonly port: number,
    private readonly endPort: number | undefined,
  ) {}

  /**
   * The rule's port, checked against `scope`.
   * @internal
   */
  public _render(scope: IConstruct, what: string): NetworkPolicyPortSpec {
    const check = (n: number, name: string) => {
      if (!Number.isInteger(n) || n < 1 || n > 65535)
        throw new ValidationError(
          scope,
          `${what}: ${name} ${String(n)} is not a port number (1..65535)`,
          'Use e.g. NetworkPort.tcp(443)',
        );
    };
    check(this.port, 'port');
    if (this.endPort === undefined) return { protocol: this.protocol, port: this.port };
    check(this.endPort, 'last port');
    if (this.endPort < this.port)
      throw new ValidationError(
        scope,
        `${what}: port range ${this.port}..${this.endPort} ends before it starts`,
        'Give the lower port first',
      );
    return this.endPort === this.port
      ? { protocol: this.protocol, port: this.port }
      : { protocol: this.protocol, port: this.port, endPort: this.endPort };
  }
}

/** Renders `ports` against `scope`; an absent or empty list means every port (NetworkPolicy semantics). */
export function renderPorts(
  scope: IConstruct,
  what: string,
  ports: readonly NetworkPort[] | undefined,
): NetworkPolicyPortSpec[] | undefined {
  if (ports === undefined) return undefined;
  if (!Array.isArray(ports))
    throw new ValidationError(scope, `${what}: ports must be an array`, 'Use e.g. [NetworkPort.tcp(443)]');
  return ports.map((p) => {
    if (!(p instanceof NetworkPort))
      throw new ValidationError(scope, `${what}: ${String(p)} is not a NetworkPort`, 'Use NetworkPort.tcp(443)');
    return p._render(scope, what);
  });
}
