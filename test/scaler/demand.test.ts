/** Aggregation rules of the scaler (demand.ts), its metadata reading (targets.ts) and ROUTERS parsing. */
import type { FunctionDemand } from '../../src/contract';
import { ConfigError, parseRouterSource } from '../../src/scaler/config';
import { type Counts, DemandBook, SnapshotError, parseSnapshot } from '../../src/scaler/demand';
import { TargetError, kindOfMetric, readTarget } from '../../src/scaler/targets';

function snap(router: string, at: number, functions: Record<string, Partial<FunctionDemand>>): Counts {
  const full = new Map<string, FunctionDemand>();
  for (const [fn, d] of Object.entries(functions)) {
    full.set(fn, { inFlight: 0, waiting: 0, requestsTotal: 0, readyEndpoints: 0, ...d });
  }
  return { router, at, functions: full };
}

describe('DemandBook', () => {
  let now = 0;
  const book = () => new DemandBook({ staleAfterMs: 3_000, rateWindowMs: 10_000, now: () => now });
  beforeEach(() => (now = 1_000_000));

  test('sums over routers; one router reached at two addresses counts once', () => {
    const b = book();
    const a1 = b.newRouter();
    const a2 = b.newRouter(); // same router, its IPv6 address
    const c = b.newRouter();
    a1.record(snap('a', 1, { f: { inFlight: 2, waiting: 1 } }), now);
    a2.record(snap('a', 1, { f: { inFlight: 2, waiting: 1 } }), now - 10);
    c.record(snap('c', 1, { f: { waiting: 4 } }), now);
    expect(b.live()).toHaveLength(2);
    expect(b.reading('f')).toEqual({ concurrency: 7, rps: 0, active: true });
    expect(b.reading('g')).toEqual({ concurrency: 0, rps: 0, active: false });
  });

  test('a router not read for the stale interval is left out; removed routers too', () => {
    const b = book();
    const a = b.newRouter();
    const c = b.newRouter();
    a.record(snap('a', 1, { f: { inFlight: 5 } }), now);
    c.record(snap('c', 1, { f: { inFlight: 1 } }), now);
    now += 3_000;
    expect(b.reading('f').concurrency).toBe(6);
    now += 1;
    c.record(snap('c', 2, { f: { inFlight: 1 } }), now);
    expect(b.reading('f').concurrency).toBe(1);
    b.removeRouter(c);
    expect(b.live()).toHaveLength(0);
  });

  test("rate over the window from the routers' own clocks; activity from requests in the window", () => {
    const b = book();
    const a = b.newRouter();
    for (let s = 0; s <= 20; s++) {
      a.record(snap('a', s * 1000, { f: { requestsTotal: s * 50 } }), now);
    }
    // 50 requests per second whatever the poll timing.
    expect(b.reading('f').rps).toBeCloseTo(50, 5);
    expect(b.reading('f').active).toBe(true);
    // Ten seconds without requests: no rate, not active.
    for (let s = 21; s <= 31; s++) a.record(snap('a', s * 1000, { f: { requestsTotal: 1000 } }), now);
    expect(b.reading('f')).toEqual({ concurrency: 0, rps: 0, active: false });
  });

  test('a restarted router (new id, counters from zero) starts a new history, never a negative rate', () => {
    const b = book();
    const a = b.newRouter();
    a.record(snap('a-1', 0, { f: { requestsTotal: 10_000 } }), now);
    a.record(snap('a-1', 1000, { f: { requestsTotal: 10_100 } }), now);
    expect(b.reading('f').rps).toBeCloseTo(100);
    a.record(snap('a-2', 2000, { f: { requestsTotal: 3 } }), now);
    expect(b.reading('f').rps).toBe(0);
    a.record(snap('a-2', 3000, { f: { requestsTotal: 13 } }), now);
    expect(b.reading('f').rps).toBeCloseTo(10);
    // Same id but a counter that went down (should not happen): clamped, not negative.
    a.record(snap('a-2', 4000, { f: { requestsTotal: 1 } }), now);
    expect(b.reading('f').rps).toBe(0);
  });

  test('an activate event keeps a function active for the window, then it expires', () => {
    const b = book();
    b.newRouter().record(snap('a', 1, {}), now);
    b.activate('f');
    expect(b.reading('f').active).toBe(true);
    now += 10_000;
    expect(b.reading('f').active).toBe(true);
    now += 1;
    expect(b.reading('f').active).toBe(false);
  });
});

