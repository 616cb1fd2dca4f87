/**
 * CORS (issue 11) with the real router bundle over real sockets, on both HTTP paths: preflights
 * answered by the router before auth (204 with the allow headers, 403 for an origin, method or
 * header the policy does not allow), CORS headers on actual answers including the router's own
 * 401 / 429 / 413, the function's own Access-Control-* dropped, OPTIONS on a route without a policy
 * still reaching its function. fast-check throws arbitrary Origin / preflight headers at it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { CorsPolicy } from '../../src/contract';
import {
  ConfigMapDir,
  type RouterProcess,
  type Upstream,
  echoUpstream,
  killAllRouters,
  request,
  startRouter,
  startUpstream,
  table,
} from './harness';
import { RawClient } from './raw-client';

const APP = 'https://app.example.com';
const KEY = { 'x-api-key': 'key-1' };
const partnerCors: CorsPolicy = {
  origins: [APP, 'https://*.example.org'],
  methods: ['GET', 'POST'],
  headers: ['x-api-key', 'x-trace'],
  exposeHeaders: ['x-total'],
  credentials: true,
  maxAgeSeconds: 600,
};
const anyOrigin: CorsPolicy = { origins: ['*'], methods: ['GET'], credentials: false, maxAgeSeconds: 0 };
const open = { type: 'none' } as const;

/** Header values node:http can send: latin1 without control characters. */
const sendable = (value: string): string =>
  Buffer.from(value, 'utf8')
    .toString('latin1')
    .replace(/[\u0000-\u001f\u007f]/g, 'x');

