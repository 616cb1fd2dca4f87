/**
 * A malformed-request corpus against both router HTTP paths (the raw-socket fast path and node:http,
 * `router.fastPath: false`) and a runtime directly: the fixed cases of issue 15 and a fast-check
 * generated corpus (seeded, so pass/fail is deterministic; KUBEFAAS_ADVERSARIAL_SEED picks another).
 * Every request must get a status or a close within 3 s — never silence — no malformed request may
 * get a 5xx, both router paths must answer alike, and no process may die or restart.
 */
import fc from 'fast-check';
import {
  describeOutcome,
  exchange,
  functionPort,
  printFigures,
  SOAK,
  startAdversarialPlatform,
  type AdversarialPlatform,
  type Outcome,
} from './harness';
import { fixed, testUnlessPending, type PendingKey } from './pending';

jest.setTimeout(120_000);

type Expect = number | '4xx' | 'not5xx';

interface FixedCase {
  readonly name: string;
  readonly bytes: string;
  /** What the router answers (both paths). */
  readonly router: Expect;
  /** What a runtime answers when the request reaches it directly (no routing there). */
  readonly runtime: Expect;
  /** Issue-15 item whose fix this case waits for, per router path. */
  readonly pending?: { readonly fast?: PendingKey; readonly node?: PendingKey; readonly runtime?: PendingKey };
}

const head = (line: string, ...headers: string[]): string =>
  `${line}\r\n${['Host: adversarial', ...headers].join('\r\n')}\r\n\r\n`;

