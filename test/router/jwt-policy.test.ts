/**
 * JWT bearer auth in the real router, both HTTP paths: a local JWKS server that rotates its key,
 * one that is down, and tokens that are expired, not yet valid, for another issuer or audience,
 * signed with `none` or HS256, lacking a scope, or random (fast-check) → 401/403/503, never a crash.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { createHmac, generateKeyPairSync, sign as signBytes, type KeyObject } from 'node:crypto';
import {
  ConfigMapDir,
  type RouterProcess,
  type Upstream,
  echoUpstream,
  eventually,
  freePort,
  killAllRouters,
  request,
  startRouter,
  table,
} from './harness';

const ISSUER = 'https://login.test/';

// Tokens are made here with node:crypto (jest loads no ESM, and a test should not trust the verifier's library to sign).
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
function es256(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signBytes('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}
function hs256(payload: Record<string, unknown>): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', Buffer.alloc(32)).update(input).digest('base64url')}`;
}
const newKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

interface Jwks {
  readonly url: string;
  rotate(): Promise<void>;
  sign(
    claims?: Record<string, unknown>,
    options?: { exp?: number; nbf?: number; iss?: string; aud?: string },
  ): Promise<string>;
  close(): Promise<void>;
}

async function jwksServer(): Promise<Jwks> {
  let current = newKey();
  let kid = 'k1';
  let publicJwk = { ...current.publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks`,
    async rotate() {
      current = newKey();
      kid = `k${Number(kid.slice(1)) + 1}`;
      publicJwk = { ...current.publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
    },
    async sign(claims = {}, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const payload = {
        scope: 'orders:write',
        ...claims,
        iss: options.iss ?? ISSUER,
        aud: options.aud ?? 'fn',
        sub: 'user-1',
        iat: now,
        exp: options.exp ?? now + 300,
      };
      return es256(
        { alg: 'ES256', kid },
        options.nbf === undefined ? payload : { ...payload, nbf: options.nbf },
        current.privateKey,
      );
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

const jwtPolicy = (jwksUri: string) => ({
  type: 'jwt',
  issuer: ISSUER,
  audience: ['fn'],
  jwksUri,
  algorithms: ['ES256', 'RS256'],
  clockSkewSeconds: 5,
});

describe.each([
  ['fast path on', {}],
  ['fast path off', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('JWT auth (%s)', (_label, env: Record<string, string>) => {
  let jwks: Jwks;
  let echo: Upstream;
  let routes: ConfigMapDir;
  let router: RouterProcess;

  beforeAll(async () => {
    jwks = await jwksServer();
    echo = await echoUpstream();
    const down = `http://127.0.0.1:${await freePort()}/jwks`;
    routes = new ConfigMapDir(
      table({ echo: echo.url }, [
        { function: 'echo', methods: ['GET'], path: '/orders', policies: { auth: jwtPolicy(jwks.url) as never } },
        {
          function: 'echo',
          methods: ['GET'],
          path: '/admin',
          policies: { auth: { ...jwtPolicy(jwks.url), requiredScopes: ['admin'] } as never },
        },
        { function: 'echo', methods: ['GET'], path: '/down', policies: { auth: jwtPolicy(down) as never } },
      ]),
    );
    router = await startRouter(routes.file, env);
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await Promise.all([echo?.close(), jwks?.close()]);
    routes?.remove();
  });

  const call = (path: string, token: string) =>
    request(router.port, { path, headers: { authorization: `Bearer ${token}` } });

  it('admits a valid token and gives the function its subject and claims', async () => {
    const reply = await call('/orders', await jwks.sign());
    expect(reply.status).toBe(200);
    const auth = JSON.parse(Buffer.from(String(reply.json().headers['x-kubefaas-auth']), 'base64url').toString('utf8'));
    expect(auth).toMatchObject({
      type: 'jwt',
      subject: 'user-1',
      claims: { iss: ISSUER, aud: 'fn', scope: 'orders:write' },
    });
  });

  it('refuses a missing token with a Bearer challenge', async () => {
    const reply = await request(router.port, { path: '/orders' });
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe(`Bearer realm="${ISSUER}"`);
  });

  it('refuses expired, not-yet-valid, wrong-issuer, wrong-audience, none- and HS256-signed tokens with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, aud: 'fn', sub: 'user-1', exp: now + 300 };
    const hs = hs256(claims);
    const none = `${b64({ alg: 'none' })}.${b64(claims)}.`;
    const tokens = [
      await jwks.sign({}, { exp: now - 60 }),
      await jwks.sign({}, { nbf: now + 600 }),
      await jwks.sign({}, { iss: 'https://evil.test/' }),
      await jwks.sign({}, { aud: 'other' }),
      hs,
      none,
    ];
    for (const token of tokens) {
      const reply = await call('/orders', token);
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toMatch(/error="invalid_token"/);
      expect(reply.json().error).toEqual(expect.any(String));
    }
  });

  it('answers 403 when a required scope is missing', async () => {
    const reply = await call('/admin', await jwks.sign());
    expect(reply.status).toBe(403);
    expect(reply.headers['www-authenticate']).toMatch(/insufficient_scope/);
    expect((await call('/admin', await jwks.sign({ scope: 'admin' }))).status).toBe(200);
  });

  it('follows a key rotation (unknown kid → JWKS refetched)', async () => {
    await jwks.rotate();
    const token = await jwks.sign({ n: 2 });
    // Within the 1 s JWKS cooldown the new kid is still unknown (401); then it is fetched.
    await eventually(async () => (await call('/orders', token)).status === 200);
  });

  it('answers 503 when the JWKS is unreachable, and 401 for a malformed token there', async () => {
    const reply = await call('/down', await jwks.sign());
    expect(reply.status).toBe(503);
    expect(reply.json().error).toMatch(/JWKS/);
    expect((await call('/down', 'not-a-jwt')).status).toBe(401);
  });

  it('answers random bearer tokens with 401 and keeps serving', async () => {
    const segment = fc.base64String({ maxLength: 200 }).map((s) => s.replace(/=/g, ''));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(segment, segment, segment).map((p) => p.join('.')),
          fc.string({ maxLength: 300 }).map((s) => s.replace(/[^\x21-\x7e]/g, 'a') || 'a'),
        ),
        async (token) => {
          expect((await call('/orders', token)).status).toBe(401);
        },
      ),
      { numRuns: 40 },
    );
    expect((await call('/orders', await jwks.sign())).status).toBe(200);
  });
});
