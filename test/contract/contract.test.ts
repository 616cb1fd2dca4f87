/**
 * The contract's rules are applied on both sides of the bridge: the constructs at synth and the
 * router when it loads a route table must agree on every path, function name and host, and the
 * params header the router encodes is what the runtime decodes.
 */
import fc from 'fast-check';
import { ContainerFunction, HttpTrigger } from '../../constructs';
import { EMPTY_PARAMS_HEADER, decodeParams, encodeParams, pathProblem } from '../../src/contract';
import { parseRouteTable } from '../../src/router/route-table';
import { newPlatform, synth } from '../constructs/helpers';

function tableWith(route: { function?: string; path?: string; host?: string }): string {
  const name = route.function ?? 'hello';
  return JSON.stringify({
    version: 1,
    functions: { [name]: { url: 'http://hello.faas.svc.cluster.local:80', timeoutMs: 1000 } },
    routes: [
      {
        function: name,
        methods: ['GET'],
        path: route.path ?? '/hello',
        ...(route.host !== undefined ? { host: route.host } : {}),
      },
    ],
  });
}

function routerAccepts(route: { function?: string; path?: string; host?: string }): boolean {
  try {
    parseRouteTable(tableWith(route));
    return true;
  } catch {
    return false;
  }
}

function synthAccepts(props: { functionName?: string; path?: string; host?: string }): boolean {
  const platform = newPlatform();
  try {
    new ContainerFunction(platform, 'fn', {
      image: 'example/fn:1.0.0',
      functionName: props.functionName ?? 'hello',
      triggers: [
        new HttpTrigger({ path: props.path ?? '/hello', ...(props.host !== undefined ? { host: props.host } : {}) }),
      ],
    });
    synth(platform);
    return true;
  } catch {
    return false;
  }
}

describe('one route grammar for synth and router', () => {
  it.each([
    ['/hello', true],
    ['/users/:id', true],
    ['/files/*', true],
    ['/function/hello', false],
    ['/function', false],
    ['/async-function/hello', false],
    ['/async-function', false],
    ['/healthz', false],
    ['/metrics/', false],
    ['/a//b', false],
    ['/a/*/b', false],
    ['/a?b=1', false],
    ['hello', false],
  ])('path %j: accepted %s by both', (path, ok) => {
    expect(synthAccepts({ path })).toBe(ok);
    expect(routerAccepts({ path })).toBe(ok);
  });

  test('generated paths: the router accepts exactly what the constructs accept', () => {
    const segment = fc.oneof(
      fc.constantFrom('function', 'async-function', 'healthz', 'readyz', 'metrics', '*', ':id', ':id', '.', '..', ''),
      fc.stringMatching(/^[a-z0-9:*%?#._ -]{1,6}$/),
    );
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), (segments) => {
        const path = `/${segments.join('/')}`;
        expect(routerAccepts({ path })).toBe(pathProblem(path) === undefined);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['hello', true],
    ['a1-b2', true],
    ['1hello', false], // a DNS-1123 label, but not a Service name (DNS-1035)
    ['Hello', false],
    ['hello-', false],
    ['x'.repeat(64), false],
  ])('function name %j: accepted %s by both', (functionName, ok) => {
    expect(synthAccepts({ functionName })).toBe(ok);
    expect(routerAccepts({ function: functionName })).toBe(ok);
  });

  it.each([
    ['api.example.com', true],
    ['localhost', true],
    ['api..example.com', false],
    ['-api.example.com', false],
    ['api.example.com:8080', false],
  ])('host %j: accepted %s by both', (host, ok) => {
    expect(synthAccepts({ host })).toBe(ok);
    expect(routerAccepts({ host })).toBe(ok);
  });
});

describe('one CORS origin rule for synth and router', () => {
  /** The route-table `cors` the constructs write for `origins`, or undefined when synth refuses it. */
  function synthCors(origins: string[]): unknown {
    const platform = newPlatform({ router: { cors: { origins } } });
    try {
      return JSON.parse(
        synth(platform).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'kubefaas-routes')!.data[
          'routes.json'
        ],
      ).policies.cors;
    } catch {
      return undefined;
    }
  }
  const routerAcceptsCors = (cors: unknown): boolean => {
    try {
      parseRouteTable(JSON.stringify({ version: 1, functions: {}, routes: [], policies: { cors, trustedProxies: 0 } }));
      return true;
    } catch {
      return false;
    }
  };

  test('whatever origin the constructs accept (normalized), the router accepts', () => {
    const origin = fc.oneof(
      fc.webUrl({ withQueryParameters: false, withFragments: false }),
      fc.webUrl().map((u) => new URL(u).origin),
      fc.domain().map((d) => `https://*.${d}`),
      fc.string({ maxLength: 40 }),
      fc.constantFrom('https://bücher.example', 'HTTP://LOCALHOST:3000', 'http://[::1]:8080', 'https://a.example:443'),
    );
    let accepted = 0;
    fc.assert(
      fc.property(origin, (o) => {
        const cors = synthCors([o]);
        if (cors === undefined) return;
        accepted++;
        expect(routerAcceptsCors(cors)).toBe(true);
      }),
      { numRuns: 60 },
    );
    expect(accepted).toBeGreaterThan(5);
    expect(synthCors(['https://bücher.example'])).toMatchObject({ origins: ['https://xn--bcher-kva.example'] });
  });

  test('the router refuses a table whose CORS policy the constructs would never write', () => {
    const base = { origins: ['https://a.example'], methods: ['GET'], credentials: false, maxAgeSeconds: 10 };
    expect(routerAcceptsCors(base)).toBe(true);
    for (const bad of [
      { ...base, origins: ['*'], credentials: true },
      { ...base, origins: ['*', 'https://a.example'] },
      { ...base, origins: ['https://A.example'] },
      { ...base, origins: ['https://a.example/'] },
      { ...base, origins: ['null'] },
      { ...base, methods: [] },
      { ...base, headers: ['*'] },
      { ...base, credentials: true, exposeHeaders: ['*'] },
      { ...base, maxAgeSeconds: 86_401 },
    ])
      expect({ bad, accepted: routerAcceptsCors(bad) }).toEqual({ bad, accepted: false });
  });
});

describe('the params header codec', () => {
  test('what the router encodes, the runtime decodes', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), fc.string()), (params) => {
        expect(decodeParams(encodeParams(params))).toEqual(params);
      }),
    );
  });

  test('no parameters: the shared empty value; malformed or foreign values: no parameters', () => {
    expect(encodeParams({})).toBe(EMPTY_PARAMS_HEADER);
    expect(decodeParams(EMPTY_PARAMS_HEADER)).toEqual({});
    for (const bad of ['%7Bbroken', '%5B%5D', 'null', '', undefined, ['a', 'b']]) expect(decodeParams(bad)).toEqual({});
    expect(decodeParams(encodeURIComponent(JSON.stringify({ id: '42', n: 7 })))).toEqual({ id: '42' });
  });
});

