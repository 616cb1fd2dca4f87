/**
 * Kubernetes resource quantities (`250m`, `0.5`, `128Mi`, `1G`, `1e9`) turned into numbers we can
 * compare and add. Placement rules need exact arithmetic on requests and limits, so this parser
 * follows the quantity grammar of the Kubernetes API (decimal and binary suffixes, exponents).
 */

const BINARY_SUFFIXES: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

/** Bytes in one mebibyte: Fargate sizes and our memory reports are in MiB. */
export const MIB = 2 ** 20;

/**
 * The value of a quantity in base units (cores for CPU, bytes for memory).
 * Throws on anything the Kubernetes API would reject, naming the offending text.
 */
export function parseQuantity(quantity: string | number): number {
  if (typeof quantity === 'number') {
    if (!Number.isFinite(quantity) || quantity < 0) throw new Error(`invalid resource quantity ${quantity}`);
    return quantity;
  }
  const match = QUANTITY.exec(quantity.trim());
  if (!match) throw new Error(`invalid resource quantity "${quantity}" (expected e.g. 250m, 0.5, 128Mi, 1Gi)`);
  const [, number, exponent, suffix] = match;
  const base = Number(number);
  const value = exponent
    ? base * 10 ** Number(exponent.slice(1))
    : base * (BINARY_SUFFIXES[suffix ?? ''] ?? DECIMAL_SUFFIXES[suffix ?? '']);
  if (!Number.isFinite(value) || value < 0) throw new Error(`invalid resource quantity "${quantity}"`);
  return value;
}

/** CPU quantity in whole millicores, rounded up (the API rounds sub-millicore requests up too). */
export function cpuMillis(quantity: string | number): number {
  return Math.ceil(roundAway(parseQuantity(quantity) * 1000));
}

/** Memory quantity in whole MiB, rounded up so the result never undercounts a request. */
export function memoryMiB(quantity: string | number): number {
  return Math.ceil(roundAway(parseQuantity(quantity) / MIB));
}

/** `250m`, `1`, `2500m`: the shortest exact CPU quantity for a millicore count. */
export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/** `512Mi`, `2Gi`: the shortest exact memory quantity for a MiB count. */
export function formatMemory(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024}Gi` : `${mib}Mi`;
}

/** Drops floating-point noise (0.1 * 1000 = 100.00000000000001) before rounding up. */
function roundAway(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
