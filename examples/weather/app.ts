/**
 * The weather pipeline on typed references (docs/composition.md): HTTP → `weather.raw` → to-celsius,
 * which calls `converter` synchronously and publishes to `weather.celsius`; and a sync HTTP front for
 * the converter. Every topic and function is named once, in model.ts.
 *
 *   kubefaas dev examples/weather/app.ts        (needs nats-server)
 *   curl localhost:8080/convert/oslo?tempF=50
 *   curl -XPOST localhost:8080/readings -d '{"city":"oslo","tempF":50}'
 */
import * as path from 'node:path';
import { App } from 'cdk8s';
import {
  Code,
  Duration,
  HttpTrigger,
  NodeFunction,
  Platform,
  Queue,
  QueueTrigger,
  Size,
  Topic,
} from '../../constructs';
import { celsius, converter, rawReadings } from './model';

const code = (name: string) => Code.fromAsset(path.join(__dirname, `${name}.ts`));

export function addWeatherExample(platform: Platform): void {
  new NodeFunction(platform, 'readings', {
    code: code('readings'),
    triggers: [new HttpTrigger({ path: '/readings', methods: ['POST'] })],
    publishes: [rawReadings],
  });
  new NodeFunction(platform, 'to-celsius', {
    code: code('to-celsius'),
    triggers: [new QueueTrigger({ topic: rawReadings, maxRetries: 2 })],
    publishes: [celsius],
    invokes: [converter],
  });
  new NodeFunction(platform, 'converter', { code: code('converter') });
  new NodeFunction(platform, 'convert', {
    code: code('convert'),
    triggers: [new HttpTrigger({ path: '/convert/:city', methods: ['GET'] })],
    invokes: [converter],
  });
  // Read outside the platform (dashboards): no function here consumes it, on purpose.
  new Topic(platform, celsius, { external: true });
}

export function buildWeatherApp(app: App, namespace = 'kubefaas-weather'): Platform {
  const platform = new Platform(app, 'weather', {
    namespace,
    router: { replicas: { min: 1, max: 1 } },
    queue: Queue.nats({ storage: Size.gibibytes(1) }),
    functionDefaults: { timeout: Duration.seconds(10) },
  });
  addWeatherExample(platform);
  return platform;
}

if (require.main === module) {
  const app = new App();
  buildWeatherApp(app);
  app.synth();
}
