/**
 * Escape hatches: the cdk8s ApiObjects of a function (Deployment, Service, ServiceAccount) and of the
 * router, patched the way cdk8s users patch anything (`addJsonPatch`); the patch lands in the output.
 */
import { JsonPatch } from 'cdk8s';
import { ContainerFunction, FunctionServiceAccount, HttpTrigger, NodeFunction } from '../../constructs';
import { expectValid, find, INLINE, newPlatform, synth } from './helpers';

test('fn.deployment and fn.service are the synthesized objects; a JSON patch on them lands in the output', async () => {
  const platform = newPlatform();
  const fn = new NodeFunction(platform, 'hello', { code: INLINE, triggers: [new HttpTrigger({ path: '/hello' })] });
  fn.deployment.addJsonPatch(JsonPatch.add('/spec/template/spec/priorityClassName', 'high'));
  fn.deployment.addJsonPatch(JsonPatch.add('/spec/revisionHistoryLimit', 3));
  fn.service.addJsonPatch(JsonPatch.add('/metadata/annotations', { 'example.com/team': 'shop' }));
  expect(fn.deployment.kind).toBe('Deployment');
  expect(fn.deployment.name).toBe('hello');
  expect(fn.service.kind).toBe('Service');
  expect(fn.serviceAccount).toBeUndefined();

  const objects = synth(platform);
  const deployment = find(objects, 'Deployment', 'hello');
  expect(deployment.spec.template.spec.priorityClassName).toBe('high');
  expect(deployment.spec.revisionHistoryLimit).toBe(3);
  expect(find(objects, 'Service', 'hello').metadata.annotations).toEqual({ 'example.com/team': 'shop' });
  await expectValid(objects);
});

test('platform.router gives the router Deployment, Service and routes ConfigMap', async () => {
  const platform = newPlatform();
  new ContainerFunction(platform, 'img', { image: 'ghcr.io/example/img:1.0.0' });
  expect([platform.router.deployment.kind, platform.router.service.kind, platform.router.routes.kind]).toEqual([
    'Deployment',
    'Service',
    'ConfigMap',
  ]);
  platform.router.deployment.addJsonPatch(
    JsonPatch.add('/spec/template/spec/topologySpreadConstraints', [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { 'kubefaas.dev/component': 'router' } },
      },
    ]),
  );
  platform.router.service.addJsonPatch(JsonPatch.add('/spec/sessionAffinity', 'None'));
  const objects = synth(platform);
  const router = find(objects, 'Deployment', 'kubefaas-router');
  expect(router.spec.template.spec.topologySpreadConstraints[0].topologyKey).toBe('topology.kubernetes.io/zone');
  expect(find(objects, 'Service', 'kubefaas-router').spec.sessionAffinity).toBe('None');
  await expectValid(objects);
});

test('fn.serviceAccount is the created ServiceAccount object', async () => {
  const platform = newPlatform();
  const fn = new NodeFunction(platform, 'reader', { code: INLINE, serviceAccount: FunctionServiceAccount.create() });
  expect(fn.serviceAccount?.kind).toBe('ServiceAccount');
  fn.serviceAccount?.addJsonPatch(JsonPatch.add('/imagePullSecrets', [{ name: 'registry' }]));
  const objects = synth(platform);
  expect(find(objects, 'ServiceAccount', 'reader').imagePullSecrets).toEqual([{ name: 'registry' }]);
  await expectValid(objects, { externalSecrets: ['registry'] });
});