const FIXED: readonly FixedCase[] = [
  {
    name: 'bad percent-encoding, async call',
    bytes: head('POST /async-function/%ZZ HTTP/1.1', 'Content-Length: 2') + '{}',
    router: 400,
    runtime: 'not5xx',
    pending: { fast: '1', node: '1' },
  },
  {
    name: 'bad percent-encoding, async call, chunked',
    bytes: head('POST /async-function/%ZZ HTTP/1.1', 'Transfer-Encoding: chunked') + '2\r\n{}\r\n0\r\n\r\n',
    router: 400,
    runtime: 'not5xx',
    pending: { fast: '1', node: '1' },
  },
  {
    name: 'bad percent-encoding, async status',
    bytes: head('GET /async-function/tally/%ZZ HTTP/1.1'),
    router: 400,
    runtime: 'not5xx',
    pending: { fast: '1', node: '1' },
  },
  {
    name: 'bad percent-encoding, by name',
    bytes: head('GET /function/%ZZ HTTP/1.1'),
    router: '4xx',
    runtime: 'not5xx',
  },
  {
    name: 'bad percent-encoding, route',
    bytes: head('GET /echo/%ZZ%C0%AF HTTP/1.1'),
    router: '4xx',
    runtime: 'not5xx',
  },
  {
    name: 'bare-LF head',
    bytes: 'GET /echo HTTP/1.1\nHost: adversarial\n\n',
    router: 400,
    runtime: 400,
    pending: { fast: '4' },
  },
  {
    name: 'HTTP/1.1 without Host',
    bytes: 'GET /echo HTTP/1.1\r\n\r\n',
    router: 400,
    runtime: 400,
    pending: { fast: 'N1' },
  },
  {
    name: 'smuggling: Content-Length and Transfer-Encoding',
    bytes: head('POST /echo HTTP/1.1', 'Content-Length: 4', 'Transfer-Encoding: chunked') + '0\r\n\r\n',
    router: 400,
    runtime: 400,
  },
  {
    name: 'smuggling: two Content-Lengths',
    bytes: head('POST /echo HTTP/1.1', 'Content-Length: 1', 'Content-Length: 2') + 'ab',
    router: 400,
    runtime: 400,
  },
  {
    name: 'smuggling: chunked, identity',
    bytes: head('POST /echo HTTP/1.1', 'Transfer-Encoding: chunked, identity') + '0\r\n\r\n',
    router: 400,
    runtime: 400,
  },
  {
    name: 'smuggling: xchunked',
    bytes: head('POST /echo HTTP/1.1', 'Transfer-Encoding: xchunked') + '0\r\n\r\n',
    router: 400,
    runtime: 400,
  },
  { name: 'smuggling: obs-fold', bytes: head('GET /echo HTTP/1.1', 'X-A: a', ' b'), router: 400, runtime: 400 },
  {
    name: 'smuggling: space before colon',
    bytes: 'GET /echo HTTP/1.1\r\nHost : adversarial\r\n\r\n',
    router: 400,
    runtime: 400,
  },
  {
    name: 'smuggling: bad chunk size',
    bytes: head('POST /echo HTTP/1.1', 'Transfer-Encoding: chunked') + 'zz\r\n\r\n',
    router: 400,
    runtime: 400,
  },
  {
    name: 'negative Content-Length',
    bytes: head('POST /echo HTTP/1.1', 'Content-Length: -1'),
    router: 400,
    runtime: 400,
  },
  {
    name: 'huge Content-Length',
    bytes: head('POST /echo HTTP/1.1', 'Content-Length: 99999999999999999999'),
    router: 400,
    runtime: 400,
  },
  {
    name: '100 KB header',
    bytes: head('GET /echo HTTP/1.1', `X-Big: ${'a'.repeat(100 * 1024)}`),
    router: 431,
    runtime: 431,
  },
  { name: '20 KB path', bytes: head(`GET /echo/${'a'.repeat(20_000)} HTTP/1.1`), router: 431, runtime: 431 },
  { name: 'NUL in the path', bytes: head('GET /echo\0 HTTP/1.1'), router: 400, runtime: 400 },
  { name: 'dot segments', bytes: head('GET /../../etc/passwd HTTP/1.1'), router: 404, runtime: 'not5xx' },
  { name: 'empty segments', bytes: head('GET // HTTP/1.1'), router: 404, runtime: 'not5xx' },
  { name: 'asterisk form', bytes: head('OPTIONS * HTTP/1.1'), router: 400, runtime: 'not5xx' },
  {
    name: 'encoded slash after /function/',
    bytes: head('GET /function/..%2fgetonly HTTP/1.1'),
    router: 404,
    runtime: 'not5xx',
  },
  { name: 'bare /function/', bytes: head('GET /function/ HTTP/1.1'), router: 404, runtime: 'not5xx' },
  { name: 'HTTP/2 preface', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', router: 400, runtime: 400 },
  { name: 'TLS ClientHello', bytes: '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', router: 400, runtime: 400 },
  { name: 'invalid method token', bytes: head('G@T /echo HTTP/1.1'), router: 400, runtime: 400 },
  { name: 'HTTP/9.9', bytes: head('GET /echo HTTP/9.9'), router: 400, runtime: 400 },
  {
    name: 'POST to a GET-only route',
    bytes: head('POST /getonly HTTP/1.1', 'Content-Length: 0'),
    router: 405,
    runtime: 'not5xx',
  },
  {
    name: 'POST to a GET-only function by name',
    bytes: head('POST /function/getonly HTTP/1.1', 'Content-Length: 0'),
    router: 405,
    runtime: 'not5xx',
  },
  // What is callable from outside (issue 15 item 9): nothing of a function that did not opt in.
  { name: 'queue-only function by name', bytes: head('GET /function/qtally HTTP/1.1'), router: 404, runtime: 'not5xx' },
  {
    name: 'DELETE to a queue-only function by name',
    bytes: head('DELETE /function/qtally/x HTTP/1.1'),
    router: 404,
    runtime: 'not5xx',
  },
  {
    name: 'async call to a function that did not opt in',
    bytes: head('POST /async-function/getonly HTTP/1.1', 'Content-Length: 2') + '{}',
    router: 404,
    runtime: 'not5xx',
  },
  { name: "the router's /metrics", bytes: head('GET /metrics HTTP/1.1'), router: 404, runtime: 'not5xx' },
  { name: "the router's /healthz", bytes: head('GET /healthz HTTP/1.1'), router: 404, runtime: 'not5xx' },
  {
    name: "a function's /metrics through its by-name path",
    bytes: head('GET /function/echo/metrics HTTP/1.1'),
    router: 404,
    runtime: 'not5xx',
  },
  {
    name: 'Upgrade with a malformed chunked body',
    bytes:
      head('POST /echo HTTP/1.1', 'Connection: Upgrade', 'Upgrade: websocket', 'Transfer-Encoding: chunked') +
      'zz\r\n\r\n',
    router: 400,
    runtime: 400,
    pending: { fast: 'N2', node: 'N2', runtime: 'N2' },
  },
  {
    name: 'forged route parameters header',
    bytes: head('GET /echo HTTP/1.1', 'X-Kubefaas-Params: %ZZ'),
    router: 200,
    runtime: 'not5xx',
  },
];

function matches(o: Outcome, want: Expect): boolean {
  if (o.kind === 'hang') return false;
  if (want === 'not5xx') return o.kind === 'closed' || o.status < 500;
  if (o.kind !== 'status') return false;
  if (want === '4xx') return o.status >= 400 && o.status < 500;
  return o.status === want;
}

// --- the generated corpus -------------------------------------------------------------------

const token = fc.constantFrom(
  'a',
  'echo',
  'x y',
  '%41',
  '%ZZ',
  '%',
  '%C0%AF',
  '..',
  '.',
  '',
  ';',
  '\u00e9',
  '~',
  '%2F',
  '*',
);
const target = fc
  .tuple(
    fc.constantFrom(
      '/echo',
      '/echo/',
      '/function/echo',
      '/function/getonly',
      '/getonly',
      '/nosuch',
      '/async-function/tally',
      '/async-function/tally/',
      '/metrics',
      '/healthz',
      '',
    ),
    fc.array(token, { maxLength: 4 }),
    fc.option(fc.constantFrom('?a=1', '?%ZZ', '?', '?a=%', '#frag'), { nil: undefined }),
  )
  .map(([base, segments, query]) => `${base}${segments.join('/')}${query ?? ''}`);
const header = fc.constantFrom(
  'Content-Type: application/json',
  'Content-Length: abc',
  'Transfer-Encoding: gzip',
  'Connection: close',
  'Connection: keep-alive, Upgrade',
  'Upgrade: websocket',
  'Expect: 100-continue',
  'X-Request-Id: \u00ff\u00fe',
  'X-Empty:',
  'X-Call-Id: ../../etc',
  'Traceparent: 00-zzzz-zzzz-01',
  `X-Long: ${'b'.repeat(9000)}`,
);
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'get', 'G@T'),
  target,
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'HTTP/1.1 extra', ''),
  headers: fc.uniqueArray(header, { maxLength: 4 }),
  // Mostly well-formed framing, so most requests test something besides a pending fix.
  withHost: fc.oneof({ arbitrary: fc.constant(true), weight: 9 }, { arbitrary: fc.constant(false), weight: 1 }),
  eol: fc.oneof({ arbitrary: fc.constant('\r\n'), weight: 9 }, { arbitrary: fc.constant('\n'), weight: 1 }),
  // A body only with the framing that declares it: bytes after a complete request would be a
  // second, pipelined request, which node:http rejects before answering the first (the fast path
  // answers the first): a difference in when, not whether, garbage is refused.
  framed: fc.constantFrom<[string[], string]>(
    [[], ''],
    [['Content-Length: 2'], '{}'],
    [['Content-Length: 10'], '{"id":"x"}'],
    [['Transfer-Encoding: chunked'], '2\r\n{}\r\n0\r\n\r\n'],
    [['Transfer-Encoding: chunked'], 'zz\r\n\r\n'],
  ),
});
type GeneratedRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

