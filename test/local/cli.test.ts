/**
 * The `kubefaas` CLI as a real process: help and usage errors, `dev` on a manifest directory,
 * `invoke` against its router, SIGTERM shutdown without orphans.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { renderDot, renderMermaid, type GraphFile } from '../../src/contract';
import { freePort, isListening } from '../../src/local/ports';
import { writeFixtureManifests } from './fixtures/platform';
import { childPids, isAlive, tempDir } from './helpers';

const repo = path.resolve(__dirname, '..', '..');
const cliArgs = ['--import', 'tsx', path.join(repo, 'src', 'cli', 'main.ts')];

function cli(
  args: string[],
  input?: string,
  env: NodeJS.ProcessEnv = process.env,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...cliArgs, ...args], { cwd: repo, encoding: 'utf8', input, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

describe('kubefaas CLI usage', () => {
  test('--help prints the commands; per-command help', () => {
    const main = cli(['--help']);
    expect(main.status).toBe(0);
    expect(main.stdout).toMatch(/dev \[app\][\s\S]*invoke <function>[\s\S]*graph \[app\]/);
    const invoke = cli(['invoke', '--help']);
    expect(invoke.status).toBe(0);
    expect(invoke.stdout).toMatch(/--data <data>/);
  });

  test('unknown command → usage and exit 2', () => {
    const r = cli(['deploy']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command "deploy"[\s\S]*Usage: kubefaas <command>/);
  });

  test('bad arguments → exit 2 with the reason', () => {
    expect(cli(['invoke'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/exactly one function name/) });
    expect(cli(['invoke', 'hello', '--bogus'])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/Unknown option '--bogus'/),
    });
    expect(cli(['dev', '--port', 'x'])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/--port must be a port number/),
    });
  });

  test('invoke without a router says so and exits 1', async () => {
    const port = await freePort();
    const r = cli(['invoke', 'hello', '--router', `http://127.0.0.1:${port}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot reach .*\/function\/hello .*is the router running/);
  });
});

describe('kubefaas dev + invoke', () => {
  const dir = tempDir('cli');
  // A temp directory of its own: the runner's state file there is the only one `invoke` can find
  // (other test files run runners of their own at the same time).
  const runnerEnv = { ...process.env, TMPDIR: tempDir('cli-state') };
  let dev: ChildProcessWithoutNullStreams;
  let port: number;
  let output = '';
  // The runner's state file (its admin URL) is what `invoke` reads: every call here sees it.
  const devCli = (args: string[], input?: string) => cli(args, input, runnerEnv);

  beforeAll(async () => {
    writeFixtureManifests(dir, {
      functions: [
        {
          name: 'hello',
          code: 'module.exports = (e) => e.text() ? { got: e.text(), method: e.method, path: e.path, h: e.headers["x-demo"] } : "Yeah, it works!!!";',
        },
      ],
    });
    port = await freePort();
    dev = spawn(process.execPath, [...cliArgs, 'dev', '--manifests', dir, '--port', String(port), '--no-watch'], {
      cwd: repo,
      env: runnerEnv,
    });
    dev.stderr.on('data', (c: Buffer) => (output += c.toString()));
    await new Promise<void>((resolve, reject) => {
      readline.createInterface({ input: dev.stdout }).on('line', (line) => {
        output += `${line}\n`;
        if (line.includes('router listening on')) resolve();
      });
      dev.once('exit', (code) => reject(new Error(`dev exited with ${code}:\n${output}`)));
    });
  });

  afterAll(() => {
    if (dev.exitCode === null) dev.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(runnerEnv.TMPDIR, { recursive: true, force: true });
  });

  test("dev prints the routes with the URL, and the functions' own logs", async () => {
    expect(output).toMatch(new RegExp(`GET,POST\\s+http://127\\.0\\.0\\.1:${port}/hello\\s+-> hello`));
    // The function's log lines are flushed in batches (10 ms) and may trail the runner's own lines.
    for (let i = 0; i < 100 && !/^hello\s+\| .*listening/m.test(output); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(output).toMatch(/^hello\s+\| .*listening/m);
  });

  test('invoke prints the body', () => {
    const r = devCli(['invoke', 'hello', '--router', `http://127.0.0.1:${port}`]);
    expect(r).toMatchObject({ status: 0, stdout: 'Yeah, it works!!!\n' });
  });

  test('invoke finds the running kubefaas dev by itself, on whatever port it runs (or takes --port)', () => {
    expect(port).not.toBe(8080);
    expect(devCli(['invoke', 'hello'])).toMatchObject({ status: 0, stdout: 'Yeah, it works!!!\n' });
    expect(devCli(['invoke', 'hello', '-p', String(port)])).toMatchObject({ status: 0, stdout: 'Yeah, it works!!!\n' });
  });

  test('invoke sends data (also from a file), method, sub-path and headers; -v shows status and headers', () => {
    const file = path.join(dir, 'body.txt');
    fs.writeFileSync(file, 'from file');
    const r = devCli([
      'invoke',
      'hello',
      '--router',
      `http://127.0.0.1:${port}/`,
      '-d',
      `@${file}`,
      '-X',
      'put',
      '--path',
      '/sub?q=1',
      '-H',
      'X-Demo: yes',
      '-v',
    ]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      got: 'from file',
      method: 'PUT',
      path: expect.stringMatching(/\/sub$/),
      h: 'yes',
    });
    expect(r.stderr).toMatch(/^HTTP 200 OK\n[\s\S]*content-type: application\/json/);
    const stdin = devCli(['invoke', 'hello', '--router', `http://127.0.0.1:${port}`, '--data', '@-'], 'piped');
    expect(JSON.parse(stdin.stdout)).toMatchObject({ got: 'piped', method: 'POST' });
  });

  test('invoke exits 1 on an error status and shows the JSON error', () => {
    const r = devCli(['invoke', 'nosuchfn', '--router', `http://127.0.0.1:${port}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/HTTP 404[\s\S]*\{.*"error"/);
  });

  test('SIGTERM stops every child process and exits 0', async () => {
    // The router, hello and the reaper (see test/local/signals.test.ts); not tsx's esbuild service,
    // which transforms the CLI's own sources when tsx's cache (in TMPDIR) is cold.
    const children = childPids(dev.pid!).filter((pid) => !commandLine(pid).includes('--service='));
    expect(children.length).toBe(3);
    const exited = new Promise<number | null>((resolve) => dev.once('exit', resolve));
    dev.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(children.filter(isAlive)).toEqual([]);
    expect(await isListening(port)).toBe(false);
  });
});

describe('kubefaas graph', () => {
  const app = path.join(repo, 'test', 'events', 'fixtures', 'graph-app.ts');

  test('prints the Mermaid diagram of an app by default, JSON and DOT on request, the same graph each time', () => {
    const mermaid = cli(['graph', app]);
    expect(mermaid.status).toBe(0);
    expect(mermaid.stdout).toMatch(/^flowchart LR\n/);
    expect(mermaid.stdout).toContain('(["sender"]):::function');
    expect(mermaid.stdout).toContain('[("checked")]:::topic');
    expect(mermaid.stdout).toMatch(/n\d+ -->\|publishes\| n\d+/);

    const json = cli(['graph', app, '--format', 'json']);
    expect(json.status).toBe(0);
    const file = JSON.parse(json.stdout) as GraphFile;
    expect(file.version).toBe(1);
    expect(file.platforms.map((p) => p.platform)).toEqual(['graph']);
    expect(file.platforms[0].edges).toContainEqual({ from: 'function:sender', to: 'topic:checked', kind: 'publishes' });
    expect(file.platforms[0].edges).toContainEqual({ from: 'topic:checked', to: 'function:sink', kind: 'consumes' });
    expect(renderMermaid(file.platforms)).toBe(mermaid.stdout);

    const dot = cli(['graph', app, '-f', 'dot']);
    expect(dot.status).toBe(0);
    expect(dot.stdout).toBe(renderDot(file.platforms));
  });

  test('--out writes a file; --manifests reads the graph a synth wrote', () => {
    const dir = tempDir('graph');
    const out = path.join(dir, 'nested', 'graph.md');
    const written = cli(['graph', app, '-f', 'markdown', '-o', out]);
    expect(written.status).toBe(0);
    expect(written.stderr).toContain(`wrote ${out}`);
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^# Platform graph\n[\s\S]*```mermaid\nflowchart LR\n/);

    // What cdk8s synth does: the app writes its manifests and the graph files into CDK8S_OUTDIR.
    const dist = path.join(dir, 'dist');
    fs.mkdirSync(dist);
    const synth = spawnSync(process.execPath, ['--import', 'tsx', app], {
      cwd: repo,
      env: { ...process.env, CDK8S_OUTDIR: dist, KUBEFAAS_QUIET_WARNINGS: '1' },
      encoding: 'utf8',
    });
    expect(synth.status).toBe(0);
    expect(fs.readdirSync(dist).sort()).toEqual(['graph.k8s.yaml', 'platform.graph.jsonc', 'platform.md']);
    const fromDir = cli(['graph', '--manifests', dist, '-f', 'json']);
    expect(fromDir.status).toBe(0);
    expect(fromDir.stdout).toBe(fs.readFileSync(path.join(dist, 'platform.graph.jsonc'), 'utf8'));
  });

  test('bad format → exit 2; a directory without a graph → exit 1 naming the file', () => {
    expect(cli(['graph', app, '--format', 'png'])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/--format must be one of mermaid, json, dot, markdown, got png/),
    });
    const empty = tempDir('graph-empty');
    expect(cli(['graph', '--manifests', empty])).toMatchObject({
      status: 1,
      stderr: expect.stringMatching(/has no platform\.graph\.jsonc: synthesize the app again/),
    });
  });
});
