/**
 * Router policies (src/router/policies/) with the real router bundle over real sockets, on both
 * HTTP paths: API keys from a watched Secret volume (rotated without restart), HTTP basic against
 * bcrypt htpasswd, token-bucket rate limits with RateLimit-* headers, and x-kubefaas-auth, which
 * only the router may set. fast-check throws arbitrary credentials at it: always 401, never a crash.
 */
import { mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import fc from 'fast-check';
import {
  ConfigMapDir,
  type RouterProcess,
  type Upstream,
  echoUpstream,
  eventually,
  killAllRouters,
  request,
  startRouter,
  table,
} from './harness';

/** A Secret volume laid out as kubelet does (`<key> -> ..data/<key>`, `..data` swapped atomically). */
class SecretVolume {
  private version = 0;
  constructor(
    readonly dir: string,
    files: Record<string, string>,
  ) {
    mkdirSync(dir, { recursive: true });
    this.write(files);
  }
  write(files: Record<string, string>): void {
    const versionDir = `..v${++this.version}`;
    mkdirSync(join(this.dir, versionDir));
    for (const [k, v] of Object.entries(files)) writeFileSync(join(this.dir, versionDir, k), v);
    let previous: string | undefined;
    try {
      previous = readlinkSync(join(this.dir, '..data'));
    } catch {
      previous = undefined;
    }
    symlinkSync(versionDir, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    for (const k of Object.keys(files)) {
      rmSync(join(this.dir, k), { force: true });
      symlinkSync(`..data/${k}`, join(this.dir, k));
    }
    if (previous !== undefined) rmSync(join(this.dir, previous), { recursive: true, force: true });
  }
}

const decodeAuth = (value: unknown): unknown => JSON.parse(Buffer.from(String(value), 'base64url').toString('utf8'));

describe.each([
  ['fast path on', {}],
  ['fast path off', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router policies (%s)', (_label, env: Record<string, string>) => {
  let secrets: string;
  let keys: SecretVolume;
  let routes: ConfigMapDir;
  let router: RouterProcess;
  let echo: Upstream;

  beforeAll(async () => {
    secrets = mkdtempSync(join(tmpdir(), 'kubefaas-secrets-'));
    keys = new SecretVolume(join(secrets, 'partner-keys'), { alice: 'key-alice-1\n', bob: 'key-bob' });
    new SecretVolume(join(secrets, 'staff'), {
      htpasswd: `carol:${bcrypt.hashSync('s3cret', 4).replace('$2b$', '$2y$')}\n`,
    });
    echo = await echoUpstream();
    routes = new ConfigMapDir({
      ...table({ echo: echo.url }, [
        { function: 'echo', methods: ['GET', 'POST'], path: '/orders' },
        { function: 'echo', methods: ['GET'], path: '/public', policies: { auth: { type: 'none' } } },
        {
          function: 'echo',
          methods: ['GET'],
          path: '/staff',
          policies: { auth: { type: 'basic', secret: 'staff', realm: 'staff area' } },
        },
        {
          function: 'echo',
          methods: ['GET'],
          path: '/limited',
          policies: { rateLimits: [{ scope: 'client', limit: 3, periodMs: 60_000 }] },
        },
      ]),
      policies: { auth: { type: 'apiKeys', secret: 'partner-keys' }, trustedProxies: 0 },
    });
    router = await startRouter(routes.file, { ...env, KUBEFAAS_ROUTER_SECRETS_DIR: secrets });
    await router.waitForLog((l) => l.msg === 'secret loaded' && l.secret === 'partner-keys', 'keys loaded');
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await echo?.close();
    routes?.remove();
    rmSync(secrets, { recursive: true, force: true });
  });

  it('refuses a request without a key with 401, WWW-Authenticate and a JSON body, and never reaches the function', async () => {
    const before = echo.received.length;
    const reply = await request(router.port, { path: '/orders' });
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toMatch(/^ApiKey /);
    expect(reply.json()).toEqual({ error: expect.stringContaining('API key') });
    expect(echo.received.length).toBe(before);
  });

  it('admits a valid key (either header), tells the function who called and drops a forged x-kubefaas-auth', async () => {
    const forged = Buffer.from(JSON.stringify({ type: 'apiKey', keyId: 'admin' })).toString('base64url');
    const reply = await request(router.port, {
      path: '/orders',
      headers: { 'x-api-key': 'key-alice-1', 'x-kubefaas-auth': forged },
    });
    expect(reply.status).toBe(200);
    expect(decodeAuth(reply.json().headers['x-kubefaas-auth'])).toEqual({ type: 'apiKey', keyId: 'alice' });
    const viaAuthorization = await request(router.port, {
      path: '/orders',
      headers: { authorization: 'ApiKey key-bob' },
    });
    expect(decodeAuth(viaAuthorization.json().headers['x-kubefaas-auth'])).toEqual({ type: 'apiKey', keyId: 'bob' });
    expect((await request(router.port, { path: '/orders', headers: { 'x-api-key': 'key-bo' } })).status).toBe(401);
  });

  it('serves a route with auth none to anyone, and the forged header never gets through', async () => {
    const reply = await request(router.port, {
      path: '/public',
      headers: { 'x-kubefaas-auth': 'eyJ0eXBlIjoiYXBpS2V5In0' },
    });
    expect(reply.status).toBe(200);
    expect(reply.json().headers['x-kubefaas-auth']).toBeUndefined();
  });

  it('picks up rotated keys without a restart', async () => {
    keys.write({ alice: 'key-alice-2', bob: 'key-bob' });
    await eventually(
      async () =>
        (await request(router.port, { path: '/orders', headers: { 'x-api-key': 'key-alice-2' } })).status === 200,
    );
    expect((await request(router.port, { path: '/orders', headers: { 'x-api-key': 'key-alice-1' } })).status).toBe(401);
  });

  it('checks basic credentials against bcrypt htpasswd (cached after the first success)', async () => {
    const basic = (user: string, password: string) => ({
      authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    });
    const none = await request(router.port, { path: '/staff' });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="staff area", charset="UTF-8"');
    expect((await request(router.port, { path: '/staff', headers: basic('carol', 'wrong') })).status).toBe(401);
    expect((await request(router.port, { path: '/staff', headers: basic('mallory', 's3cret') })).status).toBe(401);
    for (let i = 0; i < 2; i++) {
      const ok = await request(router.port, { path: '/staff', headers: basic('carol', 's3cret') });
      expect(ok.status).toBe(200);
      expect(decodeAuth(ok.json().headers['x-kubefaas-auth'])).toEqual({ type: 'basic', user: 'carol' });
    }
  });

  it('limits per client with a token bucket: RateLimit-* headers, then 429 with Retry-After', async () => {
    const headers = { 'x-api-key': 'key-bob' };
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ok = await request(router.port, { path: '/limited', headers });
      expect(ok.status).toBe(200);
      expect(ok.headers['ratelimit-limit']).toBe('3');
      remaining.push(String(ok.headers['ratelimit-remaining']));
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const refused = await request(router.port, { path: '/limited', headers });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.headers['ratelimit-remaining']).toBe('0');
    expect(refused.json().error).toMatch(/rate limit/);
    // Another client (key) has its own bucket.
    expect((await request(router.port, { path: '/limited', headers: { 'x-api-key': 'key-alice-2' } })).status).toBe(
      200,
    );
  });

  it('answers arbitrary credentials with 401 and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: 'grapheme', maxLength: 100 }),
          fc.string({ minLength: 5000, maxLength: 6000 }),
        ),
        fc.constantFrom('x-api-key', 'authorization'),
        async (value, name) => {
          // Header values must be latin1 without control characters to be sendable at all.
          const sendable = Buffer.from(value, 'utf8')
            .toString('latin1')
            .replace(/[\u0000-\u001f\u007f]/g, 'x');
          const reply = await request(router.port, { path: '/orders', headers: { [name]: sendable } });
          expect(reply.status).toBe(401);
        },
      ),
      { numRuns: 40 },
    );
    expect((await request(router.port, { path: '/orders', headers: { 'x-api-key': 'key-bob' } })).status).toBe(200);
  });
});
