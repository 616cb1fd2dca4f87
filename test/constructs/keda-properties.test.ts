/**
 * Random scaling props (issue 10): on a platform with HPAs or KEDA, for Node and container
 * functions on any placement, with or without queue triggers, synthesis either produces objects
 * that pass every schema (KEDA's ScaledObject included), semantic and pod-security check — with
 * the ScaledObject and route table saying what the props said — or fails with a ValidationError
 * naming a construct path. Never another exception.
 */
import fc from 'fast-check';
import { Duration, Testing } from 'cdk8s';
import {
  Autoscaling,
  Code,
  ContainerFunction,
  NodeFunction,
  Placement,
  Platform,
  Queue,
  QueueTrigger,
  ValidationError,
  type ScalingOptions,
} from '../../constructs';
import type { RouteTable } from '../../src/contract';
import { validateManifests } from '../support/validate';

const INLINE = Code.fromInline('module.exports = async () => "ok";');

function mostly<T>(good: fc.Arbitrary<T>, anything: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: anything, weight: 1 });
}
function optional<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.option(arb, { nil: undefined, freq: 2 });
}
/** Unset three times out of four: props that conflict with others when set together. */
function rarely<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });
}
const anyNumber = fc.oneof(
  fc.integer({ min: -3, max: 1200 }),
  fc.double({ min: -1, max: 2000 }),
  fc.constantFrom(Number.NaN, Infinity, 0),
);
const seconds = (min: number, max: number) =>
  mostly(
    fc.integer({ min, max }).map((s) => Duration.seconds(s)),
    fc.oneof(
      fc.integer({ min: 0, max: 10_000_000 }).map((ms) => Duration.millis(ms)),
      fc.double({ min: 0, max: 5000, noNaN: true }).map((s) => Duration.seconds(s)),
    ),
  );
const scaling: fc.Arbitrary<ScalingOptions> = fc.record({
  minReplicas: optional(mostly(fc.integer({ min: 0, max: 5 }), anyNumber)),
  maxReplicas: optional(mostly(fc.integer({ min: 1, max: 30 }), anyNumber)),
  targetCpuUtilization: rarely(mostly(fc.integer({ min: 1, max: 100 }), anyNumber)),
  targetMemoryUtilization: rarely(mostly(fc.integer({ min: 1, max: 100 }), anyNumber)),
  targetConcurrency: rarely(mostly(fc.double({ min: 0.01, max: 500, noNaN: true }), anyNumber)),
  targetRps: rarely(mostly(fc.double({ min: 0.01, max: 500, noNaN: true }), anyNumber)),
  scaleDownDelay: rarely(seconds(0, 3600)),
  activationTimeout: rarely(seconds(1, 120)),
  holdQueueLimit: rarely(mostly(fc.integer({ min: 1, max: 10_000 }), anyNumber)),
  fallbackReplicas: rarely(mostly(fc.integer({ min: 1, max: 10 }), anyNumber)),
});
const placement = fc.constantFrom(
  undefined,
  Placement.regularNodes(),
  Placement.awsFargate({ profileName: 'fns' }),
  Placement.azureVirtualNode(),
  Placement.burst(Placement.azureVirtualNode({ version: 'v1' })),
);
const fnProps = fc.record({
  kind: fc.constantFrom('node', 'container', 'container-health'),
  timeout: optional(seconds(1, 300)),
  maxConcurrency: optional(fc.integer({ min: 0, max: 50 })),
  scaling: optional(scaling),
  placement,
  topics: fc.uniqueArray(fc.constantFrom('orders', 'audit', 'ledger'), { maxLength: 2 }),
  ordered: fc.boolean(),
});

function isValidationFailure(error: unknown): boolean {
  if (error instanceof ValidationError) return /^\[[^\]]+\] /.test(error.message);
  return (
    error instanceof Error &&
    error.constructor === Error &&
    /^Validation failed with the following errors:\n {2}\[[^\]]+\] /.test(error.message)
  );
}

test('random scaling props synthesize valid objects or fail with a validation error naming a path', async () => {
  let synthesized = 0;
  let scaledObjects = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
      fc.boolean(),
      rarely(scaling),
      fc.array(fnProps, { minLength: 1, maxLength: 3 }),
      async (keda, withQueue, defaults, functions) => {
        const app = Testing.app();
        let objects: any[];
        try {
          const platform = new Platform(app, 'platform', {
            namespace: 'faas',
            autoscaling: keda ? Autoscaling.keda() : Autoscaling.hpa(),
            ...(withQueue ? { queue: Queue.nats() } : {}),
            ...(defaults !== undefined ? { functionDefaults: { scaling: defaults } } : {}),
          });
          functions.forEach((p, i) => {
            const common = { timeout: p.timeout, scaling: p.scaling, placement: p.placement };
            if (p.kind === 'node')
              new NodeFunction(platform, `fn${i}`, {
                ...common,
                code: INLINE,
                maxConcurrency: p.maxConcurrency,
                triggers: withQueue ? p.topics.map((topic) => new QueueTrigger({ topic, ordered: p.ordered })) : [],
              });
            else
              new ContainerFunction(platform, `fn${i}`, {
                ...common,
                image: 'ghcr.io/acme/app:1.0.0',
                ...(p.kind === 'container-health' ? { healthCheck: { path: '/healthz' } } : {}),
              });
          });
          objects = Testing.synth(platform);
        } catch (error) {
          if (!isValidationFailure(error)) throw error;
          refused++;
          return;
        }
        synthesized++;
        expect(await validateManifests(objects)).toEqual([]);

        const table: RouteTable = JSON.parse(
          objects.find((o) => o.metadata?.name === 'kubefaas-routes').data['routes.json'],
        );
        for (const so of objects.filter((o) => o.kind === 'ScaledObject')) {
          scaledObjects++;
          const { minReplicaCount, maxReplicaCount, fallback, triggers } = so.spec;
          expect(keda).toBe(true);
          expect(minReplicaCount).toBeLessThan(maxReplicaCount);
          expect(fallback.replicas).toBeGreaterThanOrEqual(Math.max(1, minReplicaCount));
          expect(fallback.replicas).toBeLessThanOrEqual(maxReplicaCount);
          expect(triggers[0]).toMatchObject({ type: 'external-push', metadata: { function: so.metadata.name } });
          const target = Number(triggers[0].metadata.targetConcurrency ?? triggers[0].metadata.targetRps);
          expect(target).toBeGreaterThan(0);
          const route = table.functions[so.metadata.name].scaling!;
          expect(route.minReplicas).toBe(minReplicaCount);
          expect(route.activationTimeoutMs).toBeLessThan(table.functions[so.metadata.name].timeoutMs);
        }
        if (!keda) {
          for (const fn of Object.values(table.functions)) expect(fn.scaling).toBeUndefined();
          for (const d of objects.filter((o) => o.kind === 'Deployment'))
            expect(d.spec.replicas ?? 1).toBeGreaterThan(0);
        }
      },
    ),
    { numRuns: Number(process.env.KUBEFAAS_PROPERTY_RUNS ?? 120) },
  );
  // Every outcome must be exercised, or the property says nothing.
  expect(synthesized).toBeGreaterThan(10);
  expect(scaledObjects).toBeGreaterThan(5);
  expect(refused).toBeGreaterThan(10);
});
