import fc from 'fast-check';
import { Testing } from 'cdk8s';
import { HTTP_METHODS } from '../../src/contract';
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
import { validateManifests } from '../support/validate';

/**
 * Random props either synthesize objects that pass schema/semantic/PSS validation, or fail with a
 * ValidationError (or cdk8s's synth-time validation report) naming a construct path. Never a
 * TypeError or any other exception.
 */

/** Mostly plausible values, sometimes anything: both outcomes get exercised. */
function mostly<T>(good: fc.Arbitrary<T>, anything: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: good, weight: 30 }, { arbitrary: anything, weight: 1 });
}
function optional<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.option(arb, { nil: undefined, freq: 2 });
}

const nameChars = fc.constantFrom(...'abcxyz019-_.A/ :'.split(''));
const dnsName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/);
const dnsish = mostly(dnsName, fc.string({ unit: nameChars, minLength: 1, maxLength: 70 }));
const goodSegment = fc.oneof(fc.stringMatching(/^[a-z0-9_-]{1,8}$/), fc.stringMatching(/^:[a-z][a-z0-9]{0,5}$/));
const badSegment = fc.constantFrom('*', ':', ':1a', '..', '', 'a b', '?q', 'function', 'healthz', '%zz', '%20');
const path = mostly(
  fc.array(goodSegment, { minLength: 1, maxLength: 4 }).map((segments) => `/${segments.join('/')}`),
  fc.oneof(
    fc.array(fc.oneof(goodSegment, badSegment), { maxLength: 4 }).map((segments) => `/${segments.join('/')}`),
    fc.string({ maxLength: 12 }),
  ),
);
const methods = optional(
  mostly(
    fc.uniqueArray(fc.constantFrom(...HTTP_METHODS), { minLength: 1, maxLength: 3 }),
    fc.array(fc.oneof(fc.constantFrom(...HTTP_METHODS), fc.constantFrom('get', 'FETCH', '')), { maxLength: 4 }),
  ),
);
const host = fc.option(mostly(fc.domain(), fc.constantFrom('A.EXAMPLE.COM', 'x:80', '-bad', '', 'a b')), {
  nil: undefined,
  freq: 1,
});
const anyNumber = fc.oneof(fc.integer({ min: -3, max: 1200 }), fc.double({ min: -1, max: 2000 }));
const duration = optional(
  mostly(
    fc.integer({ min: 1, max: 900 }).map((s) => Duration.seconds(s)),
    fc.oneof(
      fc.integer({ min: 0, max: 1_000_000 }).map((ms) => Duration.millis(ms)),
      fc.double({ min: 0, max: 2000 }).map((s) => Duration.seconds(s)),
    ),
  ),
);
const size = optional(
  mostly(
    fc.integer({ min: 64, max: 4096 }).map((mi) => Size.mebibytes(mi)),
    fc.oneof(
      fc.integer({ min: 0, max: 70_000 }).map((mi) => Size.mebibytes(mi)),
      fc.double({ min: 0, max: 100_000, noNaN: true }).map((ki) => Size.kibibytes(ki)),
    ),
  ),
);
const cpu = optional(
  mostly(
    fc.integer({ min: 10, max: 4000 }).map((m) => Cpu.millis(m)),
    fc.oneof(
      fc.integer({ min: 0, max: 70_000 }).map((m) => Cpu.millis(m)),
      fc.double({ min: 0, max: 70, noNaN: true }).map((u) => Cpu.units(u)),
    ),
  ),
);
const envName = mostly(
  fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/),
  fc.oneof(fc.constantFrom('PORT', 'KUBEFAAS_X', '1A', 'a.b-c', ''), fc.string({ maxLength: 6 })),
);
const configKey = mostly(
  fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/),
  fc.string({ unit: nameChars, minLength: 0, maxLength: 8 }),
);
const envValue = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.tuple(dnsish, configKey).map(([n, k]) => EnvValue.fromSecret(n, k)),
  fc.tuple(dnsish, configKey).map(([n, k]) => EnvValue.fromConfigMap(n, k, { optional: true })),
);
const replicas = optional(mostly(fc.integer({ min: 1, max: 20 }), anyNumber));
const fnProps = fc.record({
  functionName: optional(dnsish),
  timeout: duration,
  memory: size,
  cpu,
  maxConcurrency: optional(mostly(fc.integer({ min: 0, max: 10_000 }), anyNumber)),
  scaling: optional(
    fc.record({
      minReplicas: replicas,
      maxReplicas: replicas,
      targetCpuUtilization: optional(mostly(fc.integer({ min: 1, max: 100 }), anyNumber)),
    }),
  ),
  env: optional(fc.dictionary(envName, envValue, { maxKeys: 3 })),
  triggers: fc.array(fc.record({ path, methods, host }), { maxLength: 2 }),
});

