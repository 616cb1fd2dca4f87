/**
 * Issue 13 item 2: the in-process drain and grace come from the manifest, and the pod's
 * terminationGracePeriodSeconds is computed from the same numbers (constructs/shutdown.ts).
 */
import { ContainerFunction, Duration, HttpTrigger, NodeFunction, Placement } from '../../constructs';
import { ShutdownDefaults, shutdownTiming } from '../../constructs/shutdown';
import { Env } from '../../src/contract';
import { container, envOf, expectValid, find, INLINE, newPlatform, synth } from '../constructs/helpers';

function envValue(deployment: Record<string, any>, name: string): string | undefined {
  return envOf(deployment).find((e) => e.name === name)?.value;
}

test('a 15-minute NodeFunction: the runtime drains 10 s, waits for the call up to its timeout, and the pod allows exactly that', async () => {
  const platform = newPlatform();
  new NodeFunction(platform, 'long', {
    code: INLINE,
    timeout: Duration.minutes(15),
    triggers: [new HttpTrigger({ path: '/long' })],
  });
  new NodeFunction(platform, 'short', {
    code: INLINE,
    timeout: Duration.seconds(3),
    triggers: [new HttpTrigger({ path: '/short' })],
  });
  const objects = synth(platform);

  const long = find(objects, 'Deployment', 'long');
  expect(envValue(long, Env.DRAIN_DELAY_MS)).toBe(String(ShutdownDefaults.drainDelayMs));
  expect(envValue(long, Env.SHUTDOWN_GRACE_MS)).toBe(String(15 * 60_000 + ShutdownDefaults.graceMarginMs));
  // drain 10 s + grace 901 s + exit margin 5 s; the old hard-coded 25 s in-process grace is gone.
  expect(long.spec.template.spec.terminationGracePeriodSeconds).toBe(10 + 901 + 5);
  expect(container(long).lifecycle).toBeUndefined(); // our runtime drains in-process

  const short = find(objects, 'Deployment', 'short');
  expect(envValue(short, Env.SHUTDOWN_GRACE_MS)).toBe('4000');
  expect(short.spec.template.spec.terminationGracePeriodSeconds).toBe(
    shutdownTiming(3000).terminationGracePeriodSeconds,
  );

  // The router proxies calls as long as the slowest function's (plus its upstream margin of 1 s).
  const router = find(objects, 'Deployment', 'kubefaas-router');
  expect(envValue(router, Env.DRAIN_DELAY_MS)).toBe(String(ShutdownDefaults.drainDelayMs));
  expect(envValue(router, Env.SHUTDOWN_GRACE_MS)).toBe(String(15 * 60_000 + 1000 + ShutdownDefaults.graceMarginMs));
  expect(router.spec.template.spec.terminationGracePeriodSeconds).toBe(10 + 902 + 5);
  await expectValid(objects);
});

test('a ContainerFunction gets a native preStop sleep of the drain delay (not on AKS virtual nodes v1, which rejects hooks)', async () => {
  const platform = newPlatform();
  new ContainerFunction(platform, 'img', { image: 'registry.example.com/img:1.0', timeout: Duration.seconds(40) });
  new ContainerFunction(platform, 'aci', {
    image: 'registry.example.com/img:1.0',
    placement: Placement.azureVirtualNode({ version: 'v1' }),
  });
  const objects = synth(platform);
  const img = find(objects, 'Deployment', 'img');
  expect(container(img).lifecycle).toEqual({ preStop: { sleep: { seconds: 10 } } });
  expect(envValue(img, Env.DRAIN_DELAY_MS)).toBeUndefined(); // not our process: nothing reads it
  expect(img.spec.template.spec.terminationGracePeriodSeconds).toBe(10 + 41 + 5);
  expect(container(find(objects, 'Deployment', 'aci')).lifecycle).toBeUndefined();
  await expectValid(objects);
});
