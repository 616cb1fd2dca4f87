/**
 * Limits and misbehaviour, against the platform `kubefaas dev` runs: oversized bodies on every path
 * into a function (route, by name, async; the runtime directly), slowloris and slow bodies on both
 * router paths, and handlers that throw, hang, busy-loop, exit or run out of memory. The platform
 * must answer each with the right status, keep serving everything else, and restart only the
 * process the handler killed itself.
 */
import * as net from 'node:net';
import {
  functionPort,
  printFigures,
  SOAK,
  startAdversarialPlatform,
  within,
  type AdversarialPlatform,
} from './harness';
import { testUnlessPending } from './pending';

jest.setTimeout(120_000);

/** Function body limit of `echo` in fixtures/app.ts. */
const ECHO_LIMIT = 64 * 1024;
/** `router.headersTimeout` and `router.bodyTimeout` in fixtures/app.ts (item 4). */
const HEADERS_TIMEOUT_MS = 4000;
const BODY_TIMEOUT_MS = 6000;
/** How much later than its timeout a slow client may be closed (deadlines are checked every 400 ms). */
const SLOW_CLIENT_MARGIN_MS = 3000;

interface Answer {
  readonly status: number | 'reset' | 'timeout';
  readonly body: string;
}

/** POSTs `size` bytes (streamed in 64 KiB writes, ignoring write errors after an early answer). */
function postBody(port: number, path: string, size: number, timeoutMs = 15_000): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let got = '';
    let done = false;
    const finish = (a: Answer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => finish({ status: 'timeout', body: got }), timeoutMs);
    const parse = (): void => {
      const m = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n([^]*)$/.exec(got);
      const length = /\r\ncontent-length: (\d+)/i.exec(got);
      if (m && length && Buffer.byteLength(m[2]) >= Number(length[1])) finish({ status: Number(m[1]), body: m[2] });
    };
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      parse();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      parse();
      finish({ status: got ? Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0) : 'reset', body: got });
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: adversarial\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`,
    );
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = (): void => {
      while (sent < size && !done && !socket.destroyed) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

/** Opens a connection and trickles `bytes` one every `everyMs`; resolves with how long until the server closed it. */
function trickle(
  port: number,
  first: string,
  bytes: string,
  everyMs: number,
  boundMs: number,
): Promise<{ closedAfterMs: number | undefined; status?: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port });
    let got = '';
    let i = 0;
    const interval = setInterval(() => {
      if (i < bytes.length) socket.write(bytes[i++]);
    }, everyMs);
    const finish = (closed: boolean): void => {
      clearInterval(interval);
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      resolve({ closedAfterMs: closed ? Date.now() - started : undefined, ...(m ? { status: Number(m[1]) } : {}) });
    };
    const timer = setTimeout(() => finish(false), boundMs);
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.write(first);
  });
}

describe('limits and misbehaviour', () => {
  let fast: AdversarialPlatform;
  let node: AdversarialPlatform;
  const modes = (): [string, AdversarialPlatform][] => [
    ['fast path', fast],
    ['node:http', node],
  ];

  beforeAll(async () => {
    [fast, node] = await Promise.all([
      startAdversarialPlatform({ fastPath: true }),
      startAdversarialPlatform({ fastPath: false }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([fast?.stop(), node?.stop()]);
  });

  describe('oversized bodies', () => {
    for (const [label, path] of [
      ['route', '/echo'],
      ['by name', '/function/echo'],
    ] as const) {
      test(`${label} (${path}), a little over the limit → refused (413, or 502 until fix 2), never run`, async () => {
        for (const [mode, p] of modes()) {
          const a = await postBody(p.platform.port, path, ECHO_LIMIT + 1);
          expect({ mode, refused: a.status === 413 || a.status === 502 }).toEqual({ mode, refused: true });
        }
      });
      testUnlessPending(
        '2',
        `${label} (${path}), a little over the limit → 413 on both router paths, 10 tries each`,
        async () => {
          const statuses: (number | string)[] = [];
          for (const [, p] of modes())
            for (let i = 0; i < 10; i++) statuses.push((await postBody(p.platform.port, path, ECHO_LIMIT + 1)).status);
          expect(statuses).toEqual(Array(20).fill(413));
        },
      );
      testUnlessPending('2', `${label} (${path}), 50 MB → 413 on both router paths, 5 tries each`, async () => {
        const statuses: (number | string)[] = [];
        for (const [, p] of modes())
          for (let i = 0; i < 5; i++) statuses.push((await postBody(p.platform.port, path, 50 * 1024 * 1024)).status);
        printFigures(`50 MB through ${path}`, { statuses: statuses.join(',') });
        expect(statuses).toEqual(Array(10).fill(413));
      });
    }
    testUnlessPending('3', 'async (/async-function/echo) over the limit → 413, never 202', async () => {
      for (const [mode, p] of modes()) {
        const a = await postBody(p.platform.port, '/async-function/echo', ECHO_LIMIT + 1);
        expect({ mode, status: a.status }).toEqual({ mode, status: 413 });
      }
    });
    test('the runtime itself: 8 MB to a 64 KiB function is refused (413 or a reset), and it keeps serving', async () => {
      const port = functionPort(fast.platform, 'echo');
      const a = await postBody(port, '/', 8 * 1024 * 1024);
      expect([413, 'reset']).toContain(a.status);
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    });
    testUnlessPending(
      'N4',
      'the runtime itself: 8 MB to a 64 KiB function → the 413 reaches the client, 10 tries',
      async () => {
        const port = functionPort(fast.platform, 'echo');
        const statuses: (number | string)[] = [];
        for (let i = 0; i < 10; i++) statuses.push((await postBody(port, '/', 8 * 1024 * 1024)).status);
        expect(statuses).toEqual(Array(10).fill(413));
      },
    );
  });

  describe('slow clients', () => {
    for (const mode of ['fast path', 'node:http'] as const) {
      for (const c of [
        {
          what: 'slowloris',
          unit: 'header byte',
          first: 'GET /echo HTTP/1.1\r\nHost: adversarial\r\n',
          rest: 'X-Slow: ' + 'a'.repeat(100),
          timeoutMs: HEADERS_TIMEOUT_MS,
          status: 408,
        },
        {
          what: 'slow body',
          unit: 'body byte',
          first: 'POST /echo HTTP/1.1\r\nHost: adversarial\r\nContent-Length: 1000\r\n\r\n',
          rest: 'a'.repeat(1000),
          timeoutMs: BODY_TIMEOUT_MS,
          // node:http streams a body to the function as it arrives, so echo's timeout (2 s) runs out
          // first and its 504 is the answer; the close still waits for the body timeout.
          status: mode === 'fast path' ? 408 : 504,
        },
      ]) {
        const bound = c.timeoutMs + SLOW_CLIENT_MARGIN_MS;
        test(`${c.what} on the ${mode}: one ${c.unit} every 2 s gets ${c.status} and a close within ${bound / 1000} s`, async () => {
          const p = mode === 'fast path' ? fast : node;
          const r = await trickle(p.platform.port, c.first, c.rest, 2000, bound);
          printFigures(`${c.what}, router ${mode}`, {
            closedAfterMs: r.closedAfterMs ?? 'never',
            status: r.status ?? 'none',
          });
          expect(r).toEqual({ closedAfterMs: expect.any(Number), status: c.status });
          expect(r.closedAfterMs).toBeGreaterThanOrEqual(c.timeoutMs - 100);
        });
      }
    }
    // node:http's own headersTimeout (60 s, checked every 30 s) bounds the runtime: too slow for the default run.
    (SOAK ? test : test.skip)(
      'slowloris on a runtime directly is closed within 100 s (node:http headersTimeout)',
      async () => {
        const r = await trickle(
          functionPort(fast.platform, 'echo'),
          'GET / HTTP/1.1\r\nHost: adversarial\r\n',
          'X-Slow: ' + 'a'.repeat(100),
          2000,
          100_000,
        );
        printFigures('slowloris, runtime', { closedAfterMs: r.closedAfterMs ?? 'never', status: r.status ?? 'none' });
        expect(r.closedAfterMs).toBeDefined();
      },
      110_000,
    );
  });

  describe('handler misbehaviour (through the fast-path router)', () => {
    const get = async (path: string): Promise<{ status: number; body: string; ms: number }> => {
      const t = Date.now();
      const res = await fetch(`${fast.platform.url}${path}`, { signal: AbortSignal.timeout(20_000) });
      return { status: res.status, body: await res.text(), ms: Date.now() - t };
    };

    test('throw → 500 with a generic error: the message stays in the logs', async () => {
      const r = await get('/misbehave/secret');
      expect(r.status).toBe(500);
      expect(r.body).not.toMatch(/hunter2/);
      expect(await within(5000, () => fast.log.text('misbehave').includes('hunter2'))).toBe(true);
    });

    test('hang → 504 after the function timeout (2 s), and the runtime keeps serving', async () => {
      const pid = fast.platform.functions.get('misbehave')!.pid;
      const hung = await Promise.all(Array.from({ length: 20 }, () => get('/misbehave/hang')));
      expect(hung.map((r) => r.status)).toEqual(Array(20).fill(504));
      printFigures('20 hung calls', { slowestMs: Math.max(...hung.map((r) => r.ms)) });
      expect(Math.max(...hung.map((r) => r.ms))).toBeLessThan(10_000);
      expect((await get('/misbehave/ok')).status).toBe(200);
      expect(fast.platform.functions.get('misbehave')!.pid).toBe(pid);
    });

    test('a 3 s busy loop (2 s timeout) is answered, and the runtime recovers without a restart', async () => {
      const pid = fast.platform.functions.get('misbehave')!.pid;
      const r = await get('/misbehave/busy');
      expect([200, 504]).toContain(r.status);
      expect(await within(15_000, async () => (await get('/misbehave/ok')).status === 200)).toBe(true);
      expect(fast.platform.functions.get('misbehave')!.pid).toBe(pid);
      expect(fast.platform.crashes('misbehave')).toBe(0);
    });

    testUnlessPending('N3', 'a busy loop past the function timeout → 504, not its late result', async () => {
      expect((await get('/misbehave/busy')).status).toBe(504);
    });

    for (const [what, path] of [
      ['process.exit', '/exit'],
      ['out of memory', '/oom'],
    ] as const) {
      const fn = what === 'process.exit' ? 'exiter' : 'oom';
      test(`${what} → 502; only that runtime restarts, the rest keep serving`, async () => {
        const before = fast.platform.functions.get(fn)!.pid;
        const echoPid = fast.platform.functions.get('echo')!.pid;
        const routerPid = fast.platform.routerPid;
        const r = await get(path);
        expect(r.status).toBe(502);
        expect(await within(15_000, () => fast.platform.crashes(fn) >= 1)).toBe(true);
        // Restarted: a new pid that answers its readiness probe again.
        expect(
          await within(15_000, async () => {
            const now = fast.platform.functions.get(fn)!;
            if (now.pid === undefined || now.pid === before) return false;
            return (await fetch(`${now.url}/readyz`).catch(() => undefined))?.status === 200;
          }),
        ).toBe(true);
        expect({ echo: fast.platform.functions.get('echo')!.pid, router: fast.platform.routerPid }).toEqual({
          echo: echoPid,
          router: routerPid,
        });
        expect((await get('/echo')).status).toBe(200);
      });
    }

    testUnlessPending('5', 'an async call whose handler throws reports a generic error, not the message', async () => {
      const res = await fetch(`${fast.platform.url}/async-function/misbehave`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ what: 'secret' }),
      });
      expect(res.status).toBe(202);
      const callId = res.headers.get('x-call-id')!;
      let state: { state?: string } = {};
      let text = '';
      await within(30_000, async () => {
        text = await (await fetch(`${fast.platform.url}/async-function/misbehave/${callId}`)).text();
        state = JSON.parse(text) as { state?: string };
        return state.state === 'failed';
      });
      expect(state.state).toBe('failed');
      expect(text).not.toMatch(/hunter2/);
    });
  });
});
