/**
 * Functions at zero on a platform with a queue (issue 10), run by the local runner: a cron tick, a
 * topic message and an async call each wake their function, which then handles it — on time,
 * nothing lost, nothing twice — and the function stops again when idle. The manifests are the
 * constructs' (Platform with Queue.nats()), with the scale-to-zero objects KEDA mode adds; this
 * platform has no scaler Deployment, so the runner starts the bundled scaler.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { connect, type NatsConnection } from 'nats';
import { stringify } from 'yaml';
import { Code, CronTrigger, NodeFunction, Platform, QueueTrigger } from '../../constructs';
import { Queue } from '../../constructs/queue';
import { DEFAULT_QUEUE_CONFIG } from '../../src/contract';
import { LocalPlatform } from '../../src/local';
import { withScaling } from './fixtures/scaling';
import { LogCapture, eventually, get, tempDir } from './helpers';

jest.setTimeout(120_000);

/** A handler that appends what it got (and when) to `file`, one JSON line per event. */
function recorder(file: string, delayMs = 0): string {
  return `module.exports = async (e) => {
    if (${delayMs} > 0) await new Promise((r) => setTimeout(r, ${delayMs}));
    require('node:fs').appendFileSync(${JSON.stringify(file)}, JSON.stringify({ type: e.type, time: e.time, body: e.text(), at: Date.now(), pid: process.pid }) + '\\n');
    return 'ok';
  };`;
}

interface Recorded {
  readonly type: string;
  readonly time: string;
  readonly body: string;
  readonly at: number;
  readonly pid: number;
}

function recorded(file: string): Recorded[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Recorded);
}

describe('local runner: cron, queue and async work for functions at zero', () => {
  const work = tempDir('scale-queue');
  const files = {
    ticker: path.join(work, 'ticker.jsonl'),
    worker: path.join(work, 'worker.jsonl'),
    later: path.join(work, 'later.jsonl'),
  };
  const log = new LogCapture();
  let platform: LocalPlatform;
  let nc: NatsConnection;

  beforeAll(async () => {
    const chart = new Platform(Testing.app(), 'platform', { namespace: 'faas', queue: Queue.nats() });
    new NodeFunction(chart, 'ticker', {
      code: Code.fromInline(recorder(files.ticker)),
      triggers: [new CronTrigger({ schedule: '0 3 * * *', name: 'tick' })],
    });
    new NodeFunction(chart, 'worker', {
      code: Code.fromInline(recorder(files.worker, 150)),
      triggers: [new QueueTrigger({ topic: 'jobs' })],
    });
    new NodeFunction(chart, 'later', { code: Code.fromInline(recorder(files.later)) });
    const objects = withScaling(Testing.synth(chart), {
      functions: {
        ticker: { cooldownSeconds: 1 },
        worker: { cooldownSeconds: 1, lagThreshold: 10 },
        later: { cooldownSeconds: 1 },
      },
      scaler: false,
    });
    fs.writeFileSync(path.join(work, 'app.k8s.yaml'), objects.map((o) => stringify(o)).join('---\n'));
    platform = await LocalPlatform.start({
      manifestsDir: work,
      port: 0,
      log: log.sink,
      scaleIntervalMs: 200,
      cronScheduleOverride: '*/4 * * * * *',
    });
    nc = await connect({ servers: `127.0.0.1:${platform.functions.get('kubefaas-nats')!.port}` });
  });

  afterAll(async () => {
    await nc?.close();
    await platform?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('nothing runs at zero; the bundled scaler stands in for the missing Deployment', () => {
    for (const fn of ['ticker', 'worker', 'later']) expect(platform.replicas(fn)).toEqual([]);
    expect(platform.scalerPid).toBeDefined();
  });

  test('a cron tick wakes its function on time, every tick, and the function stops in between', async () => {
    await eventually(async () => (recorded(files.ticker).length >= 2 ? true : undefined));
    const ticks = recorded(files.ticker);
    for (const t of ticks) {
      expect(t.type).toMatch(/cron/);
      // Handled within a few seconds of the tick's own time: the start, not a poll, is the delay.
      expect(t.at - Date.parse(t.time)).toBeLessThan(3_000);
    }
    expect(new Set(ticks.map((t) => t.time)).size).toBe(ticks.length);
    const wakes = log.entries.filter((e) => e.text === 'ticker: 0 → 1 (cron tick)').length;
    expect(wakes).toBeGreaterThanOrEqual(2);
    expect(log.text()).toContain('ticker: 1 → 0 (idle 1s)');
  });

  test('messages on a topic wake the function at zero, scale it on the lag, and none is lost or handled twice', async () => {
    const js = nc.jetstream();
    const n = 60;
    for (let i = 0; i < n; i++) await js.publish(`${DEFAULT_QUEUE_CONFIG.topicsPrefix}.jobs`, JSON.stringify({ i }));
    await eventually(async () => (recorded(files.worker).length >= n ? true : undefined));
    await new Promise((r) => setTimeout(r, 500)); // a duplicate would show up by now
    const bodies = recorded(files.worker).map((r) => (JSON.parse(r.body) as { i: number }).i);
    expect(bodies.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(log.text()).toContain('worker: 0 → 1 (message on topics.jobs)');
    expect(log.text()).toMatch(/worker: [12] → [23] \(load: .*, \d+ pending messages\)/);
    await log.waitFor((e) => /^worker: [123] → 0 \(idle 1s\)$/.test(e.text));
  });

  test('an async call to a function at zero is stored and runs once the function wakes', async () => {
    const accepted = await fetch(`${platform.adminUrl}/async-function/later`, { method: 'POST', body: 'deferred' });
    expect(accepted.status).toBe(202);
    const callId = accepted.headers.get('x-call-id');
    await eventually(async () => (recorded(files.later).length === 1 ? true : undefined));
    expect(recorded(files.later)[0].body).toBe('deferred');
    const status = await eventually(async () => {
      const r = await get(`${platform.adminUrl}/async-function/later/${callId}`);
      const state = (JSON.parse(r.body) as { state?: string }).state;
      return state === 'succeeded' ? state : undefined;
    });
    expect(status).toBe('succeeded');
    expect(log.text()).toMatch(/later: 0 → 1 \((async call|first request)\)/);
  });
});
