/**
 * `kubefaas dev` watch mode with a PythonFunction (a real app under tsx): editing handler.py
 * re-synthesizes and restarts the function, which then serves the new code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startLocalPlatform, type LocalPlatform, type ReloadResult } from '../../src/local';
import { get, LogCapture, tempDir } from './helpers';

const repo = path.resolve(__dirname, '..', '..');

describe('kubefaas dev watch mode with a PythonFunction', () => {
  const project = tempDir('python-watch');
  const log = new LogCapture();
  let platform: LocalPlatform;

  beforeAll(async () => {
    fs.mkdirSync(path.join(project, 'fn'));
    fs.writeFileSync(path.join(project, 'fn', 'handler.py'), 'def main(event, context):\n    return "v1"\n');
    fs.writeFileSync(
      path.join(project, 'app.ts'),
      [
        `import { App } from ${JSON.stringify(require.resolve('cdk8s'))};`,
        `import { Code, HttpTrigger, Platform, PythonFunction } from ${JSON.stringify(path.join(repo, 'constructs'))};`,
        'const app = new App();',
        "const platform = new Platform(app, 'faas');",
        "new PythonFunction(platform, 'py', { code: Code.fromAsset(__dirname + '/fn'), handler: 'handler.main', triggers: [new HttpTrigger({ path: '/py' })] });",
        'app.synth();',
      ].join('\n'),
    );
    platform = await startLocalPlatform({ app: 'app.ts', cwd: project, port: 0, watch: true, log: log.sink });
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(project, { recursive: true, force: true });
  });

  it('serves the new code after an edit, restarting only the function', async () => {
    expect(await get(`${platform.url}/py`)).toEqual({ status: 200, body: 'v1' });
    const reloaded = new Promise<ReloadResult>((resolve) => {
      const onReload = (r: ReloadResult): void => {
        if (!r.restarted.includes('py')) return;
        platform.off('reload', onReload);
        resolve(r);
      };
      platform.on('reload', onReload);
    });
    fs.writeFileSync(path.join(project, 'fn', 'handler.py'), 'def main(event, context):\n    return "v2"\n');
    expect((await reloaded).restarted).toEqual(['py']);
    expect(await get(`${platform.url}/py`)).toEqual({ status: 200, body: 'v2' });
    // (The runner restarts a process by stopping it and starting the new one on the same port, for
    // Node and Python alike: requests sent during that window get 502 from the local router.)
  });
});
