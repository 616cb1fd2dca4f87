/**
 * Slow clients (issue 15 item 4) on both router paths: a head not complete within the headers
 * timeout (from its first byte) or a body not complete within the body timeout (from the end of its
 * head) gets 408 and a close; a client slow but within both limits is served; an idle keep-alive
 * connection is not a slow client. Also the heads node:http refuses that the fast path must refuse
 * too: bare-LF line endings, and HTTP/1.1 without Host (N1). Real router processes, raw sockets.
 */
import {
  ConfigMapDir,
  type RouterProcess,
  type Upstream,
  echoUpstream,
  killAllRouters,
  startRouter,
  startUpstream,
  table,
} from './harness';
import { RawClient } from './raw-client';

const HEADERS_TIMEOUT_MS = 1500;
const BODY_TIMEOUT_MS = 2500;
/** Deadlines are checked every 150 ms here; the rest is room for a loaded machine. */
const MARGIN_MS = 1500;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends `text` one byte every `everyMs`, stopping early if the router closes the connection. */
async function trickle(client: RawClient, text: string, everyMs: number): Promise<void> {
  for (const ch of text) {
    if (client.closed) return;
    client.send(ch);
    await sleep(everyMs);
  }
}

/** Milliseconds from `start` until the router closed the connection (bounded). */
async function closedAfter(client: RawClient, start: number, boundMs: number): Promise<number | undefined> {
  return (await client.closedWithin(boundMs)) ? Date.now() - start : undefined;
}

