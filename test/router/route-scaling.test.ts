/** The route table's `scaling` field (issue 10), as the router reads it: kept when valid, a clear error otherwise. */
import { MAX_HOLD_QUEUE_LIMIT, type RouteScaling } from '../../src/contract';
import { RouteTableError, parseRouteTable } from '../../src/router/route-table';

const VALID: RouteScaling = { minReplicas: 0, activationTimeoutMs: 30_000, holdQueueLimit: 1_000 };

function tableText(scaling: unknown): string {
  return JSON.stringify({
    version: 1,
    functions: { fn: { url: 'http://fn.faas.svc.cluster.local:80', timeoutMs: 60_000, scaling } },
    routes: [],
  });
}

describe('route table: scaling', () => {
  it('keeps a valid scaling and leaves it out when absent', () => {
    expect(parseRouteTable(tableText(VALID)).functions.fn.scaling).toEqual(VALID);
    expect(parseRouteTable(tableText({ ...VALID, minReplicas: 2, extra: true })).functions.fn.scaling).toEqual({
      ...VALID,
      minReplicas: 2,
    });
    expect('scaling' in parseRouteTable(tableText(undefined)).functions.fn).toBe(false);
  });

  it.each([
    ['not an object', 'zero', /functions\.fn\.scaling: must be an object/],
    ['negative minReplicas', { ...VALID, minReplicas: -1 }, /scaling\.minReplicas: must be a non-negative integer/],
    ['fractional minReplicas', { ...VALID, minReplicas: 0.5 }, /scaling\.minReplicas/],
    [
      'zero activation timeout',
      { ...VALID, activationTimeoutMs: 0 },
      /scaling\.activationTimeoutMs: must be an integer between 1 and/,
    ],
    ['missing activation timeout', { minReplicas: 0, holdQueueLimit: 10 }, /scaling\.activationTimeoutMs/],
    ['zero hold queue', { ...VALID, holdQueueLimit: 0 }, /scaling\.holdQueueLimit: must be an integer between 1 and/],
    ['huge hold queue', { ...VALID, holdQueueLimit: MAX_HOLD_QUEUE_LIMIT + 1 }, /scaling\.holdQueueLimit/],
    ['string hold queue', { ...VALID, holdQueueLimit: '10' }, /scaling\.holdQueueLimit/],
  ])('refuses %s', (_label, scaling, message) => {
    expect(() => parseRouteTable(tableText(scaling))).toThrow(RouteTableError);
    expect(() => parseRouteTable(tableText(scaling))).toThrow(message);
  });

  it('never throws anything but a RouteTableError for random scaling values', () => {
    const values: unknown[] = [null, true, -1, 0, 1, 2.5, 1e9, Number.MAX_SAFE_INTEGER, 'x', [], {}, [1]];
    const pick = (i: number) => values[(i * 7919) % values.length];
    for (let i = 0; i < 500; i++) {
      const scaling = { minReplicas: pick(i), activationTimeoutMs: pick(i + 3), holdQueueLimit: pick(i * 5 + 1) };
      try {
        const parsed = parseRouteTable(tableText(scaling)).functions.fn.scaling!;
        expect(Number.isInteger(parsed.minReplicas) && parsed.minReplicas >= 0).toBe(true);
        expect(parsed.holdQueueLimit).toBeLessThanOrEqual(MAX_HOLD_QUEUE_LIMIT);
      } catch (err) {
        expect(err).toBeInstanceOf(RouteTableError);
      }
    }
  });
});
