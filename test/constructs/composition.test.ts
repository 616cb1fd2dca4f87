/**
 * The construct side of typed composition (issue 16 parts 1 and 4): functions declare `publishes` and
 * `invokes` with references or names, QueueTrigger takes topic references, and `invokes` renders
 * where the callees live (KUBEFAAS_INVOKE_TARGETS), opens the NetworkPolicies from caller to callee
 * only, and lets the caller's NATS user queue async calls to its callees only.
 */
import { Testing } from 'cdk8s';
import { HttpTrigger, NodeFunction, Platform, Queue, QueueTrigger } from '../../constructs';
import { Env } from '../../src/contract';
import { fn, topic } from '../../src/refs';
import { NetworkPolicyEvaluator, allowedConnections, podEndpoints } from '../support/network-policy';
import { INLINE, envOf, errorOf, expectValid, find, newPlatform, synth } from './helpers';

interface Reading {
  city: string;
  tempF: number;
}
const rawReadings = topic<Reading>('weather.raw');
const celsius = topic<{ city: string; tempC: number }>('weather.celsius');
const converter = fn<Reading, { tempC: number }>('converter');

function weatherPlatform(): Platform {
  const platform = newPlatform({ namespace: 'weather', queue: Queue.nats() });
  new NodeFunction(platform, 'converter', { code: INLINE });
  new NodeFunction(platform, 'to-celsius', {
    code: INLINE,
    triggers: [new QueueTrigger({ topic: rawReadings, responseTopic: celsius })],
    publishes: [celsius, 'audit'],
    invokes: [converter, 'converter'],
  });
  new NodeFunction(platform, 'bystander', { code: INLINE, triggers: [new HttpTrigger({ path: '/by' })] });
  return platform;
}

test('invokes renders the callees’ Service URLs into the caller’s env; other functions get none', async () => {
  const objects = synth(weatherPlatform());
  await expectValid(objects);
  const targets = envOf(find(objects, 'Deployment', 'to-celsius')).find((e) => e.name === Env.INVOKE_TARGETS);
  expect(JSON.parse(targets!.value)).toEqual({ converter: 'http://converter.weather.svc.cluster.local:80' });
  for (const other of ['converter', 'bystander'])
    expect(envOf(find(objects, 'Deployment', other)).map((e) => e.name)).not.toContain(Env.INVOKE_TARGETS);
});

test('publishes and invokes keep their names once each, from references and strings alike', () => {
  const platform = weatherPlatform();
  const caller = platform.node.findChild('to-celsius') as NodeFunction;
  expect(caller.publishes).toEqual(['weather.celsius', 'audit']);
  expect(caller.invokes).toEqual(['converter']);
  expect((platform.node.findChild('bystander') as NodeFunction).invokes).toEqual([]);
});

test('a QueueTrigger on a reference consumes the same subject as one on the name', () => {
  const byName = newPlatform({ queue: Queue.nats() }, Testing.app());
  new NodeFunction(byName, 'to-celsius', {
    code: INLINE,
    triggers: [new QueueTrigger({ topic: 'weather.raw', responseTopic: 'weather.celsius' })],
  });
  const byRef = newPlatform({ queue: Queue.nats() }, Testing.app());
  new NodeFunction(byRef, 'to-celsius', {
    code: INLINE,
    triggers: [new QueueTrigger({ topic: rawReadings, responseTopic: celsius })],
  });
  const subscriptions = (p: Platform) =>
    envOf(find(synth(p), 'Deployment', 'to-celsius')).find((e) => e.name === 'KUBEFAAS_SUBSCRIPTIONS')!.value;
  expect(subscriptions(byRef)).toEqual(subscriptions(byName));
  expect(subscriptions(byRef)).toContain('"topics.weather.raw"');
});

test('only the caller may reach its callee’s pods, and only on the runtime port', () => {
  const objects = synth(weatherPlatform());
  const allowed = allowedConnections(new NetworkPolicyEvaluator(objects), podEndpoints(objects)).filter((c) =>
    /^Deployment\/(to-celsius|converter|bystander) -> Deployment\//.test(c),
  );
  expect(allowed).toEqual(['Deployment/to-celsius -> Deployment/converter:8080/TCP']);
});

test('with queue isolation the caller’s NATS user may queue async calls to its callees, and to no one else', () => {
  const objects = synth(weatherPlatform());
  const conf = String(find(objects, 'ConfigMap', 'kubefaas-nats-config').data['nats.conf']);
  const user = (name: string) => conf.split('\n').find((l) => l.includes(`user: "${name}"`))!;
  expect(user('fn-to-celsius')).toContain('"async.converter"');
  expect(user('fn-to-celsius')).not.toContain('"async.bystander"');
  expect(user('fn-bystander')).not.toContain('"async.converter"');
});

test('an invoked function the platform lacks fails synth, naming it and the functions there are', () => {
  const platform = newPlatform();
  new NodeFunction(platform, 'caller', { code: INLINE, invokes: [fn('pricer')] });
  expect(errorOf(() => synth(platform)).message).toContain(
    "`invokes` names function 'pricer', but platform platform has no function of that name. Add the function to the platform, or fix the name (known: caller)",
  );
});

test('bad entries fail at construction with the construct path and the prop', () => {
  const platform = newPlatform({ queue: Queue.nats() });
  expect(errorOf(() => new NodeFunction(platform, 'a', { code: INLINE, invokes: ['Not A Name'] })).message).toBe(
    '[platform/a] `invokes[0]`: invalid function name \'Not A Name\': Use at most 63 lower-case letters, digits and "-", starting with a letter and ending with a letter or digit. Give fn("name") references from kubefaas/refs or function names',
  );
  expect(
    errorOf(() => new NodeFunction(platform, 'b', { code: INLINE, publishes: [converter as never] })).message,
  ).toContain(
    '[platform/b] `publishes[0]`: expected a topic name or a topic() reference, got an object with kind "function"',
  );
  expect(errorOf(() => new NodeFunction(platform, 'c', { code: INLINE, invokes: 'x' as never })).message).toContain(
    '`invokes` must be an array',
  );
  expect(
    errorOf(
      () =>
        new NodeFunction(platform, 'd', { code: INLINE, triggers: [new QueueTrigger({ topic: converter as never })] }),
    ).message,
  ).toContain("QueueTrigger on topic 'converter': topic: expected a topic name or a topic() reference");
});
