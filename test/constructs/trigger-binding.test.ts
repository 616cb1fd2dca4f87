/**
 * When triggers are bound: after the concrete function has set its own fields (a trigger may ask
 * what the function is), once each, in the order given, and `addTrigger` works after construction.
 */
import {
  ContainerFunction,
  CronTrigger,
  HttpTrigger,
  NodeFunction,
  Queue,
  QueueTrigger,
  ValidationError,
} from '../../constructs';
import type { FunctionBase, ITrigger } from '../../constructs/function-base';
import { find, INLINE, newPlatform, synth } from './helpers';

/** Records what the function tells a trigger at bind time. */
class Probe implements ITrigger {
  public readonly seen: Array<{
    name: string;
    servesMetrics: unknown;
    runsKubefaasRuntime: unknown;
    maxConcurrency: unknown;
  }> = [];
  public bind(fn: FunctionBase): void {
    this.seen.push({
      name: fn.functionName,
      servesMetrics: fn.servesMetrics,
      runsKubefaasRuntime: fn.runsKubefaasRuntime,
      maxConcurrency: (fn as unknown as { maxConcurrency?: number }).maxConcurrency,
    });
  }
}

test('a trigger bound from props sees the fields of the concrete kind', () => {
  const platform = newPlatform();
  const probe = new Probe();
  new ContainerFunction(platform, 'img', {
    image: 'ghcr.io/example/img:1.0.0',
    servesMetrics: true,
    triggers: [probe],
  });
  new ContainerFunction(platform, 'plain', { image: 'ghcr.io/example/img:1.0.0', triggers: [probe] });
  new NodeFunction(platform, 'node', { code: INLINE, maxConcurrency: 7, triggers: [probe] });
  expect(probe.seen).toEqual([
    { name: 'img', servesMetrics: true, runsKubefaasRuntime: false, maxConcurrency: undefined },
    { name: 'plain', servesMetrics: false, runsKubefaasRuntime: false, maxConcurrency: undefined },
    { name: 'node', servesMetrics: true, runsKubefaasRuntime: true, maxConcurrency: 7 },
  ]);
});

test('props triggers are bound once, in order; addTrigger after construction adds more', () => {
  const platform = newPlatform({ queue: Queue.nats() });
  const fn = new NodeFunction(platform, 'orders', {
    code: INLINE,
    triggers: [new HttpTrigger({ path: '/a', methods: ['GET'] }), new QueueTrigger({ topic: 'orders' })],
  });
  fn.addTrigger(new HttpTrigger({ path: '/b', methods: ['POST'] })).addTrigger(
    new CronTrigger({ schedule: '@hourly' }),
  );
  expect(fn.triggers.map((t) => t.constructor.name)).toEqual([
    'HttpTrigger',
    'QueueTrigger',
    'HttpTrigger',
    'CronTrigger',
  ]);
  expect(platform.routeTable().routes.map((r) => r.path)).toEqual(['/a', '/b']);
  const objects = synth(platform);
  find(objects, 'CronJob', 'orders-cron-tick');
  const subs = JSON.parse(
    find(objects, 'Deployment', 'orders').spec.template.spec.containers[0].env.find(
      (e: { name: string }) => e.name === 'KUBEFAAS_SUBSCRIPTIONS',
    ).value,
  );
  expect(subs.map((s: { trigger: string }) => s.trigger)).toEqual(['async', 'orders', 'tick']);
});

test('a queue trigger on a ContainerFunction fails with the function path (the kind is known at bind)', () => {
  const platform = newPlatform({ queue: Queue.nats() });
  expect(
    () =>
      new ContainerFunction(platform, 'img', {
        image: 'ghcr.io/example/img:1.0.0',
        triggers: [new QueueTrigger({ topic: 'orders' })],
      }),
  ).toThrow(ValidationError);
  expect(
    () =>
      new ContainerFunction(platform, 'img2', {
        image: 'ghcr.io/example/img:1.0.0',
        triggers: [new QueueTrigger({ topic: 'orders' })],
      }),
  ).toThrow(/platform\/img2.*only NodeFunctions and PythonFunctions consume queues/);
});
