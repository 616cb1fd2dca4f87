/**
 * Issue 13 item 4, optional TLS: a queue with `tls: { secretName }` synthesizes a nats.conf `tls`
 * block (server cert, key and CA from the Secret) and gives every client only `ca.crt`. Here a real
 * nats-server runs that nats.conf with certificates made by openssl, and the worker runtime connects
 * with its synthesized env over TLS (and auth); a client that does not trust the CA is refused.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import { connect } from 'nats';
import { Code, CronTrigger, NodeFunction, Platform, Queue } from '../../constructs';
import { QueueTrigger } from '../../constructs/triggers/queue-trigger';
import { QueueEnv } from '../../src/contract';
import { SynthesizedPods, containerOf, httpStatus, makeCertificates, type K8sObject } from './synthesized-pods';
import { waitFor } from './support';
import { expectValidManifests } from '../support/validate';

function synthApp(): K8sObject[] {
  const platform = new Platform(Testing.app(), 'platform', { queue: Queue.nats({ tls: { secretName: 'nats-tls' } }) });
  new NodeFunction(platform, 'worker', {
    code: Code.fromInline('module.exports = async (event) => "done " + event.text();'),
    triggers: [new QueueTrigger({ topic: 'orders' }), new CronTrigger({ name: 'tick', schedule: '*/5 * * * *' })],
  });
  return Testing.synth(platform) as K8sObject[];
}

const objects = synthApp();
const pods = new SynthesizedPods(objects);
afterAll(() => pods.dispose());

test('synthesized: the servers mount the whole Secret, clients only ca.crt, and nats.conf requires TLS', async () => {
  await expectValidManifests(objects, { externalSecrets: ['nats-tls'] });
  const conf = String(pods.find('ConfigMap', 'kubefaas-nats-config').data['nats.conf']);
  expect(conf).toMatch(
    /^tls \{\n {2}cert_file: "\/etc\/nats-tls\/tls.crt"\n {2}key_file: "\/etc\/nats-tls\/tls.key"\n {2}ca_file: "\/etc\/nats-tls\/ca.crt"/m,
  );
  const server = pods.find('StatefulSet', 'kubefaas-nats').spec.template.spec;
  expect(server.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'nats-tls' } });
  const clientVolume = {
    name: 'nats-tls',
    secret: { secretName: 'nats-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }], optional: true },
  };
  for (const o of [
    pods.find('Deployment', 'worker'),
    pods.find('Deployment', 'kubefaas-router'),
    objects.find((x) => x.kind === 'CronJob')!,
  ]) {
    const spec = o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec;
    expect(spec.volumes).toContainEqual(clientVolume);
    expect(containerOf(o).volumeMounts).toContainEqual({
      name: 'nats-tls',
      mountPath: '/var/kubefaas/nats-tls',
      readOnly: true,
    });
    expect(containerOf(o).env).toContainEqual({ name: QueueEnv.NATS_TLS_DIR, value: '/var/kubefaas/nats-tls' });
  }
});

test('a runtime connects over TLS with its synthesized env; a client that does not trust the CA is refused', async () => {
  const serverTls = join(pods.dir, 'server-tls');
  makeCertificates(serverTls);
  const natsUrl = await pods.startNats((conf) => conf.replaceAll('/etc/nats-tls/', `${serverTls}/`));
  // What the client volume holds: ca.crt alone.
  const clientTls = join(pods.dir, 'client-tls');
  mkdirSync(clientTls);
  copyFileSync(join(serverTls, 'ca.crt'), join(clientTls, 'ca.crt'));

  const worker = await pods.startFunction('worker', { [QueueEnv.NATS_TLS_DIR]: clientTls });
  await waitFor(
    'the worker to consume over TLS',
    async () => (await httpStatus(`http://127.0.0.1:${worker.port}/readyz`)) === 200,
  );

  // Right password, but the server's certificate is not trusted without the CA.
  await expect(
    connect({ servers: natsUrl, user: 'fn-worker', pass: pods.passwordFor('fn-worker'), reconnect: false }),
  ).rejects.toThrow();
  // With the CA it works (the server requires TLS: the password never crosses the wire in clear).
  const nc = await connect({
    servers: natsUrl,
    user: 'fn-worker',
    pass: pods.passwordFor('fn-worker'),
    inboxPrefix: '_INBOX_fn-worker',
    tls: { caFile: join(clientTls, 'ca.crt') },
    reconnect: false,
  });
  expect(nc.info?.tls_required).toBe(true);
  await nc.close();
}, 40_000);
