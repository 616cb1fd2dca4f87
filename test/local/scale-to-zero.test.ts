/**
 * `kubefaas dev` scales like the cluster (issue 10): functions with `minReplicas: 0` start on their
 * first request (held by the router meanwhile), stop after their cooldown, and run up to the local
 * replica cap under load, with the router balancing over the replicas. The runner plays KEDA against
 * the real scaler process, started from the manifests' scaler Deployment. Real processes, real sockets.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { ScalerEnv } from '../../src/contract';
import { LocalPlatform } from '../../src/local';
import { fixtureObjects } from './fixtures/platform';
import { withScaling } from './fixtures/scaling';
import { stringify } from 'yaml';
import { freePort } from '../../src/local/ports';
import { LogCapture, childPids, eventually, get, isAlive, tempDir } from './helpers';

jest.setTimeout(120_000);

const sleepy = `module.exports = async () => { await new Promise((r) => setTimeout(r, 250)); return String(process.pid); };`;

/** The fixture of this file: `lazy` at zero, `busy` from 1 with a target of 2, `steady` not scaled. */
function writeManifests(dir: string): void {
  const objects = withScaling(
    fixtureObjects({
      functions: [
        { name: 'lazy', code: 'module.exports = () => String(process.pid);' },
        { name: 'busy', code: sleepy },
        { name: 'steady', code: 'module.exports = () => "always on";' },
      ],
    }),
    {
      functions: {
        lazy: { cooldownSeconds: 2 },
        busy: { minReplicas: 1, maxReplicas: 10, targetConcurrency: 2, cooldownSeconds: 60, scaleDownSeconds: 2 },
      },
      // A short rate window: "had requests recently" ends a second after the last one.
      scalerEnv: { [ScalerEnv.RATE_WINDOW_MS]: '1000', [ScalerEnv.POLL_INTERVAL_MS]: '200' },
    },
  );
  fs.writeFileSync(path.join(dir, 'platform.k8s.yaml'), objects.map((o) => stringify(o)).join('---\n'));
}

