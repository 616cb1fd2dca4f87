import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import {
  Code,
  ContainerFunction,
  Cpu,
  Duration,
  EnvValue,
  HttpTrigger,
  NodeFunction,
  Platform,
  RouterExposure,
  Size,
  ValidationError,
} from '../../constructs';
import { MAX_BUNDLE_BYTES } from '../../constructs/code';
import { errorOf, INLINE, newPlatform, synth, codeMap } from './helpers';

/** Builds a function under a fresh platform and returns the ValidationError it throws. */
function nodeError(props: Record<string, unknown>, id = 'fn'): ValidationError {
  const platform = newPlatform();
  const error = errorOf(() => new NodeFunction(platform, id, { code: INLINE, ...props } as any));
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kubefaas-constructs-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('names', () => {
  test.each([
    ['Hello', 'DNS-1035'],
    ['1abc', 'DNS-1035'],
    ['a'.repeat(64), 'DNS-1035'],
    ['has_underscore', 'DNS-1035'],
    ['ends-', 'DNS-1035'],
    ['kubefaas-x', 'reserved prefix'],
  ])('function name %s is refused', (name, problem) => {
    const error = nodeError({ functionName: name });
    expect(error.message).toContain('[platform/fn]');
    expect(error.message).toContain(problem);
    expect(error.message).toMatch(/functionName|choose another name/);
  });

  test('two functions with the same name in one platform', () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'a', { code: INLINE, functionName: 'same' });
    const error = errorOf(() => new NodeFunction(platform, 'b', { code: INLINE, functionName: 'same' }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('[platform/b]');
    expect(error.message).toContain('platform/a');
  });

  test('invalid namespace', () => {
    const error = errorOf(() => newPlatform({ namespace: 'Bad_NS' }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toMatch(/^\[platform\] namespace 'Bad_NS' is not a valid DNS-1123 label\. Use/);
  });

  test('a function outside any platform', () => {
    const chart = Testing.chart();
    const error = errorOf(() => new NodeFunction(chart, 'orphan', { code: INLINE }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain(
      'orphan] the function belongs to no platform. Create it inside a Platform, or pass `platform`',
    );
  });
});

describe('HTTP paths and route conflicts', () => {
  test.each([
    ['hello', 'does not start with'],
    ['/a?b=1', 'query or fragment'],
    ['/a#x', 'query or fragment'],
    ['/a b', 'whitespace'],
    ['/a//b', 'empty segment'],
    ['/a/:', 'malformed parameter'],
    ['/a/:1x', 'malformed parameter'],
    ['/a/:id/:id', 'twice'],
    ['/a/*/b', 'wildcard'],
    ['/a*', 'inside a segment'],
    ['/a/../b', '".." segment'],
    ['/function/hello', 'reserves for calling functions by name'],
    ['/async-function/x', 'reserves'],
    ['/function', 'reserves'],
    ['/healthz', 'reserved'],
    ['/readyz', 'reserved'],
    ['/metrics', 'reserved'],
    ['/a:b', ':" only starts a parameter'],
  ])('path %s is refused', (p, problem) => {
    const error = nodeError({ triggers: [new HttpTrigger({ path: p })] });
    expect(error.message).toContain('[platform/fn] invalid HTTP trigger');
    expect(error.message).toContain(problem);
    expect(error.message).toContain('Paths start with "/"');
  });

  test.each([
    '/',
    '/a',
    '/a/',
    '/users/:id',
    '/users/:id/orders/:orderId',
    '/files/*',
    '/~user/%20x',
    '/metrics/custom',
    '/functions',
  ])('path %s is accepted', (p) => {
    const platform = newPlatform();
    new NodeFunction(platform, 'fn', { code: INLINE, triggers: [new HttpTrigger({ path: p })] });
    expect(() => synth(platform)).not.toThrow();
  });

  test('methods and hosts are checked', () => {
    expect(nodeError({ triggers: [new HttpTrigger({ path: '/a', methods: [] })] }).message).toContain(
      'empty method list',
    );
    expect(nodeError({ triggers: [new HttpTrigger({ path: '/a', methods: ['FETCH' as any] })] }).message).toContain(
      "unsupported method 'FETCH'",
    );
    expect(nodeError({ triggers: [new HttpTrigger({ path: '/a', host: 'example.com:8080' })] }).message).toContain(
      'invalid host',
    );
  });

  test('two functions claiming the same method and path (parameter names do not matter) fail at synth', () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'a', {
      code: INLINE,
      triggers: [new HttpTrigger({ path: '/items/:id', methods: ['GET', 'POST'] })],
    });
    new NodeFunction(platform, 'b', {
      code: INLINE,
      triggers: [new HttpTrigger({ path: '/items/:key', methods: ['POST'] })],
    });
    const error = errorOf(() => synth(platform));
    expect(error.message).toContain('Validation failed');
    expect(error.message).toContain(
      '[platform] route conflict: POST /items/:key is claimed by platform/b and already by platform/a',
    );
    expect(error.message).toContain('Change the path, method or host');
    expect(error.message).not.toContain('GET /items');
  });

  test('different methods, or different hosts, do not conflict; a trailing slash does', () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'a', { code: INLINE, triggers: [new HttpTrigger({ path: '/x', methods: ['GET'] })] });
    new NodeFunction(platform, 'b', { code: INLINE, triggers: [new HttpTrigger({ path: '/x', methods: ['POST'] })] });
    new NodeFunction(platform, 'c', {
      code: INLINE,
      triggers: [new HttpTrigger({ path: '/x', methods: ['GET'], host: 'a.example.com' })],
    });
    expect(() => synth(platform)).not.toThrow();
    new NodeFunction(platform, 'd', { code: INLINE, triggers: [new HttpTrigger({ path: '/x/', methods: ['GET'] })] });
    expect(errorOf(() => synth(platform)).message).toContain('route conflict: GET /x/ is claimed by platform/d');
  });

  test('a function claiming one route twice is a conflict too', () => {
    const platform = newPlatform();
    const fn = new NodeFunction(platform, 'a', { code: INLINE, triggers: [new HttpTrigger({ path: '/x' })] });
    fn.addTrigger(new HttpTrigger({ path: '/x', methods: ['GET'] }));
    expect(errorOf(() => synth(platform)).message).toContain(
      'GET /x is claimed by platform/a and already by platform/a',
    );
  });
});

describe('ranges', () => {
  test.each([
    [
      { timeout: Duration.millis(500) },
      'timeout must be a whole number of milliseconds between 1 second and 15 minutes',
    ],
    [{ timeout: Duration.minutes(16) }, 'timeout must be'],
    [{ timeout: Duration.millis(1000.5) }, 'timeout must be'],
    [{ memory: Size.mebibytes(32) }, 'memory must be a whole number of bytes between 64 MiB and'],
    [{ memory: Size.gibibytes(65) }, 'memory must be'],
    [{ cpu: Cpu.millis(5) }, 'cpu must be a whole number of millicores between 10m and 64000m'],
    [{ cpu: Cpu.millis(1.5) }, 'cpu must be'],
    [{ cpu: Cpu.units(65) }, 'cpu must be'],
    [{ maxConcurrency: -1 }, 'maxConcurrency must be a whole number between 0 and 10000'],
    [{ maxConcurrency: 10001 }, 'maxConcurrency must be'],
    [{ maxConcurrency: 2.5 }, 'maxConcurrency must be'],
    [{ maxBodySize: Size.gibibytes(2) }, 'maxBodySize must be'],
    [{ scaling: { minReplicas: -1 } }, 'scaling.minReplicas must be a whole number between 1 and 1000'],
    [{ scaling: { minReplicas: 3, maxReplicas: 2 } }, 'scaling.maxReplicas (2) is below scaling.minReplicas (3)'],
    [{ scaling: { maxReplicas: 1001 } }, 'scaling.maxReplicas must be'],
    [{ scaling: { targetCpuUtilization: 0 } }, 'scaling.targetCpuUtilization must be'],
  ])('range case %#: refused with a message naming the prop', (props, message) => {
    const error = nodeError(props);
    expect(error.message).toContain('[platform/fn]');
    expect(error.message).toContain(message);
    expect(error.message).toMatch(/\. (Set|Use|Raise) /);
  });

  test('platform-level defaults and router options are checked with the platform path', () => {
    expect(errorOf(() => newPlatform({ functionDefaults: { timeout: Duration.hours(1) } })).message).toContain(
      '[platform] functionDefaults.timeout must be',
    );
    expect(errorOf(() => newPlatform({ router: { replicas: { min: 3, max: 1 } } })).message).toContain(
      '[platform/Router] router.replicas.max (1) is below router.replicas.min (3)',
    );
    expect(errorOf(() => newPlatform({ router: { resources: { memory: Size.mebibytes(16) } } })).message).toContain(
      'router.resources.memory must be',
    );
    for (const [router, message] of [
      [
        { headersTimeout: Duration.millis(500) },
        'router.headersTimeout must be a whole number of milliseconds between',
      ],
      [{ headersTimeout: Duration.minutes(6) }, 'router.headersTimeout must be'],
      [{ bodyTimeout: Duration.hours(2) }, 'router.bodyTimeout must be'],
      [{ bodyTimeout: Duration.millis(1500.5) }, 'router.bodyTimeout must be'],
    ] as const) {
      const error = errorOf(() => newPlatform({ router }));
      expect(error.message).toContain('[platform/Router]');
      expect(error.message).toContain(message);
    }
  });
});

describe('env', () => {
  test.each([['1ABC'], ['A B'], ['A=B'], [''], ['ÄPFEL']])('invalid name %j', (name) => {
    const error = nodeError({ env: { [name]: 'x' } });
    expect(error.message).toContain('[platform/fn] invalid environment variable name');
    expect(error.message).toContain('Use letters, digits');
  });

  test.each([['PORT'], ['KUBEFAAS_TIMEOUT_MS'], ['KUBEFAAS_ANYTHING']])('reserved name %s', (name) => {
    expect(nodeError({ env: { [name]: 'x' } }).message).toContain(`'${name}' is reserved by the kubefaas runtime`);
  });

  test('accepted names include dots and dashes', () => {
    const platform = newPlatform();
    expect(
      () => new NodeFunction(platform, 'fn', { code: INLINE, env: { 'my.setting-1': 'x', _X: 'y' } }),
    ).not.toThrow();
  });

  test('bad references and duplicate names', () => {
    expect(nodeError({ env: { S: EnvValue.fromSecret('Bad Name', 'k') } }).message).toContain(
      "Secret name 'Bad Name' is not a valid DNS-1123 subdomain",
    );
    expect(nodeError({ env: { S: EnvValue.fromConfigMap('cm', 'bad/key') } }).message).toContain(
      "ConfigMap key 'bad/key' is invalid",
    );
    expect(nodeError({ env: { S: 42 } }).message).toContain("environment variable 'S' must be a string or an EnvValue");
    const platform = newPlatform();
    const fn = new NodeFunction(platform, 'fn', { code: INLINE, env: { A: '1' } });
    expect(errorOf(() => fn.addEnv('A', '2')).message).toContain(
      "[platform/fn] environment variable 'A' is already set",
    );
  });
});

describe('labels', () => {
  test.each([
    [{ 'kubefaas.dev/function': 'x' }, 'is set by kubefaas'],
    [{ 'bad key!': 'x' }, 'invalid label key'],
    [{ ok: 'bad value!' }, 'invalid value'],
  ])('label case %#: %j is refused', (labels, message) => {
    expect(nodeError({ labels }).message).toContain(message);
  });
});

describe('code', () => {
  test('missing file names the construct path and the resolved path', () => {
    const missing = path.join(tmp, 'nope', 'handler.ts');
    const error = nodeError({ code: Code.fromAsset(missing) });
    expect(error.message).toContain(`[platform/fn] code file ${missing} does not exist`);
    expect(error.message).toContain('Check the path given to Code.fromAsset');
  });

  test('syntax errors and unresolvable imports are validation errors', () => {
    const broken = path.join(tmp, 'broken.ts');
    fs.writeFileSync(broken, 'export default function handler( {\n');
    expect(nodeError({ code: Code.fromAsset(broken) }).message).toMatch(
      /\[platform\/fn\] bundling .*broken\.ts failed: .*broken\.ts:\d+:\d+/,
    );
    const missingDep = path.join(tmp, 'missing-dep.ts');
    fs.writeFileSync(missingDep, "import x from 'kubefaas-no-such-package';\nexport default x;\n");
    expect(nodeError({ code: Code.fromAsset(missingDep) }).message).toContain('kubefaas-no-such-package');
    expect(nodeError({ code: Code.fromInline('module.exports = (') }).message).toContain(
      'the inline code does not compile',
    );
    expect(nodeError({ code: Code.fromInline('   ') }).message).toContain('empty source');
    expect(nodeError({ code: undefined }).message).toContain('NodeFunction needs `code`');
  });

  test('a bundle too big for a ConfigMap: size, limit and what to do', () => {
    const big = path.join(tmp, 'big.js');
    // incompressible for the minifier: one long string literal
    fs.writeFileSync(big, `module.exports = () => ${JSON.stringify('x'.repeat(MAX_BUNDLE_BYTES + 10))};\n`);
    const error = nodeError({ code: Code.fromAsset(big) });
    expect(error.message).toMatch(
      /\[platform\/fn\] the bundle of .*big\.js is 1(\.\d+)? MiB \(\d+ bytes\); a ConfigMap holds at most .* \(1048568 bytes\)/,
    );
    expect(error.message).toContain('Trim heavy dependencies');
    expect(error.message).toContain('external');
    expect(error.message).toContain('ContainerFunction');
  });

  test('an edited entry is bundled again (the cache is keyed on content timestamps)', () => {
    const file = path.join(tmp, 'edit.js');
    fs.writeFileSync(file, 'module.exports = () => "first";\n');
    const sourceOf = () => {
      const platform = newPlatform();
      new NodeFunction(platform, 'fn', { code: Code.fromAsset(file, { minify: false }) });
      return codeMap(synth(platform), 'fn').data['index.js'] as string;
    };
    expect(sourceOf()).toContain('first');
    fs.writeFileSync(file, 'module.exports = () => "second";\n');
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(sourceOf()).toContain('second');
  });
});

describe('images and exposures', () => {
  test.each([
    ['python', 'has no tag'],
    ['python:latest', ':latest'],
    ['registry.example.com:5000/team/app', 'has no tag'],
    ['ghcr.io/acme/app@sha256:123', 'malformed digest'],
    ['bad image', 'not an image reference'],
  ])('image %s is refused', (image, message) => {
    const platform = newPlatform();
    const error = errorOf(() => new ContainerFunction(platform, 'c', { image }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('[platform/c]');
    expect(error.message).toContain(message);
    expect(error.message).toContain('Pin the image');
  });

  test('registry ports are not mistaken for tags', () => {
    const platform = newPlatform();
    expect(
      () => new ContainerFunction(platform, 'c', { image: 'registry.example.com:5000/team/app:1.2.3' }),
    ).not.toThrow();
  });

  test('platform node image must be pinned', () => {
    expect(errorOf(() => newPlatform({ nodeImage: 'node' })).message).toContain(
      "[platform] nodeImage 'node' has no tag",
    );
  });

  test('container props', () => {
    const platform = newPlatform();
    expect(
      errorOf(() => new ContainerFunction(platform, 'a', { image: 'x:1', healthCheck: { path: 'healthz' } })).message,
    ).toContain('is not an HTTP path');
    expect(
      errorOf(() => new ContainerFunction(platform, 'b', { image: 'x:1', local: { command: [] } })).message,
    ).toContain('local.command must be a non-empty array');
    expect(
      errorOf(() => new ContainerFunction(platform, 'c', { image: 'x:1', memory: Size.mebibytes(8) })).message,
    ).toContain('memory must be');
  });

  test('exposure options', () => {
    expect(
      errorOf(() => newPlatform({ router: { exposure: RouterExposure.gatewayApi({ gatewayName: 'Bad Name' }) } }))
        .message,
    ).toContain("[platform/Router] gateway name 'Bad Name' is not a valid Kubernetes object name");
    expect(
      errorOf(() =>
        newPlatform({ router: { exposure: RouterExposure.gatewayApi({ gatewayName: 'gw', hostnames: ['a_b'] }) } }),
      ).message,
    ).toContain("hostname 'a_b' is not a valid hostname");
    expect(
      errorOf(() =>
        newPlatform({
          router: {
            exposure: RouterExposure.gatewayApi({
              gatewayName: 'gw',
              hostnames: Array.from({ length: 17 }, (_, i) => `h${i}.example.com`),
            }),
          },
        }),
      ).message,
    ).toContain('at most 16 hostnames');
    expect(
      errorOf(() => newPlatform({ router: { exposure: RouterExposure.loadBalancer({ sourceRanges: ['10.0.0.0'] }) } }))
        .message,
    ).toContain('is not a CIDR');
    expect(
      errorOf(() => newPlatform({ router: { exposure: RouterExposure.ingress({ host: 'https://x.example.com' }) } }))
        .message,
    ).toContain('is not a valid hostname');
  });
});

test('missing or malformed props objects are validation errors too, never TypeErrors', () => {
  const platform = newPlatform();
  for (const build of [
    () => new NodeFunction(platform, 'a', undefined as any),
    () => new ContainerFunction(platform, 'b', undefined as any),
    () => new NodeFunction(platform, 'c', { code: INLINE, triggers: [undefined as any] }),
    () => new NodeFunction(platform, 'd', { code: INLINE, triggers: [new HttpTrigger(undefined as any)] }),
    () => new NodeFunction(platform, 'e', { code: INLINE, env: { A: null as any } }),
    () => new NodeFunction(platform, 'f', { code: INLINE, timeout: 30 as any }),
    () => new NodeFunction(platform, 'g', { code: INLINE, memory: '128Mi' as any }),
    () => new NodeFunction(platform, 'h', { code: INLINE, cpu: 0.5 as any }),
    () => new NodeFunction(platform, 'i', { code: Code.fromAsset(undefined as any) }),
    () => new Platform(Testing.app(), 'p', { router: { exposure: RouterExposure.gatewayApi(undefined as any) } }),
  ]) {
    expect(errorOf(build)).toBeInstanceOf(ValidationError);
  }
});

test('every error above is a ValidationError carrying the construct path', () => {
  const error = nodeError({ timeout: Duration.hours(1) }, 'deep');
  expect(error.name).toBe('ValidationError');
  expect(error.constructPath).toBe('platform/deep');
  expect(Platform.find(Testing.chart())).toBeUndefined();
});
