/**
 * `router.maxHeaderSize` (issue 11, request limits): the largest request head the router reads, on
 * both router paths; a larger one is answered 431 and never reaches the function.
 */
import { RawClient } from './raw-client';
import {
  ConfigMapDir,
  type RouterProcess,
  type Upstream,
  echoUpstream,
  killAllRouters,
  startRouter,
  table,
} from './harness';

const head = (headerBytes: number) =>
  `GET /echo HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(headerBytes)}\r\nconnection: close\r\n\r\n`;

describe.each([
  ['fast path', {}],
  ['node:http', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router head size limit (%s)', (_label, env: Record<string, string>) => {
  let echo: Upstream;
  let routes: ConfigMapDir;
  const routers: RouterProcess[] = [];

  beforeAll(async () => {
    echo = await echoUpstream();
    routes = new ConfigMapDir(table({ echo: echo.url }, [{ function: 'echo', methods: ['GET'], path: '/echo' }]));
  });
  afterAll(async () => {
    for (const r of routers) await r.stop();
    killAllRouters();
    await echo?.close();
    routes?.remove();
  });

  async function statusFor(router: RouterProcess, headerBytes: number): Promise<number> {
    const client = await RawClient.open(router.port);
    try {
      client.send(head(headerBytes));
      return (await client.read()).status;
    } finally {
      client.close();
    }
  }

  it('answers 431 above KUBEFAAS_ROUTER_MAX_HEADER_BYTES and serves heads below it', async () => {
    const router = await startRouter(routes.file, { ...env, KUBEFAAS_ROUTER_MAX_HEADER_BYTES: '2048' });
    routers.push(router);
    expect(await statusFor(router, 1500)).toBe(200);
    expect(await statusFor(router, 3000)).toBe(431);
  });

  it('keeps node:http’s 16 KiB by default', async () => {
    const byDefault = await startRouter(routes.file, env);
    routers.push(byDefault);
    expect(await statusFor(byDefault, 12_000)).toBe(200);
    expect(await statusFor(byDefault, 20_000)).toBe(431);
  });
});