function render(r: GeneratedRequest): string {
  const [framing, body] = r.framed;
  const headers = [...(r.withHost ? ['Host: adversarial'] : []), ...r.headers, ...framing];
  return (
    `${r.method} ${r.target} ${r.version}`.trimEnd() + r.eol + headers.map((h) => h + r.eol).join('') + r.eol + body
  );
}

function badPercentEncoding(t: string): boolean {
  try {
    decodeURIComponent(t.split('?')[0]);
    return false;
  } catch {
    return true;
  }
}

/** The pending fix a generated request waits for, if it has a shape one is about. */
function pendingItemOf(r: GeneratedRequest): PendingKey | undefined {
  if (r.target.startsWith('/async-function/') && badPercentEncoding(r.target)) return '1';
  if (r.eol === '\n') return '4';
  if (!r.withHost) return 'N1';
  if (r.headers.some((h) => h.startsWith('Upgrade:'))) return 'N2';
  return undefined;
}

const SEED = Number(process.env.KUBEFAAS_ADVERSARIAL_SEED ?? 15);
const GENERATED_RUNS = SOAK ? 3000 : 200;

// --- the runs -------------------------------------------------------------------------------

describe('malformed requests: fixed corpus and a generated one, both router paths and a runtime', () => {
  let fast: AdversarialPlatform;
  let node: AdversarialPlatform;
  const pids = new Map<string, number | undefined>();

  beforeAll(async () => {
    [fast, node] = await Promise.all([
      startAdversarialPlatform({ fastPath: true }),
      startAdversarialPlatform({ fastPath: false }),
    ]);
    for (const [label, p] of [
      ['fast', fast],
      ['node', node],
    ] as const) {
      pids.set(`${label} router`, p.platform.routerPid);
      pids.set(`${label} echo`, p.platform.functions.get('echo')?.pid);
    }
  });
  afterAll(async () => {
    await Promise.all([fast?.stop(), node?.stop()]);
  });

  const routerPorts = (): [string, number][] => [
    ['fast path', fast.platform.port],
    ['node:http', node.platform.port],
  ];

  describe('fixed cases (issue 15 and the usual smuggling shapes)', () => {
    for (const c of FIXED) {
      for (const path of ['fast', 'node'] as const) {
        testUnlessPending(
          c.pending?.[path],
          `router (${path === 'fast' ? 'fast path' : 'node:http'}): ${c.name} → ${c.router}`,
          async () => {
            const port = (path === 'fast' ? fast : node).platform.port;
            const outcome = await exchange(port, c.bytes);
            expect({ case: c.name, outcome: describeOutcome(outcome), ok: matches(outcome, c.router) }).toEqual({
              case: c.name,
              outcome: describeOutcome(outcome),
              ok: true,
            });
          },
        );
      }
      testUnlessPending(c.pending?.runtime, `runtime: ${c.name} → ${c.runtime}`, async () => {
        const outcome = await exchange(functionPort(fast.platform, 'echo'), c.bytes);
        expect({ case: c.name, outcome: describeOutcome(outcome), ok: matches(outcome, c.runtime) }).toEqual({
          case: c.name,
          outcome: describeOutcome(outcome),
          ok: true,
        });
      });
    }
  });

  test(`generated corpus (${GENERATED_RUNS} requests, seed ${SEED}): answered, no 5xx, both router paths alike`, async () => {
    const counts = { requests: 0, skippedPending: 0, answered: 0, closed: 0, hung: 0, mismatched: 0 };
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        if (!fixed(pendingItemOf(r))) {
          counts.skippedPending++;
          return;
        }
        counts.requests++;
        const bytes = render(r);
        const [a, b, runtime] = await Promise.all([
          ...routerPorts().map(([, port]) => exchange(port, bytes)),
          exchange(functionPort(fast.platform, 'echo'), bytes),
        ]);
        for (const o of [a, b, runtime]) {
          if (o.kind === 'status') counts.answered++;
          else if (o.kind === 'closed') counts.closed++;
          else counts.hung++;
        }
        if (describeOutcome(a) !== describeOutcome(b)) counts.mismatched++;
        const summary = { fast: describeOutcome(a), node: describeOutcome(b), runtime: describeOutcome(runtime) };
        expect({ request: bytes.slice(0, 300), ...summary }).toEqual({
          request: bytes.slice(0, 300),
          fast: summary.node, // both router paths behave the same
          node: matches(b, 'not5xx') ? summary.node : '(no answer or a 5xx)',
          runtime: matches(runtime, 'not5xx') ? summary.runtime : '(no answer or a 5xx)',
        });
      }),
      { numRuns: GENERATED_RUNS, seed: SEED, endOnFailure: true },
    );
    printFigures(`malformed corpus (seed ${SEED})`, counts);
  });

  test('no process died or restarted, and they all still serve', async () => {
    for (const [label, p] of [
      ['fast', fast],
      ['node', node],
    ] as const) {
      expect({ label, router: p.platform.routerPid, echo: p.platform.functions.get('echo')?.pid }).toEqual({
        label,
        router: pids.get(`${label} router`),
        echo: pids.get(`${label} echo`),
      });
      expect(p.platform.crashes('echo')).toBe(0);
      const res = await fetch(`${p.platform.url}/echo`);
      expect(res.status).toBe(200);
    }
  });

  testUnlessPending('1', 'the router logged no uncaught exception', async () => {
    for (const p of [fast, node]) expect(p.log.text()).not.toMatch(/uncaught exception/);
  });
});
