/**
 * What the README tells a newcomer agrees with the project: the commands it shows are the quiet
 * ones, the Node versions it claims are `engines` and are what CI tests, and the CLI options it
 * names exist.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEV_USAGE, INVOKE_USAGE, MAIN_USAGE } from '../../src/cli/usage';

const root = path.resolve(__dirname, '..', '..');
const read = (file: string): string => fs.readFileSync(path.join(root, file), 'utf8');
const readme = read('README.md');
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; scripts: Record<string, string> };
const ci = read('.ci/run');

/** The lines of every ```sh block of the README and the docs. */
function shellLines(): { file: string; line: string }[] {
  const files = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).map((f) => `docs/${f}`)];
  return files.flatMap((file) =>
    [...read(file).matchAll(/```(?:sh|bash)\n([\s\S]*?)```/g)].flatMap((m) =>
      m[1].split('\n').map((line) => ({ file, line })),
    ),
  );
}

test('every cdk8s synth it shows skips the upgrade check (which prints a stack trace offline)', () => {
  expect(pkg.scripts.synth).toBe('cdk8s synth --no-check-upgrade');
  const noisy = shellLines().filter(({ line }) => /\bcdk8s synth\b/.test(line) && !/--no-check-upgrade/.test(line));
  expect(noisy.filter(({ line }) => !/^\s*npm run synth\b/.test(line))).toEqual([]);
  expect(readme).toMatch(/^npm run synth\s+# cdk8s synth --no-check-upgrade/m);
});

test('the Node versions it claims are engines, and CI tests both', () => {
  expect(pkg.engines.node).toBe('^20.19.0 || ^22.0.0');
  expect(readme).toMatch(/Requirements: Node\.js 20 \(20\.19 or later\) or 22/);
  expect(readme).toMatch(/Node\.js \*\*20\.19\+ and 22\*\*/);
  // CI: the machine's Node for everything, the pod image's for the in-pod suites.
  expect(ci).toMatch(/^npm test$/m);
  expect(ci).toMatch(/^npm run test:pod-node$/m);
  const image = /nodeImage: 'node:(\d+\.\d+\.\d+)/.exec(read('constructs/defaults.ts'))![1];
  expect(readme).toContain(`node:${image}-alpine`);
  expect(readme).toContain(`Node ${image}`);
});

test('the CLI commands and options it names exist', () => {
  expect(MAIN_USAGE).toMatch(/^\s+init \[dir\]/m);
  expect(readme).toMatch(/kubefaas init \[dir\]/);
  expect(readme).toContain('npm start -- --port 3000');
  expect(DEV_USAGE).toMatch(/-p, --port <port>/);
  expect(INVOKE_USAGE).toMatch(/-p, --port <port>/);
  expect(readme).toMatch(/--env analytics:REDIS_URL=redis:\/\//);
  expect(readme).toMatch(/redis-server --daemonize yes/);
});

test('the return rule is written once, in the README, and docs/events.md points there', () => {
  expect(readme).toMatch(/#### What a handler returns/);
  const events = read('docs/events.md');
  expect(events).toContain('README, "What a handler returns"');
  // The sentence that contradicted it (a returned { status, headers, body } mapped like a response).
  expect(events).not.toMatch(/maps\s+like an HTTP response/);
});
