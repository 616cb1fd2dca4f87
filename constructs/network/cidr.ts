/**
 * CIDR parsing for NetworkPolicy `ipBlock`s: a CIDR must be canonical (no host bits set, as the API
 * server warns about and CNIs treat differently), and an `except` must lie strictly inside its CIDR
 * (the API server rejects it otherwise).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** A parsed CIDR: address family, network address as a bigint, prefix length. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
  /** The canonical text form (what goes into the manifest). */
  readonly text: string;
}

/** Why `text` is not a canonical CIDR, or its parsed form. */
export function parseCidr(text: unknown): Cidr | string {
  if (typeof text !== 'string') return 'not a string';
  const slash = text.indexOf('/');
  if (slash < 0) return 'no prefix length ("/n")';
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (family === undefined) return `"${address}" is not an IPv4 or IPv6 address`;
  const bits = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) return `prefix length must be 0..${bits}`;
  const prefix = Number(prefixText);
  const value = family === 4 ? ipv4Value(address) : ipv6Value(address);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const network = value & ~hostMask;
  const canonical = `${family === 4 ? ipv4Text(network) : ipv6Text(network)}/${prefix}`;
  if (value !== network) return `host bits are set (the network is ${canonical})`;
  return { family, network, prefix, text: canonical };
}

/** Whether `inner` lies inside `outer` (same family, longer or equal prefix, same network bits). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  const bits = outer.family === 4 ? 32 : 128;
  const mask = ((1n << BigInt(outer.prefix)) - 1n) << BigInt(bits - outer.prefix);
  return (inner.network & mask) === outer.network;
}

/** Whether the single address `ip` lies inside `cidr` (false for another family or a non-address). */
export function cidrContainsAddress(cidr: Cidr, ip: string): boolean {
  const family = isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : undefined;
  if (family !== cidr.family) return false;
  const bits = family === 4 ? 32 : 128;
  return cidrContains(cidr, { family, network: family === 4 ? ipv4Value(ip) : ipv6Value(ip), prefix: bits, text: ip });
}

function ipv4Value(address: string): bigint {
  return address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function ipv4Text(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

function ipv6Value(address: string): bigint {
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4Value(v4[1]);
    text = `${text.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** RFC 5952 text: lower case, leading zeros dropped, the longest run (≥ 2) of zero groups as `::`. */
function ipv6Text(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
