import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AckPolicy, DeliverPolicy, connect, nanos } from 'nats';
import { buildSync } from 'esbuild';
import { CronEnv, QueueEnv } from '../../src/contract';
import { NatsServer, freePort } from './nats-server';
import { testConfig } from './support';

let server: NatsServer;
let dir: string;
let cronBundle: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubefaas-cron-'));
  // The shipped bundle when the build has it, else the same entry bundled here.
  const shipped = resolve(__dirname, '..', '..', 'lib', 'pod', 'cron.js');
  cronBundle = shipped;
  if (!existsSync(shipped)) {
    cronBundle = join(dir, 'cron.js');
    buildSync({
      entryPoints: [resolve(__dirname, '..', '..', 'src', 'cron', 'main.ts')],
      outfile: cronBundle,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'error',
    });
  }
  server = await NatsServer.start();
});

afterAll(async () => {
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function runCron(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const base = {
    PATH: process.env.PATH ?? '',
    [CronEnv.FUNCTION]: 'report',
    [CronEnv.TRIGGER]: 'nightly',
    [CronEnv.SCHEDULE]: '0 3 * * *',
  };
  const child = spawn(process.execPath, [cronBundle], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((r) => child.once('exit', (code) => r({ code, output })));
}

describe('cron sender', () => {
  test('with a queue: publishes one CloudEvent tick to <cronPrefix>.<function>.<trigger>; a retried Job run is stored once', async () => {
    const config = testConfig('cron');
    const env = {
      [QueueEnv.NATS_URL]: server.url,
      [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config),
      [CronEnv.JOB_NAME]: 'report-nightly-29000000',
      [CronEnv.DATA]: '{"kind":"daily"}',
    };
    const first = await runCron(env);
    expect(first).toMatchObject({ code: 0 });
    expect((await runCron(env)).code).toBe(0);

    const nc = await connect({ servers: server.url });
    try {
      const jsm = await nc.jetstreamManager();
      const subject = `${config.cronPrefix}.report.nightly`;
      const info = await jsm.consumers.add(config.callsStream, {
        filter_subject: subject,
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.All,
        inactive_threshold: nanos(30_000),
      });
      expect(info.num_pending).toBe(1);
      const consumer = await nc.jetstream().consumers.get(config.callsStream, info.name);
      const msg = await consumer.next({ expires: 2000 });
      expect(msg).not.toBeNull();
      expect(msg!.headers?.get('ce-type')).toBe('dev.kubefaas.cron.tick');
      expect(msg!.headers?.get('ce-source')).toBe('/kubefaas/cron/report/nightly');
      expect(msg!.headers?.get('ce-id')).toBe('report-nightly-29000000');
      expect(msg!.json()).toMatchObject({
        function: 'report',
        trigger: 'nightly',
        schedule: '0 3 * * *',
        data: { kind: 'daily' },
      });
    } finally {
      await nc.close();
    }
  });

  test('without a queue: POSTs the tick to the router, and exits non-zero when the router fails so the Job retries', async () => {
    const received: { url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
    let status = 200;
    const router = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ url: req.url, headers: req.headers, body });
        res.writeHead(status).end('ok');
      });
    });
    await new Promise<void>((r) => router.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(router.address() as AddressInfo).port}`;
    try {
      expect((await runCron({ [CronEnv.ROUTER_URL]: url })).code).toBe(0);
      expect(received[0].url).toBe('/function/report');
      expect(received[0].headers['ce-type']).toBe('dev.kubefaas.cron.tick');
      expect(JSON.parse(received[0].body)).toMatchObject({ function: 'report', trigger: 'nightly' });
      status = 500;
      const failed = await runCron({ [CronEnv.ROUTER_URL]: url });
      expect(failed.code).toBe(1);
      expect(failed.output).toContain('router answered 500');
    } finally {
      router.close();
    }
  });

  test('exits non-zero when NATS is unreachable', async () => {
    const result = await runCron({
      [QueueEnv.NATS_URL]: `nats://127.0.0.1:${await freePort()}`,
      [QueueEnv.QUEUE_CONFIG]: JSON.stringify(testConfig('nocron')),
      [CronEnv.TIMEOUT_MS]: '1500',
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain('cron tick not delivered');
  });
});
