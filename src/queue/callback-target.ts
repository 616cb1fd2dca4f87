import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { callbackUrlRefusal, type CallbackUrlPolicy } from '../contract';

/** One resolved address of a callback host. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to every address it has (the system resolver by default; tests inject one). */
export type CallbackResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export const systemResolver: CallbackResolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

/**
 * Never a callback target: the node itself, the cloud metadata services (169.254.169.254,
 * fd00:ec2::254 is in the ULA block below), unspecified, multicast and broadcast addresses.
 */
const ALWAYS_REFUSED = /* @__PURE__ */ blockList([
  ['0.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
  // IPv6 transition prefixes that embed an IPv4 address are refused whole rather than decoded.
  ['2002::', 16, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'],
]);
const LOOPBACK = /* @__PURE__ */ blockList([
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
]);
/** In-cluster and on-premises space: Pods, Services, nodes, the VPC (unless the policy allows them). */
const PRIVATE = /* @__PURE__ */ blockList([
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['fc00::', 7, 'ipv6'],
]);

function blockList(subnets: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6']>): BlockList {
  const list = new BlockList();
  for (const [net, prefix, type] of subnets) list.addSubnet(net, prefix, type);
  return list;
}

/** `::ffff:a.b.c.d` (and its hex form) is IPv4 a.b.c.d on a dual-stack socket: checked as such. */
function unmapped(address: string, family: 4 | 6): ResolvedAddress {
  if (family === 4) return { address, family };
  const lower = address.toLowerCase();
  const dotted = /^(?:0{0,4}:){5}ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower) ?? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return { address: dotted[1], family: 4 };
  const hex =
    /^(?:0{0,4}:){5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower) ??
    /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1], 16);
    const lo = parseInt(hex[2], 16);
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 4 };
  }
  return { address, family };
}

/** Why the policy does not let a callback go to `address` (undefined = it may). */
export function addressRefusal(policy: CallbackUrlPolicy, address: string, family: 4 | 6): string | undefined {
  const a = unmapped(address, family);
  const type = a.family === 4 ? 'ipv4' : 'ipv6';
  if (ALWAYS_REFUSED.check(a.address, type)) return `${address} is a link-local, unspecified or reserved address`;
  if (LOOPBACK.check(a.address, type)) return policy.allowLoopback ? undefined : `${address} is a loopback address`;
  if (PRIVATE.check(a.address, type) && !policy.allowPrivateNetworks)
    return `${address} is a private address (allowPrivateNetworks is off)`;
  return undefined;
}

/** Where to POST a callback: the URL and the one checked address to connect to. */
export interface CallbackTarget {
  readonly url: URL;
  readonly address: ResolvedAddress;
}

/**
 * Checks a callback URL against the policy and resolves its host once: every address it resolves to
 * must be allowed (a name with one private address among public ones is refused), and the POST then
 * connects to the first of them, never resolving again, so a DNS answer that changes between check
 * and connect (rebinding) cannot move the request. Returns the reason when refused.
 */
export async function resolveCallbackTarget(
  policy: CallbackUrlPolicy | undefined,
  rawUrl: string,
  resolve: CallbackResolver = systemResolver,
): Promise<CallbackTarget | { readonly refused: string }> {
  const refusal = callbackUrlRefusal(policy, rawUrl);
  if (refusal !== undefined || policy === undefined) return { refused: refusal ?? 'callbacks are not enabled' };
  const url = new URL(rawUrl);
  // URL keeps IPv6 literals in brackets.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const literal = isIP(host);
  let addresses: readonly ResolvedAddress[];
  if (literal !== 0) {
    addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await resolve(host);
    } catch (err) {
      return { refused: `cannot resolve ${host}: ${(err as Error).message}` };
    }
    if (addresses.length === 0) return { refused: `${host} has no address` };
  }
  for (const a of addresses) {
    const why = addressRefusal(policy, a.address, a.family);
    if (why !== undefined) return { refused: literal !== 0 ? why : `${host} resolves to a refused address: ${why}` };
  }
  return { url, address: addresses[0] };
}
