/**
 * Hot reload drops nothing: a handler is edited (three times) while a client calls its route every
 * 10 ms, through the real router and runtimes of `kubefaas dev`. The runner starts the new process,
 * waits until it is ready, switches the router's route table to it, and only then drains the old one,
 * so every one of the hundreds of requests must get a 200 from one version or the next.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startLocalPlatform, type LocalPlatform } from '../../src/local';
import { fixtureAppSource } from './fixtures/platform';
import { LogCapture, reloadWhere, tempDir } from './helpers';

const INTERVAL_MS = 10;
const EDITS = 3;
/** Requests after the last new version answered, so the drain of the old process is under load too. */
const TAIL_REQUESTS = 50;

describe('kubefaas dev hot reload under load', () => {
  const project = tempDir('reload-load');
  const log = new LogCapture();
  let platform: LocalPlatform;

  beforeAll(async () => {
    fs.writeFileSync(path.join(project, 'app.ts'), fixtureAppSource({ hello: 'hello.js' }));
    fs.writeFileSync(path.join(project, 'hello.js'), 'module.exports = () => "v0";');
    platform = await startLocalPlatform({ app: 'app.ts', cwd: project, port: 0, watch: true, log: log.sink });
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(project, { recursive: true, force: true });
  });

  test('editing a handler while it is called every 10 ms fails no request', async () => {
    const failures: string[] = [];
    const answers = new Map<string, number>();
    let sent = 0;
    const inFlight = new Set<Promise<void>>();
    const call = (): void => {
      sent++;
      const p = fetch(`${platform.url}/hello`)
        .then(async (res) => {
          const body = await res.text();
          if (res.status !== 200) failures.push(`${res.status} ${body}`);
          else answers.set(body, (answers.get(body) ?? 0) + 1);
        })
        .catch((err: Error) => {
          failures.push(`fetch failed: ${String(err.cause ?? err.message)}`);
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    };
    const timer = setInterval(call, INTERVAL_MS);
    try {
      for (let v = 1; v <= EDITS; v++) {
        const reloaded = reloadWhere(platform, (r) => r.restarted.includes('hello'));
        fs.writeFileSync(path.join(project, 'hello.js'), `module.exports = () => "v${v}";`);
        await reloaded;
        // The reload is complete (old process drained): the new version answers from now on.
        const before = sent;
        while ((answers.get(`v${v}`) ?? 0) === 0 || sent - before < TAIL_REQUESTS) {
          await new Promise((r) => setTimeout(r, INTERVAL_MS));
        }
      }
    } finally {
      clearInterval(timer);
      await Promise.all(inFlight);
    }
    expect(failures).toEqual([]);
    // The switch waited for the router to serve the new table (not for a timeout).
    expect(log.text('kubefaas')).not.toMatch(/did not confirm|exited before it was ready/);
    expect(sent).toBeGreaterThanOrEqual(200);
    for (let v = 0; v <= EDITS; v++) expect(answers.get(`v${v}`) ?? 0).toBeGreaterThan(0);
    // After the last reload only the last version answers.
    const last = await fetch(`${platform.url}/hello`).then((r) => r.text());
    expect(last).toBe(`v${EDITS}`);
  }, 180_000);
});
