/**
 * The router's raw-socket fast path (src/router/fast-path/) at the byte level: framing, keep-alive
 * and HTTP/1.0 rules, pipelining, handing a connection over to node:http mid-stream, half-close,
 * client aborts, and shutdown — each checked against the same router with the fast path off.
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

const GET = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: fast.test\r\n${extra}\r\n`;

describe.each([
  ['fast path on', {}],
  ['fast path off', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router wire behaviour (%s)', (_label, env: Record<string, string>) => {
  let routes: ConfigMapDir;
  let router: RouterProcess;
  let echo: Upstream;
  let chunky: Upstream;
  let broken: Upstream;
  let held: Upstream;
  const releaseHeld: Array<() => void> = [];

  beforeAll(async () => {
    echo = await echoUpstream();
    // Streams its answer without a Content-Length: chunked on the wire.
    chunky = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first,');
      setTimeout(() => res.end('second'), 20);
    });
    // Promises 100 bytes, sends 5, dies.
    broken = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('start');
      setTimeout(() => req.socket.destroy(), 20);
    });
    held = await startUpstream((_req, res) => {
      releaseHeld.push(() => res.end('released'));
    });
    routes = new ConfigMapDir(
      table({ echo: echo.url, chunky: chunky.url, broken: broken.url, held: held.url }, [
        { function: 'echo', methods: ['GET', 'POST', 'DELETE'], path: '/echo' },
        { function: 'chunky', methods: ['GET'], path: '/chunky' },
        { function: 'broken', methods: ['GET'], path: '/broken' },
        { function: 'held', methods: ['GET'], path: '/held' },
      ]),
    );
    router = await startRouter(routes.file, env);
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await Promise.all([echo, chunky, broken, held].map((u) => u?.close()));
    routes?.remove();
  });

  const open = (): Promise<RawClient> => RawClient.open(router.port);

  it('reports whether the fast path is on', () => {
    const listening = router.logs.find((l) => l.msg === 'listening');
    expect(listening?.fastPath).toBe(env.KUBEFAAS_ROUTER_FAST_PATH !== 'off');
  });

  it('serves several requests on one keep-alive connection, a body-carrying one in the middle', async () => {
    const client = await open();
    client.send(GET('/echo?n=1'));
    const first = await client.read();
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ method: 'GET', url: '/echo?n=1', bytes: 0 });
    expect(first.framing).toBe('length');

    client.send('POST /echo HTTP/1.1\r\nHost: fast.test\r\nContent-Length: 5\r\n\r\nhello');
    expect(JSON.parse((await client.read()).body)).toMatchObject({ method: 'POST', bytes: 5 });

    client.send(GET('/echo?n=3'));
    expect(JSON.parse((await client.read()).body)).toMatchObject({ method: 'GET', url: '/echo?n=3' });
    expect(client.closed).toBe(false);
    client.close();
  });

  it('answers pipelined requests in order, including a body-carrying one between bodiless ones', async () => {
    const client = await open();
    client.send(
      GET('/echo?n=1') +
        'POST /echo?n=2 HTTP/1.1\r\nHost: fast.test\r\nContent-Length: 3\r\n\r\nabc' +
        GET('/echo?n=3') +
        'DELETE /echo?n=4 HTTP/1.1\r\nHost: fast.test\r\n\r\n',
    );
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(JSON.parse((await client.read()).body));
    expect(answers.map((a) => [a.method, a.url, a.bytes])).toEqual([
      ['GET', '/echo?n=1', 0],
      ['POST', '/echo?n=2', 3],
      ['GET', '/echo?n=3', 0],
      ['DELETE', '/echo?n=4', 0],
    ]);
    client.close();
  });

  it('forwards Content-Length bodies that arrive with the head, later, or in pieces', async () => {
    const client = await open();
    client.send('POST /echo?n=1 HTTP/1.1\r\nHost: fast.test\r\nContent-Length: 11\r\n\r\nhello world');
    expect(JSON.parse((await client.read()).body)).toMatchObject({ method: 'POST', url: '/echo?n=1', bytes: 11 });

    client.send('POST /echo?n=2 HTTP/1.1\r\nHost: fast.test\r\nContent-Length: 20000\r\n\r\n');
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 5));
      client.send('x'.repeat(5000));
    }
    expect(JSON.parse((await client.read()).body)).toMatchObject({
      url: '/echo?n=2',
      bytes: 20000,
      headers: { 'content-length': '20000' },
    });

    // Larger than the fast path buffers: streamed by node:http, same answer.
    const big = 200 * 1024;
    client.send(`POST /echo?n=3 HTTP/1.1\r\nHost: fast.test\r\nContent-Length: ${big}\r\n\r\n${'y'.repeat(big)}`);
    expect(JSON.parse((await client.read()).body)).toMatchObject({ url: '/echo?n=3', bytes: big });

    client.send(
      'POST /echo?n=4 HTTP/1.1\r\nHost: fast.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    expect(JSON.parse((await client.read()).body)).toMatchObject({ url: '/echo?n=4', bytes: 3 });
    client.close();
  });

  it('handles Expect: 100-continue', async () => {
    const client = await open();
    client.send('POST /echo HTTP/1.1\r\nHost: fast.test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
    const interim = await client.read({ head: true });
    expect(interim.status).toBe(100);
    client.send('data');
    expect(JSON.parse((await client.read()).body)).toMatchObject({ method: 'POST', bytes: 4 });
    client.close();
  });

  it('serves a head that arrives a few bytes at a time', async () => {
    const client = await open();
    const bytes = GET('/echo?split=1', 'X-Custom: yes\r\n');
    for (let i = 0; i < bytes.length; i += 7) {
      client.send(bytes.slice(i, i + 7));
      await new Promise((r) => setTimeout(r, 2));
    }
    const answer = JSON.parse((await client.read()).body);
    expect(answer).toMatchObject({ url: '/echo?split=1', headers: { 'x-custom': 'yes' } });
    client.close();
  });

  it('re-frames a streamed upstream body: chunked for HTTP/1.1, until close for HTTP/1.0', async () => {
    const v11 = await open();
    v11.send(GET('/chunky'));
    const chunked = await v11.read();
    expect(chunked).toMatchObject({ status: 200, body: 'first,second', framing: 'chunked' });
    v11.close();

    const v10 = await open();
    v10.send('GET /chunky HTTP/1.0\r\nHost: fast.test\r\n\r\n');
    expect(await v10.closedWithin(5000)).toBe(true);
    const untilClose = await v10.read();
    expect(untilClose).toMatchObject({ status: 200, body: 'first,second', framing: 'close' });
  });

  it('closes after an HTTP/1.0 response unless the client asked for keep-alive', async () => {
    const plain = await open();
    plain.send('GET /echo HTTP/1.0\r\nHost: fast.test\r\n\r\n');
    expect((await plain.read()).status).toBe(200);
    expect(await plain.closedWithin(5000)).toBe(true);

    const keepAlive = await open();
    keepAlive.send('GET /echo HTTP/1.0\r\nHost: fast.test\r\nConnection: keep-alive\r\n\r\n');
    const first = await keepAlive.read();
    expect(first.headers.connection).toMatch(/keep-alive/i);
    keepAlive.send('GET /echo?again=1 HTTP/1.0\r\nHost: fast.test\r\nConnection: keep-alive\r\n\r\n');
    expect(JSON.parse((await keepAlive.read()).body)).toMatchObject({ url: '/echo?again=1' });
    keepAlive.close();
  });

  it('closes after a response to Connection: close', async () => {
    const client = await open();
    client.send(GET('/echo', 'Connection: close\r\n'));
    const answer = await client.read();
    expect(answer.headers.connection).toBe('close');
    expect(await client.closedWithin(5000)).toBe(true);
  });

  it('sends no body for HEAD and keeps the connection usable', async () => {
    const client = await open();
    client.send('HEAD /echo HTTP/1.1\r\nHost: fast.test\r\n\r\n');
    const head = await client.read({ head: true });
    expect(head.status).toBe(200);
    expect(head.headers['x-request-id']).toBeDefined();
    client.send(GET('/echo?after=head'));
    expect(JSON.parse((await client.read()).body)).toMatchObject({ url: '/echo?after=head' });
    client.close();
  });

  it('answers 404 and 405 with JSON on the same connection', async () => {
    const client = await open();
    client.send(GET('/nowhere'));
    const missing = await client.read();
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ error: 'no route for GET /nowhere' });
    client.send('PUT /echo HTTP/1.1\r\nHost: fast.test\r\nContent-Length: 0\r\n\r\n');
    const wrongMethod = await client.read();
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('GET, HEAD, POST, DELETE');
    client.close();
  });

  it('treats a client that ends its side mid-request as gone, as node:http does', async () => {
    const client = await open();
    client.send(GET('/held', 'X-Request-Id: half-closed\r\n'));
    await eventuallyTrue(() => releaseHeld.length > 0);
    client.socket.end();
    expect(await client.closedWithin(5000)).toBe(true);
    const line = await router.waitForLog(
      (l) => l.requestId === 'half-closed',
      'access line of the half-closed request',
    );
    expect(line.status).toBe(499);
    releaseHeld.splice(0).forEach((release) => release());
  });

  it('cuts a response the function stops sending, so the client sees it truncated', async () => {
    const client = await open();
    client.send(GET('/broken'));
    expect(await client.closedWithin(5000)).toBe(true);
    await expect(client.read()).rejects.toThrow(/closed before a complete response/);
  });

  it('leaves node:http the requests it must answer itself: bad heads, oversized heads, absolute targets', async () => {
    const bad = await open();
    bad.send('GET /echo HTTP/1.1\r\nBad Header: x\r\n\r\n');
    expect((await bad.read()).status).toBe(400);

    const huge = await open();
    huge.send(GET('/echo', `X-Big: ${'a'.repeat(20 * 1024)}\r\n`));
    const tooLarge = await huge.read();
    expect(tooLarge.status).toBe(431);
    expect(JSON.parse(tooLarge.body)).toEqual({ error: 'request head too large' });

    const absolute = await open();
    absolute.send('GET http://fast.test/echo?abs=1 HTTP/1.1\r\nHost: fast.test\r\n\r\n');
    expect(JSON.parse((await absolute.read()).body)).toMatchObject({ url: '/echo?abs=1' });
    absolute.close();

    const tls = await open();
    tls.send(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]));
    expect((await tls.read()).status).toBe(400);
  });

  it('survives a client that leaves mid-request, and logs it as 499', async () => {
    const client = await open();
    client.send(GET('/held', 'X-Request-Id: leaves-early\r\n'));
    await eventuallyTrue(() => releaseHeld.length > 0);
    client.close();
    const line = await router.waitForLog((l) => l.requestId === 'leaves-early', 'access line of the abandoned request');
    expect(line.status).toBe(499);
    releaseHeld.splice(0).forEach((release) => release());

    const next = await open();
    next.send(GET('/echo?after=abort'));
    expect((await next.read()).status).toBe(200);
    next.close();
  });

  it('on shutdown closes idle keep-alive connections at once and finishes the request in flight', async () => {
    const idle = await open();
    idle.send(GET('/echo'));
    await idle.read();
    const busy = await open();
    busy.send(GET('/held'));
    await eventuallyTrue(() => releaseHeld.length > 0);

    const signalled = Date.now();
    router.proc.kill('SIGTERM');
    expect(await idle.closedWithin(2000)).toBe(true);
    expect(busy.closed).toBe(false);
    releaseHeld.splice(0).forEach((release) => release());
    const answer = await busy.read();
    expect(answer).toMatchObject({ status: 200, body: 'released' });
    expect(answer.headers.connection).toBe('close');
    expect(await router.exited()).toBe(0);
    // Well inside the 10 s grace period: nothing idle held the server open.
    expect(Date.now() - signalled).toBeLessThan(5000);
    expect(router.logs.filter((l) => l.msg === 'uncaught exception')).toEqual([]);
  });
});

async function eventuallyTrue(probe: () => boolean): Promise<void> {
  while (!probe()) await new Promise((r) => setTimeout(r, 10));
}