describe.each([
  ['fast path on', {}],
  ['fast path off', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router client timeouts (%s)', (_label, env: Record<string, string>) => {
  let routes: ConfigMapDir;
  let router: RouterProcess;
  let echo: Upstream;
  /** Answers at once, without reading the request body. */
  let early: Upstream;

  beforeAll(async () => {
    echo = await echoUpstream();
    early = await startUpstream((_req, res) => res.end('early'));
    routes = new ConfigMapDir(
      table({ echo: echo.url, early: early.url }, [
        { function: 'echo', methods: ['GET', 'POST'], path: '/echo' },
        { function: 'early', methods: ['POST'], path: '/early' },
      ]),
    );
    router = await startRouter(routes.file, {
      ...env,
      KUBEFAAS_ROUTER_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      KUBEFAAS_ROUTER_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
    });
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await Promise.all([echo?.close(), early?.close()]);
    routes?.remove();
  });

  const open = (): Promise<RawClient> => RawClient.open(router.port);

  it('reports its timeouts in the listening line', () => {
    expect(router.logs.find((l) => l.msg === 'listening')).toMatchObject({
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: BODY_TIMEOUT_MS,
    });
  });

  it('slowloris: one header byte every 200 ms gets 408 JSON and a close after the headers timeout', async () => {
    const client = await open();
    try {
      const start = Date.now();
      client.send('GET /echo HTTP/1.1\r\nHost: slow.test\r\n');
      const sending = trickle(client, `X-Slow: ${'a'.repeat(200)}\r\n\r\n`, 200);
      const reply = await client.read({ timeoutMs: HEADERS_TIMEOUT_MS + MARGIN_MS });
      const elapsed = Date.now() - start;
      expect(reply.status).toBe(408);
      expect(reply.headers['connection']).toBe('close');
      expect(reply.headers['x-request-id']).toBeTruthy();
      expect(JSON.parse(reply.body)).toEqual({ error: 'request head not received in time' });
      expect(elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      expect(await client.closedWithin(1000)).toBe(true);
      await sending;
    } finally {
      client.close();
    }
    expect(echo.received.some((r) => r.headers['x-slow'] !== undefined)).toBe(false);
  });

  it('a connection that sends nothing gets 408 after the headers timeout (as node:http does)', async () => {
    const client = await open();
    try {
      const start = Date.now();
      const reply = await client.read({ timeoutMs: HEADERS_TIMEOUT_MS + MARGIN_MS });
      expect(reply.status).toBe(408);
      expect(Date.now() - start).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      expect(await client.closedWithin(1000)).toBe(true);
    } finally {
      client.close();
    }
  });

  it('slow body: one body byte every 200 ms gets 408 JSON and a close after the body timeout', async () => {
    const client = await open();
    try {
      client.send('POST /echo HTTP/1.1\r\nHost: slow.test\r\nContent-Length: 100\r\n\r\n');
      const start = Date.now();
      const sending = trickle(client, 'b'.repeat(100), 200);
      const reply = await client.read({ timeoutMs: BODY_TIMEOUT_MS + MARGIN_MS });
      expect(reply.status).toBe(408);
      expect(JSON.parse(reply.body)).toEqual({ error: 'request body not received in time' });
      expect(Date.now() - start).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
      expect(await client.closedWithin(1000)).toBe(true);
      await sending;
    } finally {
      client.close();
    }
  });

  it.each([
    ['a chunked body', 'Transfer-Encoding: chunked', '5\r\nhello\r\n'],
    // Larger than the fast path reads whole: node:http streams it (the fast path hands the socket over).
    ['a large Content-Length body', 'Content-Length: 200000', 'c'.repeat(100_000)],
  ])('slow body, %s: 408 and a close after the body timeout', async (_what, framing, first) => {
    const client = await open();
    try {
      client.send(`POST /echo HTTP/1.1\r\nHost: slow.test\r\n${framing}\r\n\r\n${first}`);
      const start = Date.now();
      const sending = trickle(client, 'd'.repeat(100), 200);
      const reply = await client.read({ timeoutMs: BODY_TIMEOUT_MS + MARGIN_MS });
      expect(reply.status).toBe(408);
      expect(Date.now() - start).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
      expect(await client.closedWithin(1000)).toBe(true);
      await sending;
    } finally {
      client.close();
    }
  });

  it('slow body after the function answered: the connection is closed, the answer left intact', async () => {
    const client = await open();
    try {
      client.send('POST /early HTTP/1.1\r\nHost: slow.test\r\nContent-Length: 200000\r\n\r\n' + 'e'.repeat(100_000));
      const start = Date.now();
      const sending = trickle(client, 'f'.repeat(100), 200);
      const reply = await client.read({ timeoutMs: BODY_TIMEOUT_MS });
      expect([reply.status, reply.body]).toEqual([200, 'early']);
      const closed = await closedAfter(client, start, BODY_TIMEOUT_MS + MARGIN_MS);
      expect(closed).toBeDefined();
      expect(closed!).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
      // Nothing after the function's answer: no 408 written into a response already sent.
      await expect(client.read({ timeoutMs: 100 })).rejects.toThrow(/got: ""/);
      await sending;
    } finally {
      client.close();
    }
  });

  it('slow but within both limits: head over ~1 s, then body over ~2 s, is served (the body clock starts at the head)', async () => {
    const client = await open();
    try {
      // 1.0 s for the head (< 1.5 s), then 2.0 s for the body (< 2.5 s): 3 s in all, more than either.
      await trickle(client, 'POST /echo HTTP/1.1\r\nHost: slow.test\r\nContent-Length: 10\r\n\r\n', 1000 / 55);
      await trickle(client, '0123456789', 200);
      const reply = await client.read({ timeoutMs: 5000 });
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).bytes).toBe(10);
    } finally {
      client.close();
    }
  });

  it('an idle keep-alive connection is not a slow client; the next head gets its own headers timeout', async () => {
    const client = await open();
    try {
      client.send('GET /echo HTTP/1.1\r\nHost: slow.test\r\n\r\n');
      expect((await client.read()).status).toBe(200);
      await sleep(HEADERS_TIMEOUT_MS + BODY_TIMEOUT_MS);
      expect(client.closed).toBe(false);
      client.send('GET /echo HTTP/1.1\r\nHost: slow.test\r\n\r\n');
      expect((await client.read()).status).toBe(200);
      // The next request trickles: its clock starts at its own first byte.
      const start = Date.now();
      const sending = trickle(
        client,
        'GET /echo HTTP/1.1\r\nHost: slow.test\r\nX-Slow: zzzzzzzzzzzzzzzzzzzzzzzzz\r\n\r\n',
        200,
      );
      const reply = await client.read({ timeoutMs: HEADERS_TIMEOUT_MS + MARGIN_MS });
      expect(reply.status).toBe(408);
      expect(Date.now() - start).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      await sending;
    } finally {
      client.close();
    }
  }, 15_000);

  it.each([
    ['a bare-LF head', 'GET /echo HTTP/1.1\nHost: slow.test\n\n'],
    ['a head with one bare LF', 'GET /echo HTTP/1.1\r\nHost: slow.test\nX-A: 1\r\n\r\n'],
    ['HTTP/1.1 without Host', 'GET /echo HTTP/1.1\r\n\r\n'],
    ['HTTP/1.1 without Host, with a body', 'POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}'],
  ])('%s gets 400 at once, as node:http answers it', async (_what, bytes) => {
    const client = await open();
    try {
      client.send(bytes);
      const reply = await client.read({ timeoutMs: 1000 });
      expect(reply.status).toBe(400);
      expect(await client.closedWithin(1000)).toBe(true);
    } finally {
      client.close();
    }
  });

  it('HTTP/1.0 without Host is served', async () => {
    const client = await open();
    try {
      client.send('GET /echo HTTP/1.0\r\n\r\n');
      expect((await client.read()).status).toBe(200);
    } finally {
      client.close();
    }
  });
});
