/**
 * Watch mode end to end: a real cdk8s app (run under tsx) in a temporary project, synthesized by the
 * runner; editing a handler re-synthesizes and restarts only that function.
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startLocalPlatform, type LocalPlatform } from '../../src/local';
import { fixtureAppSource } from './fixtures/platform';
import { get, LogCapture, reloadWhere, tempDir } from './helpers';

describe('kubefaas dev watch mode', () => {
  const project = tempDir('watch');
  const log = new LogCapture();
  let platform: LocalPlatform;

  beforeAll(async () => {
    fs.writeFileSync(path.join(project, 'app.ts'), fixtureAppSource({ hello: 'hello.js', other: 'other.js' }));
    fs.writeFileSync(path.join(project, 'hello.js'), 'module.exports = () => "v1";');
    fs.writeFileSync(path.join(project, 'other.js'), 'module.exports = () => "other";');
    platform = await startLocalPlatform({ app: 'app.ts', cwd: project, port: 0, watch: true, log: log.sink });
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(project, { recursive: true, force: true });
  });

  test('synthesizes the app and serves it', async () => {
    expect(await get(`${platform.url}/hello`)).toEqual({ status: 200, body: 'v1' });
    expect(log.text('kubefaas')).toContain(`watching . for changes`);
  });

  test('a changed handler restarts only its function', async () => {
    const routerPid = platform.routerPid;
    const otherPid = platform.functions.get('other')!.pid;
    const reloaded = reloadWhere(platform, (r) => r.restarted.includes('hello'));
    fs.writeFileSync(path.join(project, 'hello.js'), 'module.exports = () => "v2";');
    const result = await reloaded;
    expect(result.restarted).toEqual(['hello']);
    expect(await get(`${platform.url}/hello`)).toEqual({ status: 200, body: 'v2' });
    expect(platform.routerPid).toBe(routerPid);
    expect(platform.functions.get('other')!.pid).toBe(otherPid);
    expect(log.text('kubefaas')).toMatch(/reloaded: restarted hello/);
  });

  test('a broken app keeps the running version and says why', async () => {
    const failed = once(platform, 'reloadError');
    fs.writeFileSync(path.join(project, 'app.ts'), 'throw new Error("app is broken on purpose");');
    const [err] = (await failed) as [Error];
    expect(err.message).toContain('app is broken on purpose');
    expect(log.text('kubefaas')).toMatch(/keeping the previous version running/);
    expect(await get(`${platform.url}/hello`)).toEqual({ status: 200, body: 'v2' });
  });

  test('a new function is started and the router picks up the new routes without restarting', async () => {
    const routerPid = platform.routerPid;
    fs.writeFileSync(path.join(project, 'extra.js'), 'module.exports = () => "extra";');
    const reloaded = reloadWhere(platform, (r) => r.started.includes('extra'));
    fs.writeFileSync(
      path.join(project, 'app.ts'),
      fixtureAppSource({ hello: 'hello.js', other: 'other.js', extra: 'extra.js' }),
    );
    const result = await reloaded;
    expect(result.updated).toContain('kubefaas-router');
    expect(platform.routerPid).toBe(routerPid);
    const routesFile = path.join(platform.runDir, 'kubefaas-router', 'volumes', 'routes', 'routes.json');
    expect(JSON.parse(fs.readFileSync(routesFile, 'utf8')).functions.extra.url).toBe(
      platform.functions.get('extra')!.url,
    );
    // The router reloads its table from the file on its own; wait for it to route the new path.
    let answer = await get(`${platform.url}/extra`);
    while (answer.status === 404) {
      await new Promise((r) => setTimeout(r, 100));
      answer = await get(`${platform.url}/extra`);
    }
    expect(answer).toEqual({ status: 200, body: 'extra' });
  });
});
