import { Duration, HttpTrigger, NodeFunction, RouterAuth, type CorsOptions } from '../../constructs';
import { Paths, type RouteTable } from '../../src/contract';
import { parseRouteTable } from '../../src/router/route-table';
import { expectValid, find, INLINE, newPlatform, synth } from './helpers';

const routesOf = (objects: ReturnType<typeof synth>): RouteTable =>
  JSON.parse(find(objects, 'ConfigMap', 'kubefaas-routes').data[Paths.routesFile]);

describe('CORS (constructs)', () => {
  test('platform and trigger CORS in route-table form: origins normalized, defaults applied, accepted by the router', async () => {
    const platform = newPlatform({
      router: {
        auth: RouterAuth.apiKeys({ secret: 'keys' }),
        cors: { origins: ['https://App.Example.com:443/', 'https://*.Example.org'], credentials: true },
      },
    });
    new NodeFunction(platform, 'orders', {
      code: INLINE,
      triggers: [
        new HttpTrigger({ path: '/orders', methods: ['GET', 'post'] }),
        new HttpTrigger({
          path: '/widget',
          methods: ['GET', 'OPTIONS'],
          auth: RouterAuth.none(),
          cors: {
            origins: ['*'],
            headers: ['X-Trace'],
            exposeHeaders: ['*'],
            maxAge: Duration.hours(1),
          },
        }),
        new HttpTrigger({ path: '/private', methods: ['GET'], cors: { origins: [] } }),
      ],
    });
    const objects = synth(platform);
    const table = routesOf(objects);
    expect(table.policies?.cors).toEqual({
      origins: ['https://app.example.com', 'https://*.example.org'],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      credentials: true,
      maxAgeSeconds: 600,
    });
    expect(table.routes[0].policies).toBeUndefined(); // the platform's applies
    expect(table.routes[1].policies).toEqual({
      auth: { type: 'none' },
      cors: {
        origins: ['*'],
        methods: ['GET'], // the trigger's methods, without OPTIONS (the preflight itself)
        headers: ['x-trace'],
        exposeHeaders: ['*'],
        credentials: false,
        maxAgeSeconds: 3600,
      },
    });
    expect(table.routes[2].policies?.cors?.origins).toEqual([]);
    const parsed = parseRouteTable(JSON.stringify(table));
    expect(parsed.policies).toEqual(table.policies);
    expect(parsed.routes).toEqual(table.routes);
    await expectValid(objects, { externalSecrets: ['keys'] });
  });

  test.each<[string, CorsOptions, RegExp]>([
    ['"*" with credentials', { origins: ['*'], credentials: true }, /"\*" cannot be used with credentials/],
    ['"*" beside origins', { origins: ['*', 'https://a.example'] }, /mix "\*"/],
    ['an origin with a path', { origins: ['https://a.example/app'] }, /has a path/],
    ['the null origin', { origins: ['null'] }, /"null" cannot be allowed/],
    ['a non-http origin', { origins: ['ftp://a.example'] }, /not http\(s\)/],
    ['a bare host', { origins: ['a.example'] }, /not a URL origin/],
    ['a wildcard in the middle', { origins: ['https://a.*.example'] }, /cors origin/],
    [
      'a method the trigger does not route',
      { origins: ['https://a.example'], methods: ['DELETE'] },
      /DELETE, which the trigger does not route/,
    ],
    [
      'an unknown method',
      { origins: ['https://a.example'], methods: ['BREW' as never] },
      /method 'BREW' is not supported/,
    ],
    ['a header list with "*"', { origins: ['https://a.example'], headers: ['*'] }, /Omit `headers`/],
    ['a bad header name', { origins: ['https://a.example'], headers: ['x trace'] }, /not a header name/],
    [
      'exposing "*" with credentials',
      { origins: ['https://a.example'], credentials: true, exposeHeaders: ['*'] },
      /exposeHeaders "\*"/,
    ],
    [
      'a max age over a day',
      { origins: ['https://a.example'], maxAge: Duration.days(2) },
      /maxAge of 172800 s is out of range/,
    ],
    ['a fractional max age', { origins: ['https://a.example'], maxAge: Duration.millis(1500) }, /maxAge/],
  ])('%s → ValidationError naming the trigger', (_what, cors, message) => {
    const platform = newPlatform();
    new NodeFunction(platform, 'fn', {
      code: INLINE,
      triggers: [new HttpTrigger({ path: '/x', methods: ['GET', 'POST'], cors })],
    });
    expect(() => synth(platform)).toThrow(message);
    expect(() => synth(platform)).toThrow(/\[.*fn\]/);
  });

  test('a platform CORS policy is validated naming the router', () => {
    expect(() => synth(newPlatform({ router: { cors: { origins: ['*'], credentials: true } } }))).toThrow(
      /\[.*Router\] cors origin "\*" cannot be used with credentials/,
    );
  });
});