describe('parseSnapshot', () => {
  test('keeps valid entries, drops bad ones', () => {
    const body = JSON.stringify({
      router: 'r',
      at: 5,
      functions: {
        ok: { inFlight: 1, waiting: 2, requestsTotal: 3, readyEndpoints: 0 },
        'unknown-endpoints': { inFlight: 0, waiting: 5, requestsTotal: 5, readyEndpoints: -1 },
        'no-endpoints': { inFlight: 0, waiting: 5, requestsTotal: 5, readyEndpoints: null },
        Bad: { inFlight: 1, waiting: 2, requestsTotal: 3, readyEndpoints: 0 },
        neg: { inFlight: -1, waiting: 0, requestsTotal: 0, readyEndpoints: 0 },
        missing: { inFlight: 1 },
        nul: null,
      },
    });
    expect(parseSnapshot(body)).toEqual(
      snap('r', 5, {
        ok: { inFlight: 1, waiting: 2, requestsTotal: 3 },
        'unknown-endpoints': { waiting: 5, requestsTotal: 5, readyEndpoints: -1 },
      }),
    );
  });

  test.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['no router', '{"at":1,"functions":{}}'],
    ['no timestamp', '{"router":"r","functions":{}}'],
    ['functions as array', '{"router":"r","at":1,"functions":[]}'],
  ])('rejects %s', (_, body) => {
    expect(() => parseSnapshot(body)).toThrow(SnapshotError);
  });
});

describe('readTarget', () => {
  const ref = (metadata: Record<string, string>) => ({ name: 'so', namespace: 'ns', scalerMetadata: metadata });

  test('defaults, concurrency, rps', () => {
    expect(readTarget(ref({ function: 'a' }))).toEqual({
      fn: 'a',
      kind: 'concurrency',
      target: 100,
      metricName: 'kubefaas-a-concurrency',
    });
    expect(readTarget(ref({ function: 'a', targetConcurrency: ' 2.5 ' })).target).toBe(2.5);
    expect(readTarget(ref({ function: 'a', targetRps: '.5', targetConcurrency: '3' }))).toMatchObject({
      kind: 'rps',
      target: 0.5,
    });
  });

  const bad: Array<Record<string, string>> = [
    {},
    { function: '' },
    { function: '9lives' },
    { function: 'a', targetRps: '0x10' },
    { function: 'a', targetConcurrency: 'Infinity' },
  ];
  test.each(bad)('rejects %j naming the ScaledObject', (metadata) => {
    expect(() => readTarget(ref(metadata))).toThrow(TargetError);
    expect(() => readTarget(ref(metadata))).toThrow(/ScaledObject ns\/so/);
  });

  test("kindOfMetric accepts the function's two metric names only", () => {
    const t = readTarget(ref({ function: 'a' }));
    expect(kindOfMetric(t, '')).toBe('concurrency');
    expect(kindOfMetric(t, 'kubefaas-a-rps')).toBe('rps');
    expect(kindOfMetric(t, 'kubefaas-b-rps')).toBeUndefined();
  });
});

describe('parseRouterSource', () => {
  test('dns names and static lists', () => {
    expect(parseRouterSource('dns:kubefaas-router-admin.faas.svc.cluster.local:8081')).toEqual({
      kind: 'dns',
      host: 'kubefaas-router-admin.faas.svc.cluster.local',
      port: 8081,
    });
    expect(parseRouterSource(' 127.0.0.1:1, [::1]:2 ,localhost:3')).toEqual({
      kind: 'static',
      addresses: [
        { host: '127.0.0.1', port: 1 },
        { host: '::1', port: 2 },
        { host: 'localhost', port: 3 },
      ],
    });
  });

  test.each([undefined, '', 'dns:', 'dns:host', 'host', 'host:0', 'host:65536', '::1:80', 'a:1,b'])(
    'rejects %j',
    (raw) => {
      expect(() => parseRouterSource(raw)).toThrow(ConfigError);
    },
  );
});
