import { Testing } from 'cdk8s';
import { buildExampleApp } from '../../examples/app';
import { buildEventsApp } from '../../examples/events/app';
import { QueueEnv, type QueueSubscription } from '../../src/contract';
import { envOf, find, synth } from '../constructs/helpers';
import { expectValidManifests } from '../support/validate';

describe('events example', () => {
  it('synthesizes valid manifests: queue, pipeline subscriptions and the cron job', async () => {
    const objects = synth(buildEventsApp(Testing.app()));
    await expectValidManifests(objects);
    find(objects, 'StatefulSet', 'kubefaas-nats');
    find(objects, 'CronJob', 'report-cron-hourly');
    const subs = JSON.parse(
      envOf(find(objects, 'Deployment', 'pricer')).find((e) => e.name === QueueEnv.SUBSCRIPTIONS)!.value,
    ) as QueueSubscription[];
    expect(subs.map((s) => `${s.kind}:${s.subject}`)).toEqual(['async:async.pricer', 'topic:topics.orders']);
    // The router stores async calls in the queue.
    expect(envOf(find(objects, 'Deployment', 'kubefaas-router')).map((e) => e.name)).toEqual(
      expect.arrayContaining([QueueEnv.NATS_URL, QueueEnv.QUEUE_CONFIG]),
    );
  });

  it('joins the main example app with withQueue, and stays out of it by default', async () => {
    const withQueue = synth(buildExampleApp(Testing.app(), { withQueue: true }));
    await expectValidManifests(withQueue);
    expect(withQueue.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name)).toEqual(
      expect.arrayContaining(['hello', 'order-intake', 'pricer', 'report']),
    );
    const plain = synth(buildExampleApp(Testing.app()));
    expect(plain.some((o) => o.kind === 'StatefulSet' || o.kind === 'CronJob')).toBe(false);
    expect(envOf(find(plain, 'Deployment', 'hello')).some((e) => e.name === QueueEnv.NATS_URL)).toBe(false);
  });
});
