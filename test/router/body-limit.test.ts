/**
 * The router enforces each function's body limit itself (issue 15 items 2 and 3), from the route
 * table's `maxBodyBytes`: a Content-Length over it gets 413 at once, before anything is forwarded
 * and without waiting for the body; a chunked body gets 413 as soon as it grows past the limit (the
 * function never gets a complete one); the async path (`/async-function/<fn>`) refuses the same
 * bodies instead of answering 202. Both router HTTP paths, a real nats-server for the async endpoint.
 */
import { QueueEnv } from '../../src/contract';
import { NatsServer } from '../queue/nats-server';
import { testConfig } from '../queue/support';
import {
  ConfigMapDir,
  type RouterProcess,
  type Upstream,
  eventually,
  killAllRouters,
  startRouter,
  startUpstream,
} from './harness';
import { RawClient } from './raw-client';

const LIMIT = 1000;

describe.each([
  ['fast path on', {}],
  ['fast path off', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router body limit (%s)', (_label, env: Record<string, string>) => {
  let nats: NatsServer;
  let routes: ConfigMapDir;
  let router: RouterProcess;
  let upstream: Upstream;
  let forwarded = 0;
  /** Requests whose body the upstream received to its end. */
  let completeBodies = 0;

  beforeAll(async () => {
    nats = await NatsServer.start();
    upstream = await startUpstream((req, res) => {
      forwarded++;
      req.resume();
      req.on('end', () => {
        completeBodies++;
        res.end('ok');
      });
    });
    routes = new ConfigMapDir({
      version: 1,
      functions: {
        small: {
          url: upstream.url,
          timeoutMs: 5000,
          maxBodyBytes: LIMIT,
          invocation: { byName: ['POST'], async: true },
        },
      },
      routes: [{ function: 'small', methods: ['POST'], path: '/small' }],
    });
    const config = testConfig(`limit${Object.keys(env).length}`);
    router = await startRouter(routes.file, {
      ...env,
      [QueueEnv.NATS_URL]: nats.url,
      [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config),
    });
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await upstream?.close();
    await nats?.dispose();
    routes?.remove();
  });

  /** One POST of `size` bytes; then, on the same connection, a small one (the refused body was skipped). */
  const post = async (target: string, size: number, port = router.port): Promise<{ status: number; next: number }> => {
    const client = await RawClient.open(port);
    try {
      client.send(`POST ${target} HTTP/1.1\r\nHost: limit.test\r\nContent-Length: ${size}\r\n\r\n`);
      client.send(Buffer.alloc(size, 'x'));
      const reply = await client.read({ timeoutMs: 5000 });
      // By name: served on both listeners (the admin one has no routes).
      client.send(`POST /function/small HTTP/1.1\r\nHost: limit.test\r\nContent-Length: 2\r\n\r\nok`);
      const next = await client.read({ timeoutMs: 5000 });
      return { status: reply.status, next: next.status };
    } finally {
      client.close();
    }
  };

  it('forwards a body at the limit and answers 413 over it, without forwarding; the connection stays usable', async () => {
    expect((await post('/small', LIMIT)).status).toBe(200);
    const before = forwarded;
    expect(await post('/small', LIMIT + 1)).toEqual({ status: 413, next: 200 });
    expect(await post('/function/small', LIMIT * 50)).toEqual({ status: 413, next: 200 });
    // The admin listener's internal path has the same limit.
    expect(await post('/function/small', LIMIT + 1, router.adminPort)).toEqual({ status: 413, next: 200 });
    expect(forwarded).toBe(before + 3); // only the three follow-up requests
  });

  /** Sends a head declaring `size` bytes and only 100 of them: only an answer that does not wait for the body arrives. */
  const declared = async (target: string, size: number): Promise<number> => {
    const client = await RawClient.open(router.port);
    try {
      client.send(`POST ${target} HTTP/1.1\r\nHost: limit.test\r\nContent-Length: ${size}\r\n\r\n`);
      client.send(Buffer.alloc(100, 'x'));
      return (await client.read({ timeoutMs: 5000 })).status;
    } finally {
      client.close();
    }
  };

  /**
   * A chunked body of `size` bytes in 100-byte chunks, the answer read as soon as it comes; then the
   * rest of the body is sent anyway and the connection ended: it must close without a reset.
   */
  const chunked = async (target: string, size: number): Promise<{ status: number; reset: string | undefined }> => {
    const client = await RawClient.open(router.port);
    try {
      client.send(`POST ${target} HTTP/1.1\r\nHost: limit.test\r\nTransfer-Encoding: chunked\r\n\r\n`);
      const chunk = `64\r\n${'x'.repeat(100)}\r\n`;
      let sent = 0;
      const answer = client.read({ timeoutMs: 5000 });
      while (sent < Math.min(size, LIMIT * 2)) {
        client.send(chunk);
        sent += 100;
        await new Promise((r) => setImmediate(r));
      }
      if (sent >= size) client.send('0\r\n\r\n');
      const reply = await answer;
      if (sent < size) {
        for (; sent < size; sent += 100) client.send(chunk);
        client.send('0\r\n\r\n');
      }
      client.end();
      await client.closedWithin(5000);
      await new Promise((r) => setTimeout(r, 50));
      return { status: reply.status, reset: client.error };
    } finally {
      client.close();
    }
  };

  it('answers 413 for a declared length over the limit at once, without waiting for the body (sync and async)', async () => {
    expect(await declared('/small', LIMIT * 1000)).toBe(413);
    expect(await declared('/function/small', LIMIT + 1)).toBe(413);
    await eventually(async () => (await post('/async-function/small', 10)).status === 202);
    expect(await declared('/async-function/small', LIMIT * 1000)).toBe(413);
  });

  it('answers 413 for a chunked body once it grows past the limit; the function never gets it whole', async () => {
    const before = completeBodies;
    expect(await chunked('/small', LIMIT * 20)).toEqual({ status: 413, reset: undefined });
    expect(await chunked('/function/small', LIMIT * 20)).toEqual({ status: 413, reset: undefined });
    expect(completeBodies).toBe(before);
    // Within the limit, chunked bodies are forwarded.
    expect((await chunked('/small', LIMIT)).status).toBe(200);
    expect(completeBodies).toBe(before + 1);
  });

  it('answers 413 for a chunked async call once it grows past the limit', async () => {
    await eventually(async () => (await post('/async-function/small', 10)).status === 202);
    expect(await chunked('/async-function/small', LIMIT * 20)).toEqual({ status: 413, reset: undefined });
    expect((await chunked('/async-function/small', LIMIT)).status).toBe(202);
  });

  it('applies the same limit on the async path: 413, not 202', async () => {
    // The queue connects in the background: wait until a small call is accepted.
    await eventually(async () => (await post('/async-function/small', 10)).status === 202);
    expect((await post('/async-function/small', LIMIT + 1)).status).toBe(413);
    expect((await post('/async-function/small', LIMIT)).status).toBe(202);
    expect((await post('/async-function/small', LIMIT + 1, router.adminPort)).status).toBe(413);
  });
});
