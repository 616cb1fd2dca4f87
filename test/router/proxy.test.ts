import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import {
  ConfigMapDir,
  type RouterProcess,
  type Upstream,
  echoUpstream,
  freePort,
  killAllRouters,
  request,
  startRouter,
  startUpstream,
  table,
} from './harness';

const MiB = 1024 * 1024;

describe('router: proxying', () => {
  const upstreams: Upstream[] = [];
  let routes: ConfigMapDir;
  let router: RouterProcess;
  let echo: Upstream;
  let flaky: Upstream;
  let slow: Upstream;
  let stream: Upstream;
  let upload: Upstream;
  /** Lets the streaming upstream finish its response. */
  let releaseDownload: () => void = () => undefined;
  /** Resolves when the upload upstream has received the first chunk of a request body. */
  let firstUploadChunk: Promise<void> = Promise.resolve();
  let onFirstUploadChunk: () => void = () => undefined;

  beforeAll(async () => {
    echo = await echoUpstream();
    // Resets the connection of every odd-numbered request before answering: a "stale keep-alive
    // connection" as seen by the router. Even-numbered requests are answered normally.
    flaky = await startUpstream((req, res) => {
      if (flaky.received.length % 2 === 1) {
        req.socket.destroy();
        return;
      }
      req.resume();
      req.on('end', () => res.end('recovered'));
    });
    slow = await startUpstream(() => {
      // Never answers; the router's per-function timeout must.
    });
    stream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(64 * 1024, 1));
      releaseDownload = () => {
        for (let i = 0; i < 16; i++) res.write(Buffer.alloc(MiB, 2));
        res.end();
      };
    });
    upload = await startUpstream((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        if (bytes === 0) onFirstUploadChunk();
        bytes += chunk.length;
      });
      req.on('end', () => res.end(JSON.stringify({ bytes })));
    });
    upstreams.push(echo, flaky, slow, stream, upload);
    const refusedPort = await freePort();
    routes = new ConfigMapDir(
      table(
        {
          echo: echo.url,
          flaky: flaky.url,
          slow: { url: slow.url, timeoutMs: 300 },
          stream: stream.url,
          upload: upload.url,
          gone: `http://127.0.0.1:${refusedPort}`,
        },
        [
          { function: 'echo', methods: ['GET', 'POST'], path: '/echo' },
          { function: 'flaky', methods: ['GET', 'POST'], path: '/flaky' },
          { function: 'slow', methods: ['GET'], path: '/slow' },
          { function: 'stream', methods: ['GET'], path: '/download' },
          { function: 'upload', methods: ['POST'], path: '/upload' },
          { function: 'gone', methods: ['GET', 'POST'], path: '/gone' },
        ],
      ),
    );
    router = await startRouter(routes.file);
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await Promise.all(upstreams.map((u) => u.close()));
    routes?.remove();
  });

  it('streams a large response: the client sees the first bytes before the upstream has sent the rest', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: router.port, path: '/download', agent: false }, resolve).on('error', reject);
    });
    expect(res.statusCode).toBe(200);
    let received = 0;
    let released = false;
    res.on('data', (chunk: Buffer) => {
      received += chunk.length;
      // Only once data arrived do we let the upstream finish: a buffering proxy would hang here.
      if (!released) {
        released = true;
        releaseDownload();
      }
    });
    await once(res, 'end');
    expect(received).toBe(64 * 1024 + 16 * MiB);
  });

  it('streams a large request body: the upstream sees the first chunk before the client sent the rest', async () => {
    firstUploadChunk = new Promise<void>((resolve) => (onFirstUploadChunk = resolve));
    const req = http.request({ host: '127.0.0.1', port: router.port, method: 'POST', path: '/upload', agent: false });
    const reply = new Promise<http.IncomingMessage>((resolve, reject) =>
      req.on('response', resolve).on('error', reject),
    );
    req.write(Buffer.alloc(256 * 1024, 3));
    // A buffering proxy would wait for the end of the body before contacting the upstream.
    await firstUploadChunk;
    for (let i = 0; i < 16; i++) req.write(Buffer.alloc(MiB, 4));
    req.end();
    const res = await reply;
    let body = '';
    for await (const chunk of res) body += chunk;
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(body)).toEqual({ bytes: 256 * 1024 + 16 * MiB });
  });

  it('answers 504 with a JSON body when the function exceeds its timeout', async () => {
    const reply = await request(router.port, { path: '/slow' });
    expect(reply.status).toBe(504);
    expect(reply.json()).toEqual({ error: 'function "slow" did not respond within 300 ms' });
    expect(reply.headers['x-request-id']).toEqual(expect.any(String));
  });

  it('answers 502 naming the function when its Service refuses connections', async () => {
    for (const method of ['GET', 'POST']) {
      const reply = await request(router.port, { method, path: '/gone', body: method === 'POST' ? 'x' : undefined });
      expect(reply.status).toBe(502);
      expect(reply.json()).toEqual({ error: 'function "gone" is unreachable: connection refused' });
    }
  });

  it('retries a GET exactly once on a fresh connection when the connection is reset before the response', async () => {
    const before = flaky.received.length;
    const reply = await request(router.port, { path: '/flaky' });
    expect(reply.status).toBe(200);
    expect(reply.text()).toBe('recovered');
    expect(flaky.received.length - before).toBe(2);
    const [first, second] = flaky.received.slice(before);
    expect(second.socket).not.toBe(first.socket);
  });

  it('does not retry a POST; answers 502 instead', async () => {
    const before = flaky.received.length;
    const reply = await request(router.port, { method: 'POST', path: '/flaky', body: 'payload' });
    expect(reply.status).toBe(502);
    expect(reply.json()).toEqual({ error: 'function "flaky" is unreachable: connection reset before the response' });
    expect(flaky.received.length - before).toBe(1);
    // Put the flaky upstream back on an odd count for any later test.
    await request(router.port, { path: '/flaky' });
  });

  it('survives clients that disconnect mid-request and malformed requests', async () => {
    // A client that goes away while the function is still working.
    const aborted = http.get({ host: '127.0.0.1', port: router.port, path: '/slow', agent: false });
    aborted.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 50));
    aborted.destroy();
    // A client that sends half a body and disappears.
    const partial = http.request({
      host: '127.0.0.1',
      port: router.port,
      method: 'POST',
      path: '/echo',
      headers: { 'content-length': '1000' },
      agent: false,
    });
    partial.on('error', () => undefined);
    partial.write('only a little');
    await new Promise((r) => setTimeout(r, 50));
    partial.destroy();
    // Bytes that are not HTTP.
    const garbage = net.connect(router.port, '127.0.0.1');
    garbage.write('THIS IS NOT HTTP\r\n\r\n');
    let answer = '';
    garbage.setEncoding('utf8').on('data', (c: string) => (answer += c));
    await once(garbage, 'close');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);

    const reply = await request(router.port, { method: 'POST', path: '/echo', body: 'still alive' });
    expect(reply.status).toBe(200);
    expect(reply.json().bytes).toBe(11);
    expect(router.proc.exitCode).toBeNull();
  });

  it('logged no uncaught exceptions while doing all of the above', () => {
    expect(router.logs.filter((l) => l.msg === 'uncaught exception')).toEqual([]);
  });
});

