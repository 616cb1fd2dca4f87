/**
 * The real example app (examples/app.ts) through the local runner, with the real bundles: what
 * `npm start` runs. The analytics function stores into a real redis-server started by this test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createClient } from 'redis';
import { startLocalPlatform, type LocalPlatform } from '../../src/local';
import { freePort, isListening } from '../../src/local/ports';
import { eventually, get, LogCapture, tempDir } from './helpers';

const repo = path.resolve(__dirname, '..', '..');

async function startRedis(): Promise<{ url: string; process: ChildProcess }> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(
      'redis-server is not installed; the analytics end-to-end test needs it: apt-get install -y redis-server',
    );
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await eventually(async () => ((await isListening(port)) ? true : undefined));
  return { url: `redis://127.0.0.1:${port}`, process: child };
}

describe('the example app run locally', () => {
  const project = tempDir('example');
  const log = new LogCapture();
  let redis: { url: string; process: ChildProcess };
  let platform: LocalPlatform;

  beforeAll(async () => {
    redis = await startRedis();
    // The example app as shipped, pointed at this test's redis-server.
    fs.writeFileSync(
      path.join(project, 'app.ts'),
      [
        `import { App } from ${JSON.stringify(require.resolve('cdk8s'))};`,
        `import { buildExampleApp } from ${JSON.stringify(path.join(repo, 'examples', 'app'))};`,
        'const app = new App();',
        `buildExampleApp(app, { redisUrl: ${JSON.stringify(redis.url)} });`,
        'app.synth();',
      ].join('\n'),
    );
    platform = await startLocalPlatform({ app: path.join(project, 'app.ts'), cwd: repo, port: 0, log: log.sink });
  });

  afterAll(async () => {
    await platform?.stop();
    redis?.process.kill('SIGTERM');
    fs.rmSync(project, { recursive: true, force: true });
  });

  test('GET /hello answers "Yeah, it works!!!"; POST /hello with a body answers "Yeah, <body>"', async () => {
    expect(await get(`${platform.url}/hello`)).toEqual({ status: 200, body: 'Yeah, it works!!!' });
    expect(await get(`${platform.url}/hello`, { method: 'POST', body: 'x' })).toEqual({ status: 200, body: 'Yeah, x' });
  });

  test('prints every example route', () => {
    const out = log.text('kubefaas');
    for (const [methods, route, fn] of [
      ['GET,POST', '/hello', 'hello'],
      ['POST', '/analytics', 'analytics'],
      ['GET,POST', '/clock', 'clock'],
      ['GET,POST', '/slug', 'slug'],
    ]) {
      expect(out).toMatch(new RegExp(`${methods}\\s+${platform.url}${route}\\s+-> ${fn}`));
    }
  });

  test('analytics stores the body and arrival time as a JSON document in redis', async () => {
    const before = Date.now();
    const res = await fetch(`${platform.url}/analytics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"page":"/home"}',
    });
    const after = Date.now();
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { stored: string; arrivedAt: string };
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const stored = JSON.parse((await client.get(answer.stored))!) as { body: string; arrivedAt: string };
      expect(stored.body).toBe('{"page":"/home"}');
      expect(stored.arrivedAt).toBe(answer.arrivedAt);
      const arrived = Date.parse(stored.arrivedAt);
      expect(arrived).toBeGreaterThanOrEqual(before);
      expect(arrived).toBeLessThanOrEqual(after);
      expect(await client.lRange('analytics:index', 0, -1)).toContain(answer.stored);
    } finally {
      await client.quit();
    }
  });

  test('the Python example (clock, a PythonFunction) runs on the local python3', async () => {
    const res = await get(`${platform.url}/clock?offset=%2B02:00`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).now).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+02:00$/);
    expect(await get(`${platform.url}/clock`, { method: 'POST', body: '{"a":1,"b":2}' })).toEqual({
      status: 200,
      body: '{"echo":{"a":1,"b":2},"keys":2}',
    });
    expect((await get(`${platform.url}/clock?offset=soon`)).status).toBe(400);
    expect((await get(`${platform.url}/clock`, { method: 'POST', body: '{nope' })).status).toBe(400);
  });

  test('the Python example with a dependency (slug) imports the wheel resolved from requirements.txt', async () => {
    expect(await get(`${platform.url}/slug?title=${encodeURIComponent('Grüße aus Köln!')}`)).toEqual({
      status: 200,
      body: '{"slug":"grusse-aus-koln"}',
    });
    expect(await get(`${platform.url}/slug`, { method: 'POST', body: '  Hello, World  ' })).toEqual({
      status: 200,
      body: '{"slug":"hello-world"}',
    });
    expect((await get(`${platform.url}/slug`)).status).toBe(400);
  });
});
