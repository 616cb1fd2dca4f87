/**
 * The events example: an order pipeline on the platform's queue (HTTP → `orders` → pricer →
 * `orders.priced`) and a scheduled report. `addEventExamples` adds it to any platform that has a
 * queue (examples/app.ts does with `withQueue`); run alone, this file synthesizes a platform of its own:
 *
 *   kubefaas dev examples/events/app.ts
 *   curl -XPOST localhost:8080/orders -d '{"item":"apple","quantity":3}'
 *   kubefaas invoke report --trigger cron/hourly
 *
 * `pricer` opts in to public async calls (`invocation: { async: true }`). They may name a callback
 * under EVENTS_CALLBACK_PREFIX (default `http://localhost:9000/`, a receiver on the developer's
 * machine: `kubefaas dev` lets callbacks reach loopback, a cluster never does):
 *
 *   curl -XPOST localhost:8080/async-function/pricer -H 'x-callback-url: http://localhost:9000/done' -d '{"item":"pear","quantity":2}'
 */
import * as path from 'node:path';
import { App } from 'cdk8s';
import {
  CallbackPolicy,
  Code,
  CronTrigger,
  Duration,
  HttpTrigger,
  NodeFunction,
  Platform,
  Queue,
  QueueTrigger,
  Size,
  Topic,
} from '../../constructs';

export function addEventExamples(platform: Platform): void {
  new NodeFunction(platform, 'order-intake', {
    code: Code.fromAsset(path.join(__dirname, 'intake.ts')),
    triggers: [new HttpTrigger({ path: '/orders', methods: ['POST'] })],
    // Declared edges of the platform graph: its queue user may publish here and nowhere else.
    publishes: ['orders'],
  });
  new NodeFunction(platform, 'pricer', {
    code: Code.fromAsset(path.join(__dirname, 'pricer.ts')),
    // Public async calls (POST /async-function/pricer); nothing else of it is public (it has no route).
    invocation: { async: true },
    triggers: [
      new QueueTrigger({
        topic: 'orders',
        responseTopic: 'orders.priced',
        errorTopic: 'orders.failed',
        maxRetries: 2,
        backoff: [Duration.seconds(1), Duration.seconds(5)],
      }),
    ],
  });
  new NodeFunction(platform, 'report', {
    code: Code.fromAsset(path.join(__dirname, 'report.ts')),
    triggers: [
      new CronTrigger({ schedule: '0 * * * *', timeZone: 'UTC', name: 'hourly', data: { report: 'orders-per-hour' } }),
    ],
    publishes: ['reports'],
  });
  // Read outside the platform (a billing system, a dashboard): no consumer here, on purpose.
  new Topic(platform, 'orders.priced', { external: true });
  new Topic(platform, 'reports', { external: true });
}

export function buildEventsApp(app: App, namespace = 'kubefaas-events'): Platform {
  const platform = new Platform(app, 'events', {
    namespace,
    router: {
      replicas: { min: 1, max: 1 },
      callbacks: CallbackPolicy.allow([process.env.EVENTS_CALLBACK_PREFIX ?? 'http://localhost:9000/']),
    },
    queue: Queue.nats({ storage: Size.gibibytes(5), retention: Duration.days(3) }),
    functionDefaults: { timeout: Duration.seconds(10) },
  });
  addEventExamples(platform);
  return platform;
}

if (require.main === module) {
  const app = new App();
  buildEventsApp(app);
  app.synth();
}