describe.each([
  ['fast path on', {}],
  ['fast path off', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router CORS (%s)', (_label, env: Record<string, string>) => {
  let secrets: string;
  let routes: ConfigMapDir;
  let router: RouterProcess;
  let echo: Upstream;
  let rogue: Upstream;

  const preflight = (path: string, origin: string, method: string, requestHeaders?: string) =>
    request(router.port, {
      method: 'OPTIONS',
      path,
      headers: {
        origin,
        'access-control-request-method': method,
        ...(requestHeaders !== undefined ? { 'access-control-request-headers': requestHeaders } : {}),
      },
    });

  beforeAll(async () => {
    secrets = mkdtempSync(join(tmpdir(), 'kubefaas-cors-'));
    mkdirSync(join(secrets, 'keys'));
    writeFileSync(join(secrets, 'keys', 'partner'), 'key-1');
    echo = await echoUpstream();
    // A function that sets CORS headers of its own: on a route with a policy the router's win.
    rogue = await startUpstream((req, res) => {
      res.setHeader('access-control-allow-origin', '*');
      res.setHeader('Access-Control-Allow-Methods', 'PUT');
      res.end('rogue');
    });
    const functions = table({ echo: echo.url, rogue: rogue.url }, []).functions;
    routes = new ConfigMapDir({
      version: 1,
      functions: { ...functions, small: { url: echo.url, timeoutMs: 5000, maxBodyBytes: 4 } },
      routes: [
        { function: 'echo', methods: ['GET', 'POST'], path: '/orders', policies: { cors: partnerCors } },
        {
          function: 'echo',
          methods: ['GET'],
          path: '/limited',
          policies: { cors: partnerCors, rateLimits: [{ scope: 'client', limit: 1, periodMs: 60_000 }] },
        },
        { function: 'echo', methods: ['GET'], path: '/open', policies: { auth: open, cors: anyOrigin } },
        {
          function: 'echo',
          methods: ['GET'],
          path: '/closed',
          policies: { auth: open, cors: { ...anyOrigin, origins: [] } },
        },
        { function: 'echo', methods: ['GET', 'OPTIONS'], path: '/plain', policies: { auth: open } },
        { function: 'small', methods: ['POST'], path: '/small', policies: { auth: open, cors: partnerCors } },
        { function: 'rogue', methods: ['GET'], path: '/rogue', policies: { auth: open, cors: partnerCors } },
      ],
      policies: { auth: { type: 'apiKeys', secret: 'keys' }, trustedProxies: 0 },
    });
    router = await startRouter(routes.file, { ...env, KUBEFAAS_ROUTER_SECRETS_DIR: secrets });
    await router.waitForLog((l) => l.msg === 'secret loaded', 'keys loaded');
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await echo?.close();
    await rogue?.close();
    routes?.remove();
    rmSync(secrets, { recursive: true, force: true });
  });

  it('answers an allowed preflight itself with 204 and the allow headers, without credentials and without the function', async () => {
    const before = echo.received.length;
    const reply = await preflight('/orders', APP, 'POST', 'X-Api-Key, Content-Type');
    expect(reply.status).toBe(204);
    expect(reply.body.length).toBe(0);
    expect(reply.headers).toMatchObject({
      'access-control-allow-origin': APP,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'x-api-key, content-type',
      'access-control-max-age': '600',
    });
    expect(reply.headers.vary).toContain('Origin');
    expect(reply.headers['content-length']).toBeUndefined();
    expect(echo.received.length).toBe(before);
    // A subdomain pattern matches subdomains, at any depth.
    expect((await preflight('/orders', 'https://a.b.example.org', 'GET')).status).toBe(204);
  });

  it('refuses a preflight for an origin, method or header the policy does not allow with 403', async () => {
    for (const origin of [
      'https://evil.example.com',
      'https://example.org', // the pattern is for subdomains only
      'https://a.example.org:8443', // another port is another origin
      'http://a.example.org',
      'https://app.example.com.evil.net',
      'null',
    ]) {
      const reply = await preflight('/orders', origin, 'GET');
      expect({ origin, status: reply.status }).toEqual({ origin, status: 403 });
      expect(reply.headers['access-control-allow-origin']).toBeUndefined();
      expect(reply.json().error).toMatch(/^CORS preflight refused: origin/);
    }
    const method = await preflight('/orders', APP, 'DELETE');
    expect(method.status).toBe(403);
    expect(method.json().error).toMatch(/method/);
    const header = await preflight('/orders', APP, 'GET', 'x-trace, x-secret');
    expect(header.status).toBe(403);
    expect(header.json().error).toContain('x-secret');
    expect((await preflight('/closed', APP, 'GET')).status).toBe(403);
  });

  it('adds CORS headers to actual answers, the router’s 401 / 429 / 413 included, so browsers can read them', async () => {
    const ok = await request(router.port, { path: '/orders', headers: { origin: APP, ...KEY } });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(APP);
    expect(ok.headers['access-control-allow-credentials']).toBe('true');
    expect(ok.headers['access-control-expose-headers']).toContain('x-total');
    expect(ok.headers.vary).toContain('Origin');

    const unauthorized = await request(router.port, { path: '/orders', headers: { origin: APP } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers['access-control-allow-origin']).toBe(APP);
    expect(unauthorized.headers['access-control-expose-headers']).toContain('www-authenticate');

    const first = await request(router.port, { path: '/limited', headers: { origin: APP, ...KEY } });
    expect(first.status).toBe(200);
    expect(first.headers['access-control-allow-origin']).toBe(APP);
    const limited = await request(router.port, { path: '/limited', headers: { origin: APP, ...KEY } });
    expect(limited.status).toBe(429);
    expect(limited.headers['access-control-allow-origin']).toBe(APP);
    expect(limited.headers['access-control-expose-headers']).toContain('retry-after');

    const tooLarge = await request(router.port, {
      method: 'POST',
      path: '/small',
      headers: { origin: APP },
      body: 'too large',
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers['access-control-allow-origin']).toBe(APP);
  });

  it('serves a disallowed origin without allow-origin (the browser hides the answer) but with Vary: Origin', async () => {
    const reply = await request(router.port, { path: '/orders', headers: { origin: 'https://evil.example', ...KEY } });
    expect(reply.status).toBe(200);
    expect(reply.headers['access-control-allow-origin']).toBeUndefined();
    expect(reply.headers.vary).toContain('Origin');
    const none = await request(router.port, { path: '/orders', headers: KEY });
    expect(none.headers['access-control-allow-origin']).toBeUndefined();
    expect(none.headers.vary).toContain('Origin');
  });

  it('answers "*" for a policy open to any origin, without credentials', async () => {
    const pre = await preflight('/open', 'https://anyone.test', 'GET');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
    expect(pre.headers['access-control-max-age']).toBe('0');
    const reply = await request(router.port, { path: '/open', headers: { origin: 'https://anyone.test' } });
    expect(reply.headers['access-control-allow-origin']).toBe('*');
  });

  it('keeps only its own CORS headers on a route with a policy', async () => {
    const reply = await request(router.port, { path: '/rogue', headers: { origin: APP } });
    expect(reply.text()).toBe('rogue');
    expect(reply.headers['access-control-allow-origin']).toBe(APP);
    expect(reply.headers['access-control-allow-methods']).toBeUndefined();
  });

  it('lets OPTIONS through to the function on a route without a CORS policy', async () => {
    const reply = await preflight('/plain', APP, 'GET');
    expect(reply.status).toBe(200);
    expect(reply.json().method).toBe('OPTIONS');
    expect(reply.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('carries the next request on the connection after a preflight', async () => {
    const client = await RawClient.open(router.port);
    try {
      client.send(
        `OPTIONS /orders HTTP/1.1\r\nHost: t\r\nOrigin: ${APP}\r\nAccess-Control-Request-Method: POST\r\n\r\n` +
          `GET /orders HTTP/1.1\r\nHost: t\r\nOrigin: ${APP}\r\nX-Api-Key: key-1\r\n\r\n`,
      );
      const pre = await client.read({ timeoutMs: 5000 });
      expect(pre.status).toBe(204);
      const next = await client.read({ timeoutMs: 5000 });
      expect(next.status).toBe(200);
      expect(next.headers['access-control-allow-origin']).toBe(APP);
    } finally {
      client.close();
    }
  });

  it('answers arbitrary Origin and preflight headers with 204 or 403 (actual requests 200), never echoing an unlisted origin', async () => {
    const allowed = (origin: string) =>
      origin === APP || /^https:\/\/[a-z0-9-]+(\.[a-z0-9-]+)*\.example\.org$/.test(origin);
    const origin = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => `https://${s}.example.org`),
      fc.webUrl().map((u) => new URL(u).origin),
      fc.constantFrom(APP, `${APP}:443`, APP.toUpperCase(), `${APP}/`, 'https://x.example.org', 'https://.example.org'),
      fc.string({ minLength: 5000, maxLength: 8000 }),
    );
    await fc.assert(
      fc.asyncProperty(
        origin,
        fc.oneof(fc.constantFrom('GET', 'POST', 'get', 'DELETE', ''), fc.string({ maxLength: 20 })),
        fc.option(
          fc.oneof(fc.constantFrom('x-api-key', 'x-trace, content-type', ', ,'), fc.string({ maxLength: 100 })),
        ),
        async (rawOrigin, rawMethod, rawHeaders) => {
          const o = sendable(rawOrigin);
          const m = sendable(rawMethod);
          const pre = await preflight('/orders', o, m, rawHeaders === null ? undefined : sendable(rawHeaders));
          expect([204, 403]).toContain(pre.status);
          if (pre.status === 204) expect(allowed(o.trim())).toBe(true);
          const acao = pre.headers['access-control-allow-origin'];
          if (acao !== undefined) expect(allowed(String(acao))).toBe(true);
          const actual = await request(router.port, { path: '/orders', headers: { origin: o, ...KEY } });
          expect(actual.status).toBe(200);
          const echoed = actual.headers['access-control-allow-origin'];
          if (echoed !== undefined) expect(allowed(String(echoed))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
    expect((await preflight('/orders', APP, 'GET')).status).toBe(204);
  });
});