describe('router: per-request timeouts on a reused upstream connection', () => {
  let routes: ConfigMapDir;
  let router: RouterProcess;
  let delayed: Upstream;

  beforeAll(async () => {
    // Answers after `?ms=<n>` milliseconds; keep-alive, so the router reuses its connection.
    delayed = await startUpstream((req, res) => {
      const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 0);
      setTimeout(() => res.end(`after ${ms}`), ms);
    });
    routes = new ConfigMapDir(
      table({ delayed: { url: delayed.url, timeoutMs: 400 } }, [
        { function: 'delayed', methods: ['GET'], path: '/delayed' },
      ]),
    );
    router = await startRouter(routes.file);
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await delayed?.close();
    routes?.remove();
  });

  it('gives each request the whole timeout, and still answers 504 when one exceeds it', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (ms: number) =>
      new Promise<{ status: number; body: string; tookMs: number }>((resolve, reject) => {
        const started = Date.now();
        http
          .get({ host: '127.0.0.1', port: router.port, path: `/delayed?ms=${ms}`, agent }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body, tookMs: Date.now() - started }));
          })
          .on('error', reject);
      });
    try {
      // Together longer than the timeout, each well within it: both answered.
      expect(await get(250)).toMatchObject({ status: 200, body: 'after 250' });
      expect(await get(250)).toMatchObject({ status: 200, body: 'after 250' });
      // …over one upstream connection, so its timer spanned both.
      expect(delayed.received[1].socket).toBe(delayed.received[0].socket);
      const late = await get(1500);
      expect(late.status).toBe(504);
      expect(late.tookMs).toBeGreaterThanOrEqual(390);
      expect(late.tookMs).toBeLessThan(1200);
    } finally {
      agent.destroy();
    }
  });
});
