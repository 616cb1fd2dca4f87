/**
 * `npx kubefaas` in a fresh clone, right after `npm install` and before any `npm run build`: the
 * clone is the repository's files (tracked and new, no lib/) copied to a temporary directory with
 * this checkout's node_modules, and npx gets an empty cache of its own, offline, as on a new machine.
 * npx links the project's own bin at that moment, so a bin that points into lib/ is never linked
 * (and stays unlinked in npx's cache after a build); bin/kubefaas.js exists from the start and runs
 * the sources through tsx until lib/ is built.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from './commands';

const repoRoot = path.resolve(__dirname, '..', '..');
let work: string;
let clone: string;

function npx(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return run('npx', args, {
    cwd: clone,
    env: { ...process.env, npm_config_cache: path.join(work, 'npm-cache'), npm_config_offline: 'true' },
  });
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'kubefaas-clone-'));
  clone = path.join(work, 'kubefaas');
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f && !f.startsWith('test/') && fs.existsSync(path.join(repoRoot, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
    fs.copyFileSync(path.join(repoRoot, f), path.join(clone, f));
  }
  fs.chmodSync(path.join(clone, 'bin', 'kubefaas.js'), 0o755);
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(clone, 'node_modules'));
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the clone has no lib/: nothing has been built', () => {
  expect(fs.existsSync(path.join(clone, 'lib'))).toBe(false);
  expect(fs.existsSync(path.join(clone, 'src', 'cli', 'main.ts'))).toBe(true);
});

test('npx kubefaas runs the CLI from the sources', async () => {
  const { stdout } = await npx(['kubefaas', '--help']);
  expect(stdout).toMatch(/^Usage: kubefaas/m);
  expect(stdout).toMatch(/^\s+dev \[app\]/m);
  const dev = await npx(['kubefaas', 'dev', '--help']);
  expect(dev.stdout).toMatch(/--port/);
}, 120_000);

test('a command that fails reports its error and exit code through the shim', async () => {
  // Port 1 on loopback: nothing listens, so invoke fails the way it does for a stopped runner.
  await expect(npx(['kubefaas', 'invoke', 'hello', '--router', 'http://127.0.0.1:1'])).rejects.toThrow(
    /exit code 1[\s\S]*127\.0\.0\.1:1/,
  );
}, 120_000);