describe('public invocation in the route table: what synth writes, the router reads', () => {
  const withInvocation = (invocation: unknown): string =>
    JSON.stringify({
      version: 1,
      functions: { hello: { url: 'http://hello.faas.svc.cluster.local:80', timeoutMs: 1000, invocation } },
      routes: [],
    });

  test('a synthesized table with opt-ins parses to the same table', () => {
    const platform = newPlatform();
    new ContainerFunction(platform, 'web', {
      image: 'example/fn:1.0.0',
      invocation: { byName: true },
      triggers: [new HttpTrigger({ path: '/web', methods: ['GET', 'PUT'] })],
    });
    new ContainerFunction(platform, 'closed', {
      image: 'example/fn:1.0.0',
      triggers: [new HttpTrigger({ path: '/closed' })],
    });
    const table = platform.routeTable();
    expect(table.functions.web.invocation).toEqual({ byName: ['GET', 'PUT'] });
    expect(table.functions.closed.invocation).toBeUndefined();
    const parsed = parseRouteTable(JSON.stringify(table));
    expect(parsed.functions.web.invocation).toEqual(table.functions.web.invocation);
    expect(parsed.functions.closed.invocation).toBeUndefined();
    expect(parsed.routes).toEqual(table.routes);
  });

  test.each([
    [
      { byName: ['GET'], async: true },
      { byName: ['GET'], async: true },
    ],
    [{ async: false }, {}],
    [{}, {}],
  ])('accepts %j', (invocation, expected) => {
    expect(parseRouteTable(withInvocation(invocation)).functions.hello.invocation).toEqual(expected);
  });

  test.each([
    [[], 'must be an object'],
    ['all', 'must be an object'],
    [{ byName: 'GET' }, 'byName: must be a non-empty array'],
    [{ byName: [] }, 'byName: must be a non-empty array'],
    [{ byName: ['FETCH'] }, 'is not one of'],
    [{ byName: ['GET', 'GET'] }, 'contains duplicates'],
    [{ async: 'yes' }, 'async: must be a boolean'],
  ])('refuses %j, naming the field', (invocation, message) => {
    expect(() => parseRouteTable(withInvocation(invocation))).toThrow(message);
    expect(() => parseRouteTable(withInvocation(invocation))).toThrow('functions.hello.invocation');
  });
});