const INLINE = Code.fromInline('module.exports = async () => "ok";');

function isValidationFailure(error: unknown): boolean {
  if (error instanceof ValidationError) return /^\[[^\]]+\] /.test(error.message);
  // node.addValidation problems, reported by cdk8s at synth with each construct path
  return (
    error instanceof Error &&
    error.constructor === Error &&
    /^Validation failed with the following errors:\n {2}\[[^\]]+\] /.test(error.message)
  );
}

test('random function props synthesize valid objects or fail with a validation error naming a path', async () => {
  let synthesized = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fnProps, { minLength: 1, maxLength: 4 }), async (functions) => {
      const app = Testing.app();
      let objects: any[];
      try {
        const platform = new Platform(app, 'platform');
        functions.forEach((props, i) => {
          new NodeFunction(platform, `fn${i}`, {
            ...props,
            code: INLINE,
            triggers: props.triggers.map((t) => new HttpTrigger(t as any)),
          } as any);
        });
        objects = Testing.synth(platform);
      } catch (error) {
        if (!isValidationFailure(error)) throw error;
        refused++;
        return;
      }
      synthesized++;
      const secrets = new Set<string>();
      const configMaps = new Set<string>();
      for (const o of objects.filter((x) => x.kind === 'Deployment')) {
        for (const e of o.spec.template.spec.containers[0].env) {
          if (e.valueFrom?.secretKeyRef) secrets.add(e.valueFrom.secretKeyRef.name);
          if (e.valueFrom?.configMapKeyRef) configMaps.add(e.valueFrom.configMapKeyRef.name);
        }
      }
      const problems = await validateManifests(objects, {
        externalSecrets: [...secrets],
        externalConfigMaps: [...configMaps],
      });
      expect(problems).toEqual([]);
    }),
    { numRuns: Number(process.env.KUBEFAAS_PROPERTY_RUNS ?? 150) },
  );
  // both outcomes must be exercised, or the property says nothing
  expect(synthesized).toBeGreaterThan(5);
  expect(refused).toBeGreaterThan(5);
});

const imagePart = fc.constantFrom(
  'python',
  'ghcr.io/acme/app',
  'registry.example.com:5000/team/app',
  'Bad Image',
  '',
  'nginx',
);
// Weighted so both outcomes occur often: about half the image references are valid and pinned.
const imageRef = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('python', 'ghcr.io/acme/app', 'registry.example.com:5000/team/app'),
      fc.constantFrom(':1.2.3', '@sha256:' + 'a'.repeat(64), ':v1_2-x'),
    )
    .map(([a, b]) => a + b),
  fc
    .tuple(
      imagePart,
      fc.constantFrom('', ':1.2.3', ':latest', ':', '@sha256:' + 'a'.repeat(64), '@sha256:12', ':v1_2-x'),
    )
    .map(([a, b]) => a + b),
);
const exposure = fc.oneof(
  fc.constant(RouterExposure.clusterIp()),
  fc
    .record({
      sourceRanges: fc.array(fc.constantFrom('10.0.0.0/8', '203.0.113.0/24', '10.0.0.1', 'x'), { maxLength: 2 }),
    })
    .map((o) => RouterExposure.loadBalancer(o)),
  fc
    .record({
      gatewayName: dnsish,
      hostnames: fc.option(fc.array(mostly(fc.domain(), fc.constant('a_b')), { maxLength: 3 }), { nil: undefined }),
    })
    .map((o) => RouterExposure.gatewayApi(o)),
  fc
    .record({
      host: fc.option(mostly(fc.domain(), fc.constant('x:1')), { nil: undefined }),
      className: fc.option(dnsish, { nil: undefined }),
    })
    .map((o) => RouterExposure.ingress(o)),
);

test('random images, container props and exposures: valid objects or a validation error', async () => {
  let synthesized = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(
      imageRef,
      fc.option(mostly(fc.constant('/healthz'), fc.constantFrom('healthz', '/a b')), { nil: undefined }),
      fc.option(fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }), { nil: undefined }),
      exposure,
      async (image, health, local, routerExposure) => {
        let objects: any[];
        try {
          const platform = new Platform(Testing.app(), 'platform', { router: { exposure: routerExposure } });
          new ContainerFunction(platform, 'c', {
            image,
            healthCheck: health === undefined ? undefined : { path: health },
            local: local === undefined ? undefined : { command: local },
          });
          objects = Testing.synth(platform);
        } catch (error) {
          if (!isValidationFailure(error)) throw error;
          refused++;
          return;
        }
        synthesized++;
        expect(await validateManifests(objects)).toEqual([]);
      },
    ),
    { numRuns: Number(process.env.KUBEFAAS_PROPERTY_RUNS ?? 100) },
  );
  expect(synthesized).toBeGreaterThan(5);
  expect(refused).toBeGreaterThan(5);
});
