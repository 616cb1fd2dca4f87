/**
 * End to end through the local runner with real processes: the fixture platform (shaped like the
 * constructs' output) run from a manifest directory, requests through the router, logs, crash
 * restarts, shutdown.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startLocalPlatform, type LocalPlatform } from '../../src/local';
import { formatLogLine } from '../../src/local/log';
import { writeFixtureManifests } from './fixtures/platform';
import { eventually, get, isAlive, LogCapture, tempDir } from './helpers';

const helloCode = `
module.exports = async (event) => {
  const body = event.text();
  if (body === 'crash') process.exit(3);
  console.log('hello handled ' + event.method);
  return body ? 'Yeah, ' + body : 'Yeah, it works!!! token=' + process.env.GREETING_TOKEN;
};`;

describe('local platform from a manifest directory', () => {
  const project = tempDir('project');
  const manifests = path.join(project, 'dist');
  const log = new LogCapture();
  let platform: LocalPlatform;

  beforeAll(async () => {
    fs.copyFileSync(path.join(__dirname, 'fixtures', 'echo-server.js'), path.join(project, 'echo-server.js'));
    writeFixtureManifests(manifests, {
      functions: [
        {
          name: 'hello',
          code: helloCode,
          env: [{ name: 'GREETING_TOKEN', valueFrom: { secretKeyRef: { name: 'greetings', key: 'token' } } }],
        },
      ],
      containers: [
        { name: 'echo', image: 'example/echo:1.0', localCommand: ['node', 'echo-server.js'], byName: ['GET'] },
        { name: 'clock', image: 'python:3.13.7-alpine' },
      ],
    });
    platform = await startLocalPlatform({
      manifestsDir: manifests,
      cwd: project,
      port: 0,
      env: { PATH: process.env.PATH, GREETING_TOKEN: 'from-dev-env' },
      log: log.sink,
      supervisor: { initialBackoffMs: 50 },
    });
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(project, { recursive: true, force: true });
  });

  test('routes a GET and a POST through the router to the function', async () => {
    expect(await get(`${platform.url}/hello`)).toEqual({ status: 200, body: 'Yeah, it works!!! token=from-dev-env' });
    expect(await get(`${platform.url}/hello`, { method: 'POST', body: 'x' })).toEqual({ status: 200, body: 'Yeah, x' });
    // hello did not opt in to public by-name calls: only the admin listener serves them.
    expect(await get(`${platform.url}/function/hello`)).toMatchObject({ status: 404 });
    expect(await get(`${platform.adminUrl}/function/hello`)).toMatchObject({ status: 200 });
    expect(await get(`${platform.adminUrl}/readyz`)).toMatchObject({ status: 200 });
    expect(await get(`${platform.url}/readyz`)).toMatchObject({ status: 404 });
  });

  test('a container function runs its local command; one without is skipped with the reason', async () => {
    expect(await get(`${platform.url}/echo`)).toMatchObject({
      status: 200,
      body: expect.stringMatching(/^echo GET \//),
    });
    expect(platform.skipped.map((s) => s.name)).toEqual(['clock']);
    expect(log.text('kubefaas')).toMatch(/skipping clock: image python:3\.13\.7-alpine needs a container runtime/);
  });

  test('prints the routes, the URL, and the functions with their local addresses', () => {
    const out = log.text('kubefaas');
    expect(out).toMatch(new RegExp(`GET,POST\\s+${platform.url}/hello\\s+-> hello`));
    expect(out).toMatch(new RegExp(`GET\\s+${platform.url}/function/echo\\s+-> echo`));
    expect(out).not.toContain(`${platform.url}/function/hello`);
    expect(out).toContain(`${platform.adminUrl}/function/<name>`);
    expect(out).toContain(`router listening on ${platform.url}`);
    const hello = platform.functions.get('hello')!;
    expect(out).toContain(`hello ready on 127.0.0.1:${hello.port}`);
    expect(platform.routes?.functions.hello.url).toBe(hello.url);
    expect(platform.functions.has('kubefaas-router')).toBe(false);
  });

  test('streams each process output under its name', async () => {
    await get(`${platform.url}/hello`, { method: 'PUT', body: '' }).catch(() => undefined);
    await get(`${platform.url}/hello`);
    const entry = await log.waitFor((e) => e.source === 'hello' && e.text.includes('hello handled GET'));
    expect(entry.stream).toBe('stdout');
    expect(formatLogLine(entry, 16, false)).toMatch(/^hello {12}\| .*hello handled GET/);
  });

  test('restarts a crashed function', async () => {
    const before = platform.functions.get('hello')!.pid!;
    // Straight to the function: the crash must not depend on how the router treats a dying upstream.
    await expect(get(`${platform.functions.get('hello')!.url}/`, { method: 'POST', body: 'crash' })).rejects.toThrow();
    await log.waitFor((e) => e.source === 'kubefaas' && /hello exited \(code 3\); restarting in \d+ ms/.test(e.text));
    const answer = await eventually(async () => {
      const r = await get(`${platform.url}/hello`, { method: 'POST', body: 'again' });
      return r.status === 200 ? r.body : undefined;
    });
    expect(answer).toBe('Yeah, again');
    expect(platform.crashes('hello')).toBe(1);
    expect(platform.functions.get('hello')!.pid).not.toBe(before);
  });

  test('restart(name) replaces the process', async () => {
    const before = platform.functions.get('echo')!.pid!;
    await platform.restart('echo');
    expect(platform.functions.get('echo')!.pid).not.toBe(before);
    expect(isAlive(before)).toBe(false);
    expect(await get(`${platform.url}/echo`)).toMatchObject({
      status: 200,
      body: expect.stringMatching(/^echo GET \//),
    });
  });

  test('stop() terminates every process and removes the run directory', async () => {
    const pids = [...platform.functions.values()].map((f) => f.pid!).concat(platform.routerPid!);
    expect(pids.every(isAlive)).toBe(true);
    await platform.stop();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(fs.existsSync(platform.runDir)).toBe(false);
  });
});

describe('startup errors', () => {
  test('a Secret the manifests lack and the environment does not provide stops startup with a clear message', async () => {
    const dir = tempDir('secret');
    writeFixtureManifests(dir, {
      functions: [
        {
          name: 'hello',
          code: helloCode,
          env: [{ name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'api', key: 'key' } } }],
        },
      ],
    });
    const log = new LogCapture();
    await expect(
      startLocalPlatform({ manifestsDir: dir, port: 0, env: { PATH: process.env.PATH }, log: log.sink }),
    ).rejects.toThrow(/hello: env API_KEY needs key "key" of Secret "api".*setting API_KEY in your environment/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a busy router port is reported', async () => {
    const dir = tempDir('busy');
    writeFixtureManifests(dir, { functions: [] });
    const server = require('node:http').createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = server.address().port;
    await expect(startLocalPlatform({ manifestsDir: dir, port, log: () => undefined })).rejects.toThrow(
      `port ${port} is already in use`,
    );
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
