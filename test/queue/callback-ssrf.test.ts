/**
 * Callbacks cannot be turned against the platform (issue 11, SSRF): the runtime's callback
 * deliverer refuses loopback, link-local (the cloud metadata service) and, unless allowed, private
 * addresses — literal or resolved — connects to the address it checked (no second resolution), and
 * follows no redirect. A refused callback is recorded on the call as undelivered with the reason, and
 * a loopback listener proves nothing was sent. Real nats-server, real sockets.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import type { CallbackUrlPolicy, QueueConfig, QueueSubscription } from '../../src/contract';
import { QueueClient, type CallState } from '../../src/queue';
import {
  addressRefusal,
  resolveCallbackTarget,
  systemResolver,
  type CallbackResolver,
} from '../../src/queue/callback-target';
import { NatsServer } from './nats-server';
import { testConfig, waitFor } from './support';

const quietLog = { info() {}, warn() {}, error() {} };

/** A loopback listener that counts every request (and answers `answer`). */
async function listener(answer: (res: import('node:http').ServerResponse) => void = (res) => res.writeHead(204).end()) {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { hits, server, port: (server.address() as AddressInfo).port };
}

/** Names under `.test` resolve only here: to loopback, or to a public address followed by loopback. */
const testResolver: CallbackResolver = async (host) => {
  switch (host) {
    case 'loopback.test':
      return [{ address: '127.0.0.1', family: 4 }];
    case 'mixed.test':
      return [
        { address: '93.184.216.34', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ];
    case 'metadata.test':
      return [{ address: '::ffff:169.254.169.254', family: 6 }];
    case 'cluster.test':
      return [{ address: '10.96.0.10', family: 4 }];
    case 'localhost':
      return systemResolver(host); // the real resolver: whatever the machine says localhost is
    default:
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  }
};

describe('address checks (no network)', () => {
  const strict: CallbackUrlPolicy = { allow: ['http://', 'https://'], allowPrivateNetworks: false };

  test.each([
    ['127.0.0.1', 4],
    ['127.255.0.9', 4],
    ['169.254.169.254', 4],
    ['0.0.0.0', 4],
    ['10.0.0.1', 4],
    ['172.20.1.1', 4],
    ['192.168.1.1', 4],
    ['100.64.0.1', 4],
    ['::1', 6],
    ['::', 6],
    ['fe80::1', 6],
    ['fd00:ec2::254', 6],
    ['::ffff:127.0.0.1', 6],
    ['::ffff:7f00:1', 6],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 6],
    ['64:ff9b::7f00:1', 6],
  ] as const)('%s is refused by a strict policy', (address, family) => {
    expect(addressRefusal(strict, address, family)).toBeDefined();
  });

  test('private ranges only with allowPrivateNetworks; loopback and link-local never (but for the local runner)', () => {
    const priv = { ...strict, allowPrivateNetworks: true };
    expect(addressRefusal(priv, '10.0.0.1', 4)).toBeUndefined();
    expect(addressRefusal(priv, 'fd12::1', 6)).toBeUndefined();
    expect(addressRefusal(priv, '127.0.0.1', 4)).toMatch(/loopback/);
    expect(addressRefusal(priv, '169.254.169.254', 4)).toMatch(/link-local/);
    const local = { ...strict, allowLoopback: true };
    expect(addressRefusal(local, '127.0.0.1', 4)).toBeUndefined();
    expect(addressRefusal(local, '169.254.169.254', 4)).toMatch(/link-local/);
    expect(addressRefusal(strict, '93.184.216.34', 4)).toBeUndefined();
    expect(addressRefusal(strict, '2606:2800:220:1:248:1893:25c8:1946', 6)).toBeUndefined();
  });

  test('fast-check: any URL under a policy without prefixes is refused, and nothing throws', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.string()),
        async (url) => {
          const denied = await resolveCallbackTarget({ allow: [], allowPrivateNetworks: false }, url, testResolver);
          expect('refused' in denied).toBe(true);
          const open = await resolveCallbackTarget(strict, url, testResolver);
          // Accepted only with a public address (the test resolver knows no public-only name).
          if (!('refused' in open))
            expect(addressRefusal(strict, open.address.address, open.address.family)).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
  });

  test('fast-check: a loopback, link-local or private IPv4 literal is refused however it is written in the URL', async () => {
    const blocked = fc.oneof(
      fc.tuple(fc.constant(127), fc.nat(255), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(169), fc.constant(254), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(10), fc.nat(255), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(192), fc.constant(168), fc.nat(255), fc.nat(255)),
    );
    await fc.assert(
      fc.asyncProperty(
        blocked,
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 65535 }),
        async (ip, form, port) => {
          const dotted = ip.join('.');
          const n = ((ip[0] << 24) >>> 0) + (ip[1] << 16) + (ip[2] << 8) + ip[3];
          // Dotted, one decimal integer, hex, IPv4-mapped IPv6: URL parsing turns all into an address.
          const host = [dotted, String(n), `0x${n.toString(16)}`, `[::ffff:${dotted}]`][form];
          const result = await resolveCallbackTarget(strict, `http://${host}:${port}/x`, testResolver);
          expect(result).toHaveProperty('refused');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('delivery (nats-server)', () => {
  let server: NatsServer;
  const clients: QueueClient[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close(5000)));
    await server?.dispose();
  });

  async function deliverer(tag: string, urls: CallbackUrlPolicy) {
    const config: QueueConfig = testConfig(tag);
    const q = await QueueClient.connect({ servers: [server.url], config, log: quietLog });
    clients.push(q);
    const sub: QueueSubscription = {
      kind: 'async',
      subject: `${config.asyncPrefix}.fn`,
      durable: 'fn_async',
      trigger: 'async',
      maxInFlight: 4,
      ackWaitMs: 5000,
      maxRetries: 0,
      backoffMs: [20],
      ordered: false,
    };
    await q.subscribe('fn', sub, () => 'result', {
      callback: { urls, resolve: testResolver, attempts: 2, initialDelayMs: 20, timeoutMs: 2000 },
    });
    return async (callbackUrl: string): Promise<CallState> => {
      const { callId } = await q.enqueueCall('fn', {
        method: 'POST',
        path: '/',
        headers: {},
        body: Buffer.from('x'),
        callbackUrl,
      });
      await waitFor(
        `callback outcome for ${callbackUrl}`,
        async () => (await q.getCallState(callId))?.callback !== undefined,
      );
      return (await q.getCallState(callId))!;
    };
  }

  test('loopback, metadata, [::1] and names resolving to them are refused, recorded with the reason, nothing sent', async () => {
    const target = await listener();
    try {
      const p = target.port;
      const call = await deliverer('ssrf', { allow: ['http://'], allowPrivateNetworks: false });
      const cases: Array<[string, RegExp]> = [
        [`http://127.0.0.1:${p}/hook`, /127\.0\.0\.1 is a loopback address/],
        [`http://169.254.169.254/latest/meta-data/`, /169\.254\.169\.254 is a link-local/],
        [`http://[::1]:${p}/hook`, /::1 is a loopback address/],
        [`http://localhost:${p}/hook`, /localhost resolves to a refused address: .*loopback address/],
        [`http://loopback.test:${p}/hook`, /loopback\.test resolves to a refused address: 127\.0\.0\.1 is a loopback/],
        [`http://mixed.test:${p}/hook`, /mixed\.test resolves to a refused address: 127\.0\.0\.1/],
        [`http://metadata.test/latest`, /metadata\.test resolves to a refused address: .*link-local/],
        [`http://cluster.test/x`, /10\.96\.0\.10 is a private address/],
        [`http://0x7f000001:${p}/hook`, /127\.0\.0\.1 is a loopback/],
      ];
      for (const [url, reason] of cases) {
        const state = await call(url);
        expect(state.state).toBe('succeeded'); // the call itself ran; only its callback was refused
        expect(state.callback).toMatchObject({ url, delivered: false, attempts: 0 });
        expect(state.callback?.error).toMatch(/^callback refused: /);
        expect(state.callback?.error).toMatch(reason);
      }
      expect(target.hits).toEqual([]);
    } finally {
      target.server.close();
    }
  }, 60_000);

  test('connects to the address it checked (the name is not resolved again) and follows no redirect', async () => {
    const inner = await listener();
    const redirecting = await listener((res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${inner.port}/stolen` }).end(),
    );
    try {
      // The local runner's policy: loopback allowed, so the listeners are reachable at all.
      const call = await deliverer('pinned', {
        allow: [`http://loopback.test:${inner.port}/`, `http://127.0.0.1:${redirecting.port}/`],
        allowPrivateNetworks: false,
        allowLoopback: true,
      });
      // `loopback.test` exists only in the test resolver: delivered = the POST went to its checked address.
      const pinned = await call(`http://loopback.test:${inner.port}/hook`);
      expect(pinned.callback).toMatchObject({ delivered: true, status: 204 });
      expect(inner.hits).toEqual(['POST /hook']);

      const redirected = await call(`http://127.0.0.1:${redirecting.port}/hook`);
      expect(redirected.callback).toMatchObject({ delivered: false, status: 302, attempts: 1 });
      expect(redirected.callback?.error).toContain('redirects are not followed');
      expect(redirecting.hits).toEqual(['POST /hook']);
      expect(inner.hits).toEqual(['POST /hook']); // nothing more: the Location was not followed

      // A URL outside the prefixes is refused at delivery too (a call queued before the policy changed).
      const outside = await call(`http://127.0.0.1:${inner.port}/other`);
      expect(outside.callback?.error).toMatch(/does not start with an allowed prefix/);
      expect(inner.hits).toHaveLength(1);
    } finally {
      inner.server.close();
      redirecting.server.close();
    }
  }, 60_000);
});
