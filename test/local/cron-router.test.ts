/**
 * An internal caller end to end (issue 15 item 9): a CronTrigger on a platform without a queue,
 * synthesized by the constructs and run by the local runner, ticks a function that is not public
 * by name — through the router's admin listener (`KUBEFAAS_ROUTER_URL` = the `kubefaas-router-admin`
 * Service, mapped to the local admin port). Its public `/function/<name>` stays 404.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { Code, CronTrigger, NodeFunction, Platform } from '../../constructs';
import { CronEnv } from '../../src/contract';
import { LocalPlatform } from '../../src/local';
import { LogCapture, get, tempDir } from './helpers';

jest.setTimeout(60_000);

describe('local runner: a cron tick without a queue goes through the admin listener', () => {
  const work = tempDir('cron-router');
  const manifests = path.join(work, 'manifests');
  const ticks = path.join(work, 'ticks.log');
  const log = new LogCapture();
  let platform: LocalPlatform | undefined;

  beforeAll(async () => {
    const chart = new Platform(Testing.app(), 'platform', { namespace: 'faas' });
    new NodeFunction(chart, 'nightly', {
      code: Code.fromInline(
        `module.exports = (e) => { require('node:fs').appendFileSync(${JSON.stringify(ticks)}, e.type + '\\n'); return 'ok'; };`,
      ),
      triggers: [new CronTrigger({ schedule: '0 3 * * *', name: 'tick' })],
    });
    fs.mkdirSync(manifests, { recursive: true });
    fs.writeFileSync(
      path.join(manifests, 'app.k8s.yaml'),
      Testing.synth(chart)
        .map((o) => stringify(o))
        .join('---\n'),
    );
    platform = await LocalPlatform.start({ manifestsDir: manifests, port: 0, log: log.sink });
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('the tick reaches the function, which is not callable by name on the public listener', async () => {
    const cron = platform!.cronJobs.find((c) => c.function === 'nightly')!;
    expect(cron.process.env[CronEnv.ROUTER_URL]).toBe(`http://127.0.0.1:${platform!.adminPort}`);
    const run = await platform!.fireCron('tick', 'nightly');
    expect({ exitCode: run.exitCode, output: run.output }).toMatchObject({ exitCode: 0 });
    expect(fs.readFileSync(ticks, 'utf8').trim().split('\n')).toHaveLength(1);
    expect((await get(`${platform!.url}/function/nightly`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await get(`${platform!.adminUrl}/function/nightly`, { method: 'POST', body: '{}' })).status).toBe(200);
  });
});
