/** Planning the queue and CronJobs for the local runner (pure: nothing is started). */
import { Testing } from 'cdk8s';
import { Code, NodeFunction, Platform } from '../../constructs';
import { Queue } from '../../constructs/queue';
import { CronEnv, Env, QueueEnv } from '../../src/contract';
import { Manifests, type KubeObject } from '../../src/local/manifests';
import { findOnPath, isNatsImage } from '../../src/local/nats';
import { planLocalRun } from '../../src/local/plan';

function synthQueuePlatform(replicas: 1 | 3 = 1): KubeObject[] {
  const platform = new Platform(Testing.app(), 'platform', { namespace: 'faas', queue: Queue.nats({ replicas }) });
  new NodeFunction(platform, 'hello', {
    code: Code.fromInline('module.exports = async () => "hi";'),
    env: { BROKER: 'nats://kubefaas-nats.faas.svc.cluster.local:4222' },
  });
  return Testing.synth(platform) as KubeObject[];
}

const cronJob: KubeObject = {
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'hello-cron-tick', namespace: 'faas' },
  spec: {
    schedule: '*/5 * * * *',
    timeZone: 'Europe/Berlin',
    concurrencyPolicy: 'Replace',
    jobTemplate: {
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'cron',
                image: 'node:22.20.0-alpine',
                command: ['node', '/var/kubefaas/cron/cron.js'],
                env: [
                  { name: CronEnv.FUNCTION, value: 'hello' },
                  { name: CronEnv.TRIGGER, value: 'tick' },
                  { name: QueueEnv.NATS_URL, value: 'nats://kubefaas-nats.faas.svc.cluster.local:4222' },
                ],
                volumeMounts: [{ name: 'code', mountPath: '/var/kubefaas/cron' }],
              },
            ],
            volumes: [{ name: 'code', configMap: { name: 'kubefaas-cron' } }],
          },
        },
      },
    },
  },
};
const cronCode: KubeObject = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'kubefaas-cron', namespace: 'faas' },
  data: { 'cron.js': 'console.log(1)' },
};

function plan(objects: KubeObject[]) {
  const ports = new Map<string, number>();
  let next = 40000;
  for (const o of objects)
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') ports.set(o.metadata!.name!, next++);
  return {
    ports,
    plan: planLocalRun(new Manifests(objects), {
      runDir: '/run/kf',
      projectDir: '/project',
      routerPort: 8080,
      routerAdminPort: 8081,
      ports,
      developerEnv: { PATH: '/usr/bin' },
    }),
  };
}

describe('local plan: queue', () => {
  it.each([1, 3] as const)('runs one local nats-server for the %i-replica NATS StatefulSet', (replicas) => {
    const { ports, plan: p } = plan(synthQueuePlatform(replicas));
    const nats = p.processes.find((x) => x.name === 'kubefaas-nats')!;
    expect(nats).toMatchObject({
      isQueue: true,
      command: 'nats-server',
      args: ['-c', '/run/kf/kubefaas-nats/volumes/local-config/nats.conf'],
      readiness: { kind: 'tcp' },
    });
    const config = nats.volumes
      .find((v) => v.name === 'local-config')!
      .files!.get('nats.conf')!
      .toString();
    expect(config).toContain(`listen: 127.0.0.1:${ports.get('kubefaas-nats')}`);
    expect(config).toContain('store_dir: "/run/kf/kubefaas-nats/volumes/jetstream"');
    // Taken from the app's nats.conf; the cluster routes are not.
    expect(config).toContain('max_payload: 8MB');
    expect(config).not.toContain('cluster');
    // Every NATS address in env now points at the local server.
    const hello = p.processes.find((x) => x.name === 'hello')!;
    expect(hello.env.BROKER).toBe(`nats://127.0.0.1:${ports.get('kubefaas-nats')}`);
    expect(p.services).toContainEqual({
      service: 'kubefaas-nats',
      namespace: 'faas',
      port: 4222,
      localPort: ports.get('kubefaas-nats'),
    });
    expect(p.warnings.filter((w) => w.includes('kubefaas-nats'))).toEqual([]);
    expect(p.skipped).toEqual([]);
  });

  it('recognizes the official nats image, and only it', () => {
    expect(['nats:2.14.2-alpine', 'docker.io/library/nats:2.10', 'nats@sha256:abcd'].every(isNatsImage)).toBe(true);
    expect(['natsio/nats-box:0.14', 'ghcr.io/acme/nats:1', 'node:22'].some(isNatsImage)).toBe(false);
  });

  it('finds executables on PATH', () => {
    expect(findOnPath('node', process.env.PATH)).toBeDefined();
    expect(findOnPath('definitely-not-a-command-kf', process.env.PATH)).toBeUndefined();
  });
});

describe('local plan: CronJobs', () => {
  it('plans the CronJob pod as a one-shot process with the same env, volume and address rewriting', () => {
    const { ports, plan: p } = plan([...synthQueuePlatform(), cronJob, cronCode]);
    expect(p.cronJobs).toHaveLength(1);
    const c = p.cronJobs[0];
    expect(c).toMatchObject({
      name: 'hello-cron-tick',
      schedule: '*/5 * * * *',
      timeZone: 'Europe/Berlin',
      concurrencyPolicy: 'Replace',
      suspend: false,
      function: 'hello',
      trigger: 'tick',
    });
    expect(c.process.command).toBe(process.execPath);
    expect(c.process.args).toEqual(['/run/kf/hello-cron-tick/volumes/code/cron.js']);
    expect(c.process.volumes[0].files!.get('cron.js')!.toString()).toBe('console.log(1)');
    expect(c.process.env[QueueEnv.NATS_URL]).toBe(`nats://127.0.0.1:${ports.get('kubefaas-nats')}`);
    // A job serves nothing: no PORT.
    expect(c.process.env[Env.PORT]).toBeUndefined();
  });

  it('reports a CronJob whose ConfigMap is missing, naming it', () => {
    expect(() => plan([cronJob])).toThrow(
      /hello-cron-tick: volume "code" mounts ConfigMap "kubefaas-cron", which is not in the synthesized manifests/,
    );
  });
});
