/**
 * The router refuses an async call whose X-Callback-Url the route table's callback policy does not
 * allow (issue 11: default deny, a 400 naming the setting), before anything is queued, on both of
 * its HTTP paths; a table that allows the prefix lets the same call in. Real nats-server.
 */
import { QueueEnv } from '../../src/contract';
import { NatsServer } from '../queue/nats-server';
import { testConfig } from '../queue/support';
import {
  ConfigMapDir,
  type RouterProcess,
  eventually,
  killAllRouters,
  startRouter,
  startUpstream,
  type Upstream,
} from './harness';
import { RawClient } from './raw-client';

describe.each([
  ['fast path on', {}],
  ['fast path off', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router callback policy (%s)', (_label, env: Record<string, string>) => {
  let nats: NatsServer;
  let routes: ConfigMapDir;
  let router: RouterProcess;
  let upstream: Upstream;
  const table = (callbacks?: object) => ({
    version: 1,
    functions: { work: { url: upstream.url, timeoutMs: 5000, invocation: { async: true } } },
    routes: [],
    ...(callbacks ? { callbacks } : {}),
  });

  beforeAll(async () => {
    nats = await NatsServer.start();
    upstream = await startUpstream((req, res) => req.resume().on('end', () => res.end('ok')));
    routes = new ConfigMapDir(JSON.stringify(table()));
    router = await startRouter(routes.file, {
      ...env,
      [QueueEnv.NATS_URL]: nats.url,
      [QueueEnv.QUEUE_CONFIG]: JSON.stringify(testConfig(`cbpolicy${Object.keys(env).length}`)),
    });
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await upstream?.close();
    await nats?.dispose();
    routes?.remove();
  });

  /** An async call (with a body, so the fast path reads it first), then a plain one on the same connection. */
  const call = async (callbackUrl?: string): Promise<{ status: number; body: string; next: number }> => {
    const client = await RawClient.open(router.port);
    try {
      const header = callbackUrl === undefined ? '' : `X-Callback-Url: ${callbackUrl}\r\n`;
      client.send(`POST /async-function/work HTTP/1.1\r\nHost: cb.test\r\n${header}Content-Length: 4\r\n\r\njob1`);
      const reply = await client.read({ timeoutMs: 5000 });
      client.send(`POST /async-function/work HTTP/1.1\r\nHost: cb.test\r\nContent-Length: 2\r\n\r\nok`);
      const next = await client.read({ timeoutMs: 5000 });
      return { status: reply.status, body: reply.body.toString(), next: next.status };
    } finally {
      client.close();
    }
  };

  it('refuses every callback URL by default with a 400 that names the setting; calls without one are accepted', async () => {
    await eventually(async () => (await call()).status === 202);
    const refused = await call('https://hooks.example.com/done');
    expect(refused.status).toBe(400);
    expect(refused.next).toBe(202); // the refused body was drained: the connection carries the next call
    expect(JSON.parse(refused.body).error).toContain('PlatformProps.router.callbacks');
  });

  it('accepts a URL under an allowed prefix, refuses others and non-http schemes', async () => {
    routes.write(JSON.stringify(table({ allow: ['https://hooks.example.com/'], allowPrivateNetworks: false })));
    await eventually(async () => (await call('https://hooks.example.com/done')).status === 202);
    for (const url of [
      'https://hooks.example.com.attacker.net/done',
      'http://hooks.example.com/done',
      'https://user:pw@hooks.example.com/done',
      'file:///etc/passwd',
      'not a url',
    ]) {
      const r = await call(url);
      expect({ url, status: r.status }).toEqual({ url, status: 400 });
      expect(JSON.parse(r.body).error).toMatch(/^X-Callback-Url refused: /);
    }
    // Normalized before the comparison: the same host in capitals with its default port is allowed.
    expect((await call('HTTPS://Hooks.Example.com:443/x')).status).toBe(202);
  });
});
