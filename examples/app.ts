/**
 * The example platform: what `cdk8s synth` renders (see cdk8s.yaml), what `npm start` runs locally,
 * and what the Pulumi example program deploys per environment.
 */
import * as path from 'node:path';
import { App } from 'cdk8s';
import {
  Code,
  Duration,
  EnvValue,
  HttpTrigger,
  NodeFunction,
  Platform,
  PythonFunction,
  PythonRuntime,
  Queue,
  RouterExposure,
  Size,
} from '../constructs';
import { addEventExamples } from './events/app';

export interface ExampleAppOptions {
  /** @default 'kubefaas' */
  readonly namespace?: string;
  /** @default { min: 1, max: 1 } */
  readonly routerReplicas?: { readonly min: number; readonly max: number };
  /** @default RouterExposure.clusterIp() */
  readonly exposure?: RouterExposure;
  /** Upper bound of every example function's autoscaler. @default 3 */
  readonly functionMaxReplicas?: number;
  /** Node image override for the router and Node functions. @default the platform's pinned image */
  readonly nodeImage?: string;
  /** Where the analytics function stores documents. @default 'redis://redis.<namespace>.svc.cluster.local:6379' */
  readonly redisUrl?: string;
  /** A Secret with key REDIS_PASSWORD for the analytics function. @default no password */
  readonly analyticsSecretName?: string;
  /**
   * Give the platform a NATS JetStream queue and add the events example (examples/events: an order
   * pipeline on queue triggers and a cron-triggered report). Locally this needs nats-server.
   * @default false
   */
  readonly withQueue?: boolean;
}

export function buildExampleApp(app: App, options: ExampleAppOptions = {}): Platform {
  const namespace = options.namespace ?? 'kubefaas';
  const maxReplicas = options.functionMaxReplicas ?? 3;
  const platform = new Platform(app, 'kubefaas', {
    namespace: { name: namespace },
    nodeImage: options.nodeImage,
    router: {
      replicas: options.routerReplicas ?? { min: 1, max: 1 },
      exposure: options.exposure ?? RouterExposure.clusterIp(),
    },
    functionDefaults: { timeout: Duration.seconds(10), memory: Size.mebibytes(128) },
    ...(options.withQueue ? { queue: Queue.nats({ storage: Size.gibibytes(5) }) } : {}),
  });
  if (options.withQueue) addEventExamples(platform);

  new NodeFunction(platform, 'hello', {
    code: Code.fromAsset(path.join(__dirname, 'hello', 'handler.ts')),
    env: { TARGET: 'Yeah, it works!!!' },
    scaling: { minReplicas: 1, maxReplicas },
    // Also public by name: /function/hello (GET and POST, the methods of its route). The other
    // functions are public only at their routes; `kubefaas invoke <name>` reaches every one.
    invocation: { byName: true },
    triggers: [new HttpTrigger({ path: '/hello', methods: ['GET', 'POST'] })],
  });

  new NodeFunction(platform, 'analytics', {
    code: Code.fromAsset(path.join(__dirname, 'analytics', 'handler.ts')),
    env: {
      REDIS_URL: options.redisUrl ?? `redis://redis.${namespace}.svc.cluster.local:6379`,
      ...(options.analyticsSecretName
        ? { REDIS_PASSWORD: EnvValue.fromSecret(options.analyticsSecretName, 'REDIS_PASSWORD') }
        : {}),
    },
    memory: Size.mebibytes(192),
    scaling: { minReplicas: 1, maxReplicas },
    triggers: [new HttpTrigger({ path: '/analytics', methods: ['POST'] })],
  });

  // A function in Python, from source: handler.py travels in a ConfigMap and runs on the official
  // python image (no image to build). Locally it runs on the developer's python3.
  new PythonFunction(platform, 'clock', {
    code: Code.fromAsset(path.join(__dirname, 'clock')),
    handler: 'handler.main',
    runtime: PythonRuntime.PYTHON_3_13,
    scaling: { minReplicas: 1, maxReplicas },
    triggers: [new HttpTrigger({ path: '/clock', methods: ['GET', 'POST'] })],
  });

  return platform;
}

if (require.main === module) {
  const app = new App();
  buildExampleApp(app);
  app.synth();
}
