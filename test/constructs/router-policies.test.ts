import { Duration, HttpTrigger, NodeFunction, RateLimit, RouterAuth } from '../../constructs';
import { Paths, ROUTER_SECRETS_DIR, type RouteTable } from '../../src/contract';
import { parseRouteTable } from '../../src/router/route-table';
import { container, expectValid, find, INLINE, newPlatform, synth } from './helpers';

const routesOf = (objects: ReturnType<typeof synth>): RouteTable =>
  JSON.parse(find(objects, 'ConfigMap', 'kubefaas-routes').data[Paths.routesFile]);

describe('router policies (constructs)', () => {
  test('platform auth + limits, trigger overrides: route table policies, Secrets mounted by reference, valid objects', async () => {
    const platform = newPlatform({
      router: {
        auth: RouterAuth.apiKeys({ secret: 'partner-keys' }),
        rateLimit: RateLimit.global(5000, Duration.seconds(1)),
        trustedProxies: 1,
      },
    });
    new NodeFunction(platform, 'orders', {
      code: INLINE,
      triggers: [
        new HttpTrigger({
          path: '/orders',
          methods: ['POST'],
          auth: RouterAuth.jwt({
            issuer: 'https://login.example.com/',
            audience: 'fn',
            jwksUri: 'https://login.example.com/jwks',
          }),
          rateLimit: RateLimit.perClient(100, Duration.minutes(1)),
        }),
        new HttpTrigger({ path: '/staff', methods: ['GET'], auth: RouterAuth.basic({ secret: 'staff-users' }) }),
        new HttpTrigger({ path: '/public', methods: ['GET'], auth: RouterAuth.none() }),
      ],
    });
    const objects = synth(platform);
    const table = routesOf(objects);
    expect(table.policies).toEqual({
      auth: { type: 'apiKeys', secret: 'partner-keys' },
      rateLimits: [{ scope: 'global', limit: 5000, periodMs: 1000 }],
      trustedProxies: 1,
    });
    expect(table.routes[0].policies).toEqual({
      auth: {
        type: 'jwt',
        issuer: 'https://login.example.com/',
        audience: ['fn'],
        jwksUri: 'https://login.example.com/jwks',
        algorithms: ['RS256', 'ES256', 'EdDSA'],
        clockSkewSeconds: 30,
      },
      rateLimits: [{ scope: 'client', limit: 100, periodMs: 60_000 }],
    });
    expect(table.routes[2].policies).toEqual({ auth: { type: 'none' } });
    // The router accepts what the constructs write.
    const parsed = parseRouteTable(JSON.stringify(table));
    expect(parsed.policies).toEqual(table.policies);
    expect(parsed.routes).toEqual(table.routes);
    const deployment = find(objects, 'Deployment', 'kubefaas-router');
    expect(deployment.spec.template.spec.volumes).toEqual(
      expect.arrayContaining([
        { name: 'auth-secret-0', secret: { secretName: 'partner-keys' } },
        { name: 'auth-secret-1', secret: { secretName: 'staff-users' } },
      ]),
    );
    expect(container(deployment).volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'auth-secret-0', mountPath: `${ROUTER_SECRETS_DIR}/partner-keys`, readOnly: true },
      ]),
    );
    // Secret values never appear in ConfigMaps: only names.
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
    // The Secrets are the user's (created outside the platform): referenced, never synthesized.
    await expectValid(objects, { externalSecrets: ['partner-keys', 'staff-users'] });
  });

  test('a platform without policies writes none and mounts nothing', () => {
    const objects = synth(newPlatform());
    expect(routesOf(objects).policies).toBeUndefined();
    expect(
      find(objects, 'Deployment', 'kubefaas-router').spec.template.spec.volumes.some(
        (v: { secret?: unknown }) => v.secret,
      ),
    ).toBe(false);
  });

  test.each([
    [
      'JWT without issuer',
      () => RouterAuth.jwt({ issuer: '', audience: 'fn', jwksUri: 'https://x.example/jwks' }),
      /needs an issuer.*Set `issuer`/,
    ],
    [
      'JWT with HS256',
      () => RouterAuth.jwt({ issuer: 'https://i/', audience: 'fn', publicKey: 'k', algorithms: ['HS256' as never] }),
      /HS256.*not accepted/,
    ],
    [
      'JWT with both key sources',
      () => RouterAuth.jwt({ issuer: 'https://i/', audience: 'fn', publicKey: 'k', jwksUri: 'https://i/jwks' }),
      /exactly one of jwksUri and publicKey/,
    ],
    [
      'a Secret name that is not DNS-1123',
      () => RouterAuth.apiKeys({ secret: 'Partner_Keys' }),
      /not a valid Secret name/,
    ],
  ])('%s → ValidationError naming the trigger', (_what, make, message) => {
    const platform = newPlatform();
    new NodeFunction(platform, 'fn', { code: INLINE, triggers: [new HttpTrigger({ path: '/x', auth: make() })] });
    expect(() => synth(platform)).toThrow(message);
    expect(() => synth(platform)).toThrow(/\[.*fn\]/);
  });

  test('a rate of 0 is refused at synth, naming the router', () => {
    expect(() => synth(newPlatform({ router: { rateLimit: RateLimit.perClient(0, Duration.seconds(1)) } }))).toThrow(
      /\[.*Router\] rate limit 0 is not a positive integer/,
    );
  });
});
