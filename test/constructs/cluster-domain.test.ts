import { Annotations } from '../../src/contract';
import { serviceAddressRewriter } from '../../src/local/rewrite';
import { clusterUrl } from '../../stacks/platform-outputs';
import type { KubeManifest } from '../../stacks/synthesize';
import { HttpTrigger, NodeFunction, Queue, QueueTrigger } from '../../constructs';
import { errorOf, expectValid, find, INLINE, newPlatform, synth } from './helpers';

describe('Platform clusterDomain', () => {
  const DOMAIN = 'k8s.example.internal';

  function platformWithQueue(clusterDomain?: string) {
    const platform = newPlatform({ namespace: 'faas', queue: Queue.nats({ replicas: 3 }), clusterDomain });
    new NodeFunction(platform, 'hello', {
      code: INLINE,
      triggers: [new HttpTrigger({ path: '/hello' }), new QueueTrigger({ topic: 'orders' })],
    });
    return synth(platform);
  }

  test('every in-cluster address the platform writes uses the configured domain', async () => {
    const objects = platformWithQueue(DOMAIN);
    const text = JSON.stringify(objects);
    expect(text).not.toContain('svc.cluster.local');
    expect(text).toContain(`hello.faas.svc.${DOMAIN}:80`); // route table upstream
    expect(text).toContain(`kubefaas-nats.faas.svc.${DOMAIN}:4222`); // NATS client URL
    expect(text).toContain(`kubefaas-nats-2.kubefaas-nats-headless.faas.svc.${DOMAIN}:6222`); // cluster routes
    const service = find(objects, 'Service', 'kubefaas-router');
    expect(service.metadata.annotations?.[Annotations.clusterDomain]).toBe(DOMAIN);
    await expectValid(objects);
  });

  test('the default stays cluster.local, with no annotation', () => {
    const objects = platformWithQueue();
    expect(JSON.stringify(objects)).toContain('hello.faas.svc.cluster.local:80');
    expect(
      find(objects, 'Service', 'kubefaas-router').metadata.annotations?.[Annotations.clusterDomain],
    ).toBeUndefined();
  });

  test.each(['Cluster.Local', 'cluster.local.', '-bad', '', 'a..b'])(
    'clusterDomain %p is a ValidationError',
    (domain) => {
      const err = errorOf(() => newPlatform({ clusterDomain: domain }));
      expect(err.message).toMatch(/clusterDomain '.*' is not a valid DNS domain/);
      expect(err.message).toContain('--cluster-domain');
    },
  );

  test('the Pulumi outputs and the local runner read the domain from the router Service', () => {
    const service = find(platformWithQueue(DOMAIN), 'Service', 'kubefaas-router') as unknown as KubeManifest;
    expect(clusterUrl(service)).toBe(`http://kubefaas-router.faas.svc.${DOMAIN}:80`);
    const rewrite = serviceAddressRewriter(
      [{ service: 'hello', namespace: 'faas', port: 80, localPort: 4100 }],
      DOMAIN,
    );
    expect(rewrite(`http://hello.faas.svc.${DOMAIN}:80/x`)).toBe('http://127.0.0.1:4100/x');
    expect(rewrite('http://hello.faas.svc.cluster.local:80/x')).toBe('http://hello.faas.svc.cluster.local:80/x');
  });
});
