import { Duration, Testing } from 'cdk8s';
import fc from 'fast-check';
import {
  ContainerFunction,
  CronTrigger,
  NodeFunction,
  Platform,
  Queue,
  QueueTrigger,
  Size,
  type PlatformProps,
} from '../../constructs';
import { readCronTick } from '../../src/cron/tick';
import { QueueEnv, type QueueSubscription } from '../../src/contract';
import { container, envOf, errorOf, find, INLINE, synth, codeMap } from '../constructs/helpers';
import { expectValidManifests } from '../support/validate';

function platform(props: PlatformProps = {}): Platform {
  return new Platform(Testing.app(), 'platform', { namespace: 'faas', ...props });
}

function subscriptionsOf(objects: readonly Record<string, any>[], fn: string): QueueSubscription[] {
  const value = envOf(find(objects, 'Deployment', fn)).find((e) => e.name === QueueEnv.SUBSCRIPTIONS)?.value;
  return value === undefined ? [] : JSON.parse(value);
}

describe('QueueTrigger', () => {
  it('registers a durable topic subscription and renders the queue env on the function', async () => {
    const p = platform({ queue: Queue.nats() });
    const fn = new NodeFunction(p, 'pricer', { code: INLINE, timeout: Duration.seconds(20) });
    fn.addTrigger(
      new QueueTrigger({
        topic: 'orders.created',
        responseTopic: 'orders.priced',
        maxRetries: 2,
        backoff: [Duration.seconds(2), Duration.seconds(20)],
      }),
    );
    const objects = synth(p);
    await expectValidManifests(objects);

    const env = envOf(find(objects, 'Deployment', 'pricer'));
    expect(env.find((e) => e.name === QueueEnv.NATS_URL)?.value).toBe(
      'nats://kubefaas-nats.faas.svc.cluster.local:4222',
    );
    expect(JSON.parse(env.find((e) => e.name === QueueEnv.QUEUE_CONFIG)!.value)).toMatchObject({
      topicsStream: 'KUBEFAAS_TOPICS',
      replicas: 1,
    });
    const subs = subscriptionsOf(objects, 'pricer');
    expect(subs).toEqual([
      expect.objectContaining({ kind: 'async', subject: 'async.pricer', durable: 'pricer_async', ackWaitMs: 25_000 }),
      {
        kind: 'topic',
        subject: 'topics.orders.created',
        durable: 'pricer_topic_orders_created',
        trigger: 'orders.created',
        maxInFlight: 16,
        ackWaitMs: 25_000,
        maxRetries: 2,
        backoffMs: [2000, 20_000],
        responseSubject: 'topics.orders.priced',
        deadLetterSubject: 'topics.dead-letter.pricer',
        ordered: false,
      },
    ]);
  });

  it('processes ordered triggers one at a time', () => {
    const p = platform({ queue: Queue.nats() });
    new NodeFunction(p, 'ledger', {
      code: INLINE,
      triggers: [new QueueTrigger({ topic: 'payments', ordered: true, errorTopic: 'payments-failed' })],
    });
    const sub = subscriptionsOf(synth(p), 'ledger').find((s) => s.kind === 'topic')!;
    expect(sub).toMatchObject({
      ordered: true,
      maxInFlight: 1,
      deadLetterSubject: 'topics.payments-failed',
      maxRetries: 3,
      backoffMs: [1000, 5000, 30_000],
    });
  });

  it('fails synth with the construct path when the platform has no queue', () => {
    const p = platform();
    const error = errorOf(
      () => new NodeFunction(p, 'pricer', { code: INLINE, triggers: [new QueueTrigger({ topic: 'orders' })] }),
    );
    expect(error.message).toBe(
      '[platform/pricer] QueueTrigger on topic \'orders\' needs a queue, but platform platform has none. Give the platform a queue: new Platform(app, "faas", { queue: Queue.nats() })',
    );
  });

  it('refuses ContainerFunctions (their image has no queue consumer)', () => {
    const p = platform({ queue: Queue.nats() });
    const error = errorOf(
      () =>
        new ContainerFunction(p, 'img', {
          image: 'ghcr.io/acme/fn:1.0.0',
          triggers: [new QueueTrigger({ topic: 'orders' })],
        }),
    );
    expect(error.message).toContain("[platform/img] QueueTrigger on topic 'orders': only NodeFunctions consume queues");
  });

  it.each([
    [{ topic: 'has space' }, "topic: invalid topic 'has space'"],
    [{ topic: 'orders.>' }, "invalid topic 'orders.>'"],
    [{ topic: 'orders', maxInFlight: 0 }, 'maxInFlight must be a whole number between 1 and 1000, got 0'],
    [
      { topic: 'orders', ordered: true, maxInFlight: 4 },
      'an ordered trigger handles one message at a time, but maxInFlight is 4',
    ],
    [{ topic: 'orders', maxRetries: -1 }, 'maxRetries must be a whole number between 0 and 100'],
    [
      { topic: 'orders', maxRetries: 1, backoff: [Duration.seconds(1), Duration.seconds(2)] },
      'backoff has 2 delays but maxRetries is 1',
    ],
    [
      { topic: 'orders', backoff: [Duration.hours(2)] },
      'backoff[0] must be a whole number of milliseconds between 0 and 1 hour',
    ],
    [{ topic: 'orders', responseTopic: 'orders' }, 'the responseTopic is the consumed topic itself'],
    [{ topic: 'orders', errorTopic: 'orders' }, 'the errorTopic is the consumed topic itself'],
  ])('refuses %o', (props, message) => {
    const p = platform({ queue: Queue.nats() });
    const error = errorOf(() => new NodeFunction(p, 'pricer', { code: INLINE, triggers: [new QueueTrigger(props)] }));
    expect(error.message).toContain('[platform/pricer]');
    expect(error.message).toContain(message);
  });

  it('refuses the same topic twice on one function', () => {
    const p = platform({ queue: Queue.nats() });
    const fn = new NodeFunction(p, 'pricer', { code: INLINE, triggers: [new QueueTrigger({ topic: 'orders' })] });
    expect(errorOf(() => fn.addTrigger(new QueueTrigger({ topic: 'orders' }))).message).toContain(
      'consumes topics.orders, which the function already consumes',
    );
  });

  it('random options either synthesize valid subscriptions or fail with a validation error', () => {
    const props = fc.record(
      {
        topic: fc.oneof(fc.constantFrom('orders', 'a.b', 'x_y-z'), fc.string({ maxLength: 12 })),
        maxInFlight: fc.integer({ min: -2, max: 1200 }),
        maxRetries: fc.integer({ min: -1, max: 120 }),
        ordered: fc.boolean(),
        backoff: fc.array(
          fc.oneof(fc.integer({ min: 0, max: 4_000_000 }), fc.constant(0.5)).map((ms) => Duration.millis(ms)),
          { maxLength: 5 },
        ),
      },
      { requiredKeys: ['topic'] },
    );
    fc.assert(
      fc.property(props, (p) => {
        const app = platform({ queue: Queue.nats() });
        try {
          new NodeFunction(app, 'fn', { code: INLINE, triggers: [new QueueTrigger(p)] });
        } catch (err) {
          expect((err as Error).name).toBe('ValidationError');
          return;
        }
        const sub = subscriptionsOf(synth(app), 'fn').find((s) => s.kind === 'topic')!;
        expect(sub.maxInFlight).toBeGreaterThanOrEqual(1);
        expect(sub.backoffMs.length).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 60 },
    );
  });
});

describe('CronTrigger', () => {
  it('emits a CronJob that delivers through the router when the platform has no queue', async () => {
    const p = platform();
    new NodeFunction(p, 'report', {
      code: INLINE,
      triggers: [
        new CronTrigger({
          schedule: '0 2 * * MON-FRI',
          timeZone: 'Europe/Berlin',
          name: 'nightly',
          data: { kind: 'daily' },
          startingDeadline: Duration.minutes(5),
        }),
      ],
    });
    const objects = synth(p);
    await expectValidManifests(objects);
    const cron = find(objects, 'CronJob', 'report-cron-nightly');
    expect(cron.spec).toMatchObject({
      schedule: '0 2 * * MON-FRI',
      timeZone: 'Europe/Berlin',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
    });
    expect(cron.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 2, ttlSecondsAfterFinished: 600 });
    const c = cron.spec.jobTemplate.spec.template.spec.containers[0];
    expect(c.command).toEqual(['node', '/var/kubefaas/cron/cron.js']);
    expect(c.resources).toEqual({ requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '64Mi' } });
    const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({
      KUBEFAAS_CRON_FUNCTION: 'report',
      KUBEFAAS_CRON_TRIGGER: 'nightly',
      KUBEFAAS_CRON_DATA: '{"kind":"daily"}',
      // The router's admin listener: every function by name, whatever its public invocation.
      KUBEFAAS_ROUTER_URL: 'http://kubefaas-router-admin.faas.svc.cluster.local:8081',
    });
    expect(env[QueueEnv.NATS_URL]).toBeUndefined();
    expect(codeMap(objects, 'kubefaas-cron').data['cron.js'].length).toBeGreaterThan(100);
    // A cron pod must never be selected by the function's Service.
    expect(cron.spec.jobTemplate.spec.template.metadata.labels['kubefaas.dev/function']).toBeUndefined();
  });

  it('publishes through JetStream and subscribes the function when the platform has a queue', async () => {
    const p = platform({ queue: Queue.nats() });
    new NodeFunction(p, 'report', { code: INLINE, triggers: [new CronTrigger({ schedule: '*/5 * * * *' })] });
    const objects = synth(p);
    await expectValidManifests(objects);
    const c = container({
      spec: { template: find(objects, 'CronJob', 'report-cron-tick').spec.jobTemplate.spec.template },
    });
    const names = c.env.map((e: { name: string }) => e.name);
    expect(names).toEqual(expect.arrayContaining([QueueEnv.NATS_URL, QueueEnv.QUEUE_CONFIG]));
    expect(names).not.toContain('KUBEFAAS_ROUTER_URL');
    expect(subscriptionsOf(objects, 'report').find((s) => s.kind === 'cron')).toMatchObject({
      subject: 'cron.report.tick',
      durable: 'report_cron_tick',
      trigger: 'tick',
      maxInFlight: 1,
    });
  });

  it.each([
    [{ schedule: '* * * * * *' }, "CronTrigger 'tick': invalid schedule: schedule '* * * * * *' has 6 fields"],
    [{ schedule: '0 2 * * 7' }, 'day of week 7 is out of range 0-6'],
    [{ schedule: '0 2 * * *', timeZone: 'Mars/Olympus' }, "invalid timeZone: time zone 'Mars/Olympus' is unknown"],
    [{ schedule: '0 2 * * *', name: 'Nightly' }, "name 'Nightly' is not a DNS-1123 label"],
    [
      { schedule: '0 2 * * *', concurrencyPolicy: 'Sometimes' as 'Allow' },
      "concurrencyPolicy 'Sometimes' is not one of Forbid, Allow, Replace",
    ],
    [
      { schedule: '0 2 * * *', startingDeadline: Duration.seconds(3) },
      'startingDeadline must be a whole number of seconds, at least 10',
    ],
    [
      { schedule: '0 2 * * *', name: 'a-very-long-trigger-name-that-will-not-fit-here' },
      'over the 52 Kubernetes allows',
    ],
  ])('fails synth with a clear message naming the construct path: %o', (props, message) => {
    const p = platform();
    const error = errorOf(() => new NodeFunction(p, 'report', { code: INLINE, triggers: [new CronTrigger(props)] }));
    expect(error.name).toBe('ValidationError');
    expect(error.message).toContain('[platform/report]');
    expect(error.message).toContain(message);
  });

  it("checks at synth that every tick fits the function's body limit, to the byte the sender delivers", () => {
    const trigger = (n: number): CronTrigger =>
      new CronTrigger({ schedule: '0 2 * * *', timeZone: 'Europe/Berlin', data: { text: 'x'.repeat(n) } });
    /** The body the cron sender builds from the synthesized CronJob's env (at any time: `firedAt` has a fixed length). */
    const tickSize = (n: number): number => {
      const p = platform();
      new NodeFunction(p, 'report', { code: INLINE, triggers: [trigger(n)] });
      const env = Object.fromEntries(
        container({ spec: { template: find(synth(p), 'CronJob', 'report-cron-tick').spec.jobTemplate.spec.template } })
          .env.filter((e: { value?: string }) => e.value !== undefined)
          .map((e: { name: string; value: string }) => [e.name, e.value]),
      );
      return Buffer.byteLength(JSON.stringify(readCronTick(env, new Date('2031-07-04T12:34:56.789Z')).data));
    };
    // Data that makes the tick exactly 1 KiB, the function's limit.
    const n = 1024 - tickSize(0);
    expect(tickSize(n)).toBe(1024);

    const fits = platform();
    new NodeFunction(fits, 'report', { code: INLINE, maxBodySize: Size.kibibytes(1), triggers: [trigger(n)] });
    expect(synth(fits).some((o) => o.kind === 'CronJob')).toBe(true);
    const over = platform();
    const error = errorOf(
      () =>
        new NodeFunction(over, 'report', { code: INLINE, maxBodySize: Size.kibibytes(1), triggers: [trigger(n + 1)] }),
    );
    expect(error.message).toContain('[platform/report]');
    expect(error.message).toContain(
      "CronTrigger 'tick': its tick event is 1025 bytes, over the function's maxBodySize of 1024 bytes",
    );
  });

  it('needs distinct names for several cron triggers of one function', () => {
    const p = platform();
    const fn = new NodeFunction(p, 'report', { code: INLINE, triggers: [new CronTrigger({ schedule: '@daily' })] });
    expect(errorOf(() => fn.addTrigger(new CronTrigger({ schedule: '@hourly' }))).message).toContain(
      "the function already has a cron trigger named 'tick'",
    );
    fn.addTrigger(new CronTrigger({ schedule: '@hourly', name: 'hourly' }));
    expect(
      synth(p)
        .filter((o) => o.kind === 'CronJob')
        .map((o) => o.metadata.name),
    ).toEqual(['report-cron-tick', 'report-cron-hourly']);
  });
});

describe('CronJob startingDeadlineSeconds (issue 13, item 7)', () => {
  test('every CronJob has one: 300 s unless the trigger sets its own', () => {
    const app = Testing.app();
    const platform = new Platform(app, 'faas', { namespace: 'faas' });
    new NodeFunction(platform, 'clock', { code: INLINE, triggers: [new CronTrigger({ schedule: '*/5 * * * *' })] });
    const cronJob = synth(platform).find((o) => o.kind === 'CronJob');
    expect(cronJob?.spec.startingDeadlineSeconds).toBe(300);
  });
});
