/**
 * Request data the router must reject with 400 rather than throw on (issue 15, item 1): malformed
 * percent-encoding in `/async-function/<name>` — before the fix it escaped to the process-wide
 * uncaughtException handler and the request was never answered. Both router HTTP paths.
 */
import { QueueEnv } from '../../src/contract';
import {
  ConfigMapDir,
  type RouterProcess,
  type Upstream,
  echoUpstream,
  freePort,
  killAllRouters,
  startRouter,
  table,
} from './harness';
import { RawClient } from './raw-client';

describe.each([
  ['fast path on', {}],
  ['fast path off', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router bad input (%s)', (_label, env: Record<string, string>) => {
  let routes: ConfigMapDir;
  let router: RouterProcess;
  let echo: Upstream;

  beforeAll(async () => {
    echo = await echoUpstream();
    routes = new ConfigMapDir(
      table({ echo: echo.url }, [{ function: 'echo', methods: ['GET', 'POST'], path: '/echo' }]),
    );
    // The async endpoint is on when a NATS URL is set; nothing listens there, and the name is
    // checked before the queue is, so no nats-server is needed for these cases.
    router = await startRouter(routes.file, { ...env, [QueueEnv.NATS_URL]: `nats://127.0.0.1:${await freePort()}` });
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await echo?.close();
    routes?.remove();
  });

  it.each([
    ['with a Content-Length body', 'Content-Length: 5\r\n\r\nhello'],
    ['with a chunked body', 'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
    ['without a body', 'Content-Length: 0\r\n\r\n'],
  ])('answers 400 to POST /async-function/%%ZZ %s and keeps the connection usable', async (_what, rest) => {
    const client = await RawClient.open(router.port);
    try {
      for (const target of ['/async-function/%ZZ', '/async-function/%', '/async-function/%C3%28/x']) {
        client.send(`POST ${target} HTTP/1.1\r\nHost: bad.test\r\n${rest}`);
        const reply = await client.read({ timeoutMs: 3000 });
        expect(reply.status).toBe(400);
        expect(reply.body).toMatch(/percent-encoding/);
      }
      client.send('GET /echo HTTP/1.1\r\nHost: bad.test\r\n\r\n');
      expect((await client.read()).status).toBe(200);
    } finally {
      client.close();
    }
    expect(router.logs.some((l) => /uncaught/i.test(String(l.msg ?? l.message ?? '')))).toBe(false);
  });
});
