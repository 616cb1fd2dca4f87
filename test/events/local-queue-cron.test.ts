/**
 * The local runner with a queue and CronJobs: a real nats-server stands in for the NATS
 * StatefulSet the Queue synthesizes, every NATS address points at it, CronJobs run on a schedule
 * and on demand through the control endpoint (`kubefaas invoke --trigger cron/<name>`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { connect } from 'nats';
import { stringify } from 'yaml';
import { Code, NodeFunction, Platform } from '../../constructs';
import { Queue } from '../../constructs/queue';
import { CronEnv, QueueEnv } from '../../src/contract';
import { main } from '../../src/cli/main';
import { LocalPlatform } from '../../src/local';
import { controlStateFile } from '../../src/local/control';
import { LogCapture, eventually, tempDir } from '../local/helpers';

/** A cron "sender" that proves where its NATS URL leads: it reads the server's INFO line and records it. */
const PROBE_SCRIPT = `
const net = require('node:net');
const fs = require('node:fs');
const url = new URL(process.env.${QueueEnv.NATS_URL});
const socket = net.connect(Number(url.port), url.hostname);
socket.once('data', (chunk) => {
  const info = JSON.parse(chunk.toString().replace(/^INFO /, '').split('\\r\\n')[0]);
  fs.appendFileSync(process.env.TICK_FILE, JSON.stringify({ trigger: process.env.${CronEnv.TRIGGER}, jetstream: info.jetstream === true, url: url.host }) + '\\n');
  console.log('tick ' + process.env.${CronEnv.TRIGGER} + ' reached NATS at ' + url.host);
  socket.end();
});
socket.once('error', (err) => { console.error(err.message); process.exit(1); });
`;

function writeManifests(dir: string, tickFile: string): void {
  const platform = new Platform(Testing.app(), 'platform', { namespace: 'faas', queue: Queue.nats() });
  new NodeFunction(platform, 'hello', { code: Code.fromInline('module.exports = async () => "hi";') });
  const objects = Testing.synth(platform);
  const podSecurity = { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } };
  objects.push(
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'probe-cron', namespace: 'faas' },
      data: { 'cron.js': PROBE_SCRIPT },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'hello-cron-tick', namespace: 'faas' },
      spec: {
        schedule: '0 3 * * *',
        concurrencyPolicy: 'Forbid',
        jobTemplate: {
          spec: {
            template: {
              spec: {
                restartPolicy: 'Never',
                securityContext: podSecurity,
                containers: [
                  {
                    name: 'cron',
                    image: 'node:22.20.0-alpine',
                    command: ['node', '/var/kubefaas/cron/cron.js'],
                    env: [
                      { name: CronEnv.FUNCTION, value: 'hello' },
                      { name: CronEnv.TRIGGER, value: 'tick' },
                      { name: QueueEnv.NATS_URL, value: 'nats://kubefaas-nats.faas.svc.cluster.local:4222' },
                      { name: 'TICK_FILE', value: tickFile },
                    ],
                    volumeMounts: [{ name: 'code', mountPath: '/var/kubefaas/cron' }],
                  },
                ],
                volumes: [{ name: 'code', configMap: { name: 'probe-cron' } }],
              },
            },
          },
        },
      },
    },
  );
  fs.writeFileSync(path.join(dir, 'app.k8s.yaml'), objects.map((o) => stringify(o)).join('---\n'));
}

function ticks(file: string): Array<{ trigger: string; jetstream: boolean; url: string }> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('local runner: queue and cron', () => {
  const work = tempDir('events-local');
  const manifests = path.join(work, 'manifests');
  const tickFile = path.join(work, 'ticks.jsonl');
  fs.mkdirSync(manifests);
  writeManifests(manifests, tickFile);
  let platform: LocalPlatform | undefined;
  const log = new LogCapture();

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('refuses to start without nats-server on PATH, saying how to install it', async () => {
    const emptyBin = path.join(work, 'empty-bin');
    fs.mkdirSync(emptyBin, { recursive: true });
    await expect(
      LocalPlatform.start({
        manifestsDir: manifests,
        port: 0,
        env: { ...process.env, PATH: emptyBin },
        log: () => undefined,
      }),
    ).rejects.toThrow(/nats-server on PATH: install it with `apt-get install nats-server`/);
  });

  it('starts nats-server with JetStream for the NATS StatefulSet and points NATS URLs at it', async () => {
    platform = await LocalPlatform.start({
      manifestsDir: manifests,
      port: 0,
      log: log.sink,
      cronScheduleOverride: '*/1 * * * * *',
    });
    const nats = platform.functions.get('kubefaas-nats');
    expect(nats?.pid).toBeGreaterThan(0);
    const nc = await connect({ servers: `127.0.0.1:${nats!.port}` });
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.add({ name: 'LOCAL_CHECK', subjects: ['local.check'] });
      expect(info.config.name).toBe('LOCAL_CHECK');
    } finally {
      await nc.close();
    }
    // The function's env (from the Deployment) names the in-cluster URL; locally it is the local server.
    expect(log.text()).not.toMatch(/kubefaas-nats.*not mapped locally/);
  });

  it('fires a CronJob on its schedule, with the NATS URL mapped to the local server', async () => {
    const nats = platform!.functions.get('kubefaas-nats')!;
    const tick = await eventually(async () => ticks(tickFile)[0]);
    expect(tick).toEqual({ trigger: 'tick', jetstream: true, url: `127.0.0.1:${nats.port}` });
  });

  it('fires one tick on demand: kubefaas invoke <fn> --trigger cron/<name>', async () => {
    expect(fs.existsSync(controlStateFile(platform!.port))).toBe(true);
    const nats = platform!.functions.get('kubefaas-nats')!;
    const out: string[] = [];
    const err: string[] = [];
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
    let code: number;
    let unknown: number;
    try {
      code = await main(['invoke', 'hello', '--trigger', 'cron/tick', '--router', platform!.url]);
      unknown = await main(['invoke', 'hello', '--trigger', 'cron/nightly', '--router', platform!.url]);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(code).toBe(0);
    // The output of the very tick the command fired.
    expect(out.join('')).toContain(`tick tick reached NATS at 127.0.0.1:${nats.port}`);
    expect(unknown).toBe(1);
    expect(err.join('')).toContain(
      'no cron trigger hello cron/nightly in the running app; cron triggers: hello cron/tick',
    );
  });

  it('tells the developer when no runner serves the router port', async () => {
    const err: string[] = [];
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
    try {
      expect(await main(['invoke', 'hello', '--trigger', 'cron/tick', '--router', 'http://127.0.0.1:1'])).toBe(1);
    } finally {
      stderr.mockRestore();
    }
    expect(err.join('')).toContain('no kubefaas dev runner serves router port 1');
  });
});
