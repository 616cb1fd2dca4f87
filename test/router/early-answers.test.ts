/**
 * Answers that come before a request was read to its end, through the router (both HTTP paths),
 * over real sockets: a function's early final response (the real runtime's 413, sent while the
 * router is still sending the body) reaches the client intact, not as a 502, and the rest of the
 * client's body is disposed of (read through, or a lingering close); an upgrade request is served as
 * the plain request it also is (issue 15 items 2 and N2).
 */
import { Env } from '../../src/contract';
import { RuntimeProcess, stopAll } from '../runtime/process';
import {
  ConfigMapDir,
  type RouterProcess,
  echoUpstream,
  killAllRouters,
  startRouter,
  table,
  type Upstream,
} from './harness';
import { RawClient } from './raw-client';

/** The runtime's own limit; the route table does not know it, so the router forwards larger bodies. */
const RUNTIME_LIMIT = 1024;

describe.each([
  ['fast path on', {}],
  ['fast path off', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router: early answers (%s)', (_label, env: Record<string, string>) => {
  let runtime: RuntimeProcess;
  let echo: Upstream;
  let routes: ConfigMapDir;
  let router: RouterProcess;

  beforeAll(async () => {
    runtime = await RuntimeProcess.start('module.exports = (e) => "ok " + e.body.length;', {
      [Env.MAX_BODY_BYTES]: String(RUNTIME_LIMIT),
    });
    echo = await echoUpstream();
    routes = new ConfigMapDir(
      table({ limited: `http://127.0.0.1:${runtime.port}`, echo: echo.url }, [
        { function: 'limited', methods: ['POST'], path: '/limited' },
        { function: 'echo', methods: ['GET', 'POST'], path: '/echo' },
      ]),
    );
    router = await startRouter(routes.file, env);
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await echo?.close();
    await stopAll();
    routes?.remove();
  });

  test("the function's 413, sent while the body is still arriving, reaches the client intact (not 502); the connection stays usable", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const client = await RawClient.open(router.port);
      const size = 8 * 1024 * 1024;
      client.send(`POST /limited HTTP/1.1\r\nHost: early\r\nContent-Length: ${size}\r\n\r\n`);
      const answer = client.read({ timeoutMs: 10_000 });
      const sent = await client.sendBody(size);
      const reply = await answer;
      statuses.push(reply.status);
      expect(reply.body).toMatch(/request body exceeds 1024 bytes/);
      expect(sent).toBe(size);
      // The router read the rest of the (declared, bounded) body through: the connection serves on.
      client.send('POST /limited HTTP/1.1\r\nHost: early\r\nContent-Length: 2\r\n\r\nok');
      expect((await client.read({ timeoutMs: 5000 })).body).toBe('ok 2');
      client.close();
    }
    expect(statuses).toEqual(Array(5).fill(413));
  });

  test("a chunked body: the function's 413 reaches the client, then the connection closes without a reset (or serves on)", async () => {
    const client = await RawClient.open(router.port);
    client.send('POST /limited HTTP/1.1\r\nHost: early\r\nTransfer-Encoding: chunked\r\n\r\n');
    const answer = client.read({ timeoutMs: 10_000 });
    const size = 4 * 1024 * 1024;
    client.send(`${size.toString(16)}\r\n`);
    const sent = await client.sendBody(size);
    client.send('\r\n0\r\n\r\n');
    const reply = await answer;
    expect(reply.status).toBe(413);
    if (reply.headers.connection === 'close') {
      // The rest of the body was still on its way when the router answered: a lingering close.
      client.end();
      expect(await client.closedWithin(5000)).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
    } else {
      // All of it had arrived already (read ahead by the router): read through, the connection serves on.
      client.send('POST /limited HTTP/1.1\r\nHost: early\r\nContent-Length: 2\r\n\r\nok');
      expect((await client.read({ timeoutMs: 5000 })).body).toBe('ok 2');
    }
    expect({ sent, error: client.error }).toEqual({ sent: size, error: undefined });
  });

  test('Connection: Upgrade with a malformed chunked body → 400 at once, not a wait for the timeout', async () => {
    const client = await RawClient.open(router.port);
    client.send(
      'POST /echo HTTP/1.1\r\nHost: early\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n',
    );
    expect((await client.read({ timeoutMs: 3000 })).status).toBe(400);
    client.close();
  });

  test('an upgrade request is forwarded as a plain one with its body, and the next request on the connection is served', async () => {
    const client = await RawClient.open(router.port);
    client.send(
      'POST /echo HTTP/1.1\r\nHost: early\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nContent-Length: 2\r\n\r\n{}' +
        'GET /echo HTTP/1.1\r\nHost: early\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n' +
        'GET /echo HTTP/1.1\r\nHost: early\r\n\r\n',
    );
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const { method, bytes, headers } = JSON.parse((await client.read({ timeoutMs: 3000 })).body) as {
        method: string;
        bytes: number;
        headers: Record<string, string>;
      };
      seen.push({ method, bytes, upgrade: headers.upgrade ?? null });
    }
    client.close();
    expect(seen).toEqual([
      { method: 'POST', bytes: 2, upgrade: null },
      { method: 'GET', bytes: 0, upgrade: null },
      { method: 'GET', bytes: 0, upgrade: null },
    ]);
  });
});