describe('local runner: scale to zero and up to the local cap', () => {
  const work = tempDir('scale');
  const log = new LogCapture();
  let platform: LocalPlatform;

  beforeAll(async () => {
    writeManifests(work);
    platform = await LocalPlatform.start({ manifestsDir: work, port: 0, log: log.sink, scaleIntervalMs: 200 });
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('a function at zero is not started; the others run; the runner says how each scales', () => {
    expect(platform.replicas('lazy')).toEqual([]);
    expect(platform.functions.get('lazy')?.pid).toBeUndefined();
    expect(platform.replicas('busy')).toHaveLength(1);
    expect(platform.functions.get('steady')?.pid).toBeDefined();
    expect(platform.scalerPid).toBeDefined();
    const text = log.text();
    expect(text).toContain('lazy: 0..3 replicas; at zero until a request or message arrives, stopped after 2s idle');
    expect(text).toContain('busy: 1..3 replicas');
    expect(text).toContain('busy: runs at most 3 replicas locally (its ScaledObject allows 10; --max-replicas)');
  });

  test('the first request succeeds, waiting only for the process to become ready', async () => {
    const sent = Date.now();
    const reply = await get(`${platform.url}/lazy`);
    const answered = Date.now();
    expect(reply.status).toBe(200);
    expect(log.text()).toContain('lazy: 0 → 1 (first request)');
    const [replica] = platform.replicas('lazy');
    expect(reply.body).toBe(String(replica.pid));
    // Held by the router until the process was ready, then sent at once (no poll interval in between).
    expect(replica.startedAt).toBeGreaterThanOrEqual(sent);
    expect(answered - replica.readyAt!).toBeLessThan(250);
  });

  test('an idle function stops after its cooldown, and starts again on the next request', async () => {
    const [replica] = platform.replicas('lazy');
    expect(replica).toBeDefined();
    await log.waitFor((e) => e.text === 'lazy: 1 → 0 (idle 2s)');
    await eventually(async () => (platform.replicas('lazy').length === 0 && !isAlive(replica.pid!) ? true : undefined));
    const again = await get(`${platform.url}/lazy`);
    expect(again.status).toBe(200);
    expect(again.body).not.toBe(String(replica.pid));
  });

  test('under load a function runs up to the local cap and the router balances over its replicas', async () => {
    const pids = new Set<string>();
    const statuses = new Set<number>();
    let running = true;
    // 12 clients, each one request at a time: ~12 in flight against a target of 2 per replica.
    const clients = Array.from({ length: 12 }, async () => {
      while (running) {
        const r = await get(`${platform.url}/busy`);
        statuses.add(r.status);
        pids.add(r.body);
      }
    });
    try {
      await eventually(async () => (platform.replicas('busy').filter((r) => r.ready).length === 3 ? true : undefined));
      // With three ready replicas pushed, every one of them serves some of the next requests.
      pids.clear();
      await eventually(async () => (pids.size >= 3 ? true : undefined));
    } finally {
      running = false;
      await Promise.all(clients);
    }
    expect(statuses).toEqual(new Set([200]));
    expect(new Set(platform.replicas('busy').map((r) => String(r.pid)))).toEqual(pids);
    expect(log.text()).toMatch(/busy: [12] → 3 \(load: \d+(\.\d)? in flight or waiting, target 2 per replica\)/);
    // Load down to one client: back to its minimum after the scale-down window, never below, and the
    // replicas leaving are drained first: every request of the remaining client is answered.
    let light = true;
    const lightStatuses: number[] = [];
    const client = (async () => {
      while (light) lightStatuses.push((await get(`${platform.url}/busy`)).status);
    })();
    try {
      await log.waitFor((e) => /^busy: [32] → 1 \(load fell/.test(e.text));
      await eventually(async () => (platform.replicas('busy').length === 1 ? true : undefined));
      const after = lightStatuses.length;
      await eventually(async () => (lightStatuses.length >= after + 3 ? true : undefined));
    } finally {
      light = false;
      await client;
    }
    expect(new Set(lightStatuses)).toEqual(new Set([200]));
  });

  test('stopping the runner stops the scaler and every replica', async () => {
    await get(`${platform.url}/lazy`);
    const pids = [platform.scalerPid!, ...['lazy', 'busy'].flatMap((f) => platform.replicas(f).map((r) => r.pid!))];
    expect(pids.every(isAlive)).toBe(true);
    await platform.stop();
    expect(pids.filter(isAlive)).toEqual([]);
  });
});

describe('local runner: a reload with functions it scales', () => {
  const work = tempDir('scale-reload');
  let platform: LocalPlatform | undefined;

  function write(version: string): void {
    const code = `module.exports = () => ${JSON.stringify(version)};`;
    const objects = withScaling(
      fixtureObjects({
        functions: [
          { name: 'lazy', code },
          { name: 'busy', code },
        ],
      }),
      { functions: { lazy: {}, busy: { minReplicas: 1 } } },
    );
    fs.writeFileSync(path.join(work, 'platform.k8s.yaml'), objects.map((o) => stringify(o)).join('---\n'));
  }

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('new code replaces the running replicas side by side (no call fails) and leaves a function at zero at zero', async () => {
    write('v1');
    platform = await LocalPlatform.start({ manifestsDir: work, port: 0, log: () => undefined, scaleIntervalMs: 200 });
    expect((await get(`${platform.url}/busy`)).body).toBe('v1');
    const before = platform.replicas('busy')[0].pid;
    // Called every 10 ms through the router while the reload replaces the replica.
    const failures: string[] = [];
    const answers = new Set<string>();
    const calls: Promise<void>[] = [];
    const url = `${platform.url}/busy`;
    const timer = setInterval(() => {
      calls.push(
        fetch(url)
          .then(async (res) => {
            const body = await res.text();
            if (res.status === 200) answers.add(body);
            else failures.push(`${res.status} ${body}`);
          })
          .catch((err: Error) => void failures.push(String(err.cause ?? err.message))),
      );
    }, 10);
    write('v2');
    const reloaded = new Promise<{ restarted: readonly string[] }>((resolve) => platform!.once('reload', resolve));
    await platform.reload();
    await new Promise((r) => setTimeout(r, 200));
    clearInterval(timer);
    await Promise.all(calls);
    expect(failures).toEqual([]);
    expect(calls.length).toBeGreaterThan(20);
    expect([...answers].sort()).toEqual(['v1', 'v2']);
    expect((await reloaded).restarted).toEqual(expect.arrayContaining(['busy']));
    expect(platform.replicas('busy')).toHaveLength(1);
    expect(platform.replicas('busy')[0].pid).not.toBe(before);
    expect((await get(`${platform.url}/busy`)).body).toBe('v2');
    expect(platform.replicas('lazy')).toEqual([]);
    expect((await get(`${platform.url}/lazy`)).body).toBe('v2');
  });
});

describe('kubefaas dev with functions it scales', () => {
  const work = tempDir('scale-cli');
  const repo = path.resolve(__dirname, '..', '..');

  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test('--max-replicas is checked, and Ctrl-C stops the scaler and every replica too', async () => {
    writeManifests(work);
    const port = await freePort();
    const cli = [
      path.join(repo, 'src', 'cli', 'main.ts'),
      'dev',
      '--manifests',
      work,
      '--port',
      String(port),
      '--no-watch',
    ];
    const bad = spawn(process.execPath, ['--import', 'tsx', ...cli, '--max-replicas', '0'], { cwd: repo });
    let badOutput = '';
    bad.stderr.on('data', (c: Buffer) => (badOutput += c.toString()));
    expect(await new Promise((resolve) => bad.once('exit', resolve))).toBe(2);
    expect(badOutput).toContain('--max-replicas must be a whole number from 1 to 100, got 0');

    const dev = spawn(process.execPath, ['--import', 'tsx', ...cli, '--max-replicas', '2'], { cwd: repo });
    let output = '';
    dev.stderr.on('data', (c: Buffer) => (output += c.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        readline.createInterface({ input: dev.stdout }).on('line', (line) => {
          output += `${line}\n`;
          if (line.includes('router listening on')) resolve();
        });
        dev.once('exit', (code) => reject(new Error(`dev exited with ${code}:\n${output}`)));
      });
      expect(output).toContain('busy: 1..2 replicas');
      expect((await get(`http://127.0.0.1:${port}/lazy`)).status).toBe(200);
      expect(output).toContain('lazy: 0 → 1 (first request)');
      // Router, steady, busy, lazy (woken), the scaler and the reaper.
      const children = childPids(dev.pid!);
      expect(children.length).toBe(6);
      const exited = new Promise<number | null>((resolve) => dev.once('exit', resolve));
      dev.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(children.filter(isAlive)).toEqual([]);
    } finally {
      if (dev.exitCode === null) dev.kill('SIGKILL');
    }
  });
});
