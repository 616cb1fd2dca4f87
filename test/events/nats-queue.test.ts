import { Duration, Size, Testing } from 'cdk8s';
import { Platform, type PlatformProps } from '../../constructs';
import { Queue, type NatsQueueOptions } from '../../constructs/queue';
import { queueOf } from '../../constructs/queue/registry';
import { expectValidManifests } from '../support/validate';
import { errorOf, find, maybeFind, synth } from '../constructs/helpers';

function platformWithQueue(options: NatsQueueOptions = {}, props: PlatformProps = {}): Platform {
  return new Platform(Testing.app(), 'platform', { namespace: 'faas', ...props, queue: Queue.nats(options) });
}

describe('Queue.nats', () => {
  it('synthesizes a single NATS server with JetStream on a persistent volume', async () => {
    const platform = platformWithQueue({ storage: Size.gibibytes(5), storageClass: 'fast-ssd' });
    const objects = synth(platform);
    await expectValidManifests(objects);

    const config = find(objects, 'ConfigMap', 'kubefaas-nats-config').data['nats.conf'] as string;
    expect(config).toContain('jetstream {');
    expect(config).toContain('store_dir: "/data"');
    // 90% of 5 GiB, in whole MiB.
    expect(config).toContain(`max_file_store: ${Math.floor(5 * 1024 * 0.9) * 1024 * 1024}`);
    expect(config).toContain('max_memory_store: 0');
    expect(config).toContain('http_port: 8222');
    expect(config).not.toContain('cluster {');

    const sts = find(objects, 'StatefulSet', 'kubefaas-nats');
    expect(sts.metadata.namespace).toBe('faas');
    expect(sts.spec.replicas).toBe(1);
    expect(sts.spec.serviceName).toBe('kubefaas-nats-headless');
    const c = sts.spec.template.spec.containers[0];
    expect(c.image).toBe('nats:2.14.2-alpine');
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz?js-server-only=true', port: 8222 });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz?js-enabled-only=true', port: 8222 });
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 8222 });
    expect(c.resources).toEqual({ requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '256Mi' } });
    expect(c.env).toContainEqual({ name: 'GOMEMLIMIT', value: '230MiB' });
    expect(sts.spec.volumeClaimTemplates[0].spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '5Gi' } },
      storageClassName: 'fast-ssd',
    });
    expect(find(objects, 'Service', 'kubefaas-nats').spec.ports).toEqual([
      { name: 'client', port: 4222, targetPort: 4222, protocol: 'TCP' },
    ]);
    const headless = find(objects, 'Service', 'kubefaas-nats-headless');
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.ports.map((p: { port: number }) => p.port)).toEqual([4222, 6222, 8222]);
    // One server: no disruption budget to keep (it could only block node drains).
    expect(maybeFind(objects, 'PodDisruptionBudget', 'kubefaas-nats')).toBeUndefined();
    const policy = find(objects, 'NetworkPolicy', 'kubefaas-nats');
    // Only the pods that use the queue (here: the router), on the client port.
    expect(policy.spec.ingress).toEqual([
      {
        from: [{ podSelector: { matchLabels: { 'kubefaas.dev/component': 'router' } } }],
        ports: [{ protocol: 'TCP', port: 4222 }],
      },
    ]);
  });

  it('clusters three servers with routes through the headless Service and a PDB', async () => {
    const platform = platformWithQueue({
      replicas: 3,
      retention: Duration.days(2),
      callStateRetention: Duration.hours(6),
      maxStreamSize: Size.gibibytes(1),
    });
    const objects = synth(platform);
    await expectValidManifests(objects);
    const config = find(objects, 'ConfigMap', 'kubefaas-nats-config').data['nats.conf'] as string;
    expect(config).toContain('cluster {');
    for (const i of [0, 1, 2])
      expect(config).toContain(`nats://kubefaas-nats-${i}.kubefaas-nats-headless.faas.svc.cluster.local:6222`);
    const sts = find(objects, 'StatefulSet', 'kubefaas-nats');
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    expect(find(objects, 'PodDisruptionBudget', 'kubefaas-nats').spec.maxUnavailable).toBe(1);
    expect(find(objects, 'NetworkPolicy', 'kubefaas-nats').spec.ingress[1].ports).toEqual([
      { protocol: 'TCP', port: 6222 },
    ]);

    const queue = platform.queue!;
    expect(queueOf(platform)).toBe(queue);
    expect(queue.url).toBe('nats://kubefaas-nats.faas.svc.cluster.local:4222');
    expect(queue.config).toMatchObject({
      replicas: 3,
      maxAgeMs: 2 * 86_400_000,
      callStateTtlMs: 6 * 3_600_000,
      maxBytes: 1024 ** 3,
    });
  });

  it('rolls the servers when nats.conf changes', () => {
    const hash = (o: NatsQueueOptions) =>
      find(synth(platformWithQueue(o)), 'StatefulSet', 'kubefaas-nats').spec.template.metadata.annotations[
        'kubefaas.dev/config-hash'
      ];
    expect(hash({})).toBe(hash({}));
    expect(hash({ maxFileStore: Size.gibibytes(2) })).not.toBe(hash({}));
  });

  it.each([
    [{ replicas: 2 as 1 }, 'queue replicas must be 1 or 3, got 2'],
    [{ storage: Size.mebibytes(1) }, 'queue storage must be'],
    [{ storageClass: 'Not_Valid' }, "queue storageClass 'Not_Valid' is not a valid StorageClass name"],
    [{ storage: Size.gibibytes(1), maxFileStore: Size.gibibytes(2) }, 'queue maxFileStore must be'],
    [{ retention: Duration.seconds(5) }, 'queue retention must be'],
    [{ image: 'nats' }, "queue image 'nats' has no tag"],
    [{ resources: { memory: Size.mebibytes(8) } }, 'queue resources.memory must be'],
  ])('refuses %o with a message naming the queue', (options, message) => {
    const error = errorOf(() => platformWithQueue(options));
    expect(error.message).toContain('[platform/Queue]');
    expect(error.message).toContain(message);
  });

  it('binds at most one queue per platform', () => {
    const platform = platformWithQueue();
    expect(errorOf(() => Queue.nats().bind(platform)).message).toContain(
      'the platform already has a queue (platform/Queue)',
    );
  });
});
