// `npm run test:pod-node`: runs the in-pod programs' suites (router, runtime by default; other jest
// arguments replace them) on the Node version of the pod image (constructs/defaults.ts), which may
// differ from the Node that runs the tests. That node comes from the npm registry's
// node-<platform>-<arch> package (the official binary, no build) and is cached per version under
// the temporary directory. The suites start their runtimes and routers with it through
// KUBEFAAS_TEST_POD_NODE (test/support/pod-node.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const defaults = fs.readFileSync(path.join(root, 'constructs', 'defaults.ts'), 'utf8');
const version = /nodeImage: 'node:(\d+\.\d+\.\d+)/.exec(defaults)?.[1];
if (!version) throw new Error('constructs/defaults.ts: no pinned nodeImage (node:X.Y.Z) found');

const pkg = `node-${process.platform}-${process.arch}`;
const dir = path.join(os.tmpdir(), 'kubefaas-pod-node', `${pkg}-${version}`);
const node = path.join(dir, 'package', 'bin', 'node');
if (!fs.existsSync(node)) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('npm', ['pack', `${pkg}@${version}`, '--silent', '--pack-destination', dir], { stdio: 'inherit' });
  const tarball = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'));
  execFileSync('tar', ['xzf', tarball], { cwd: dir });
  fs.rmSync(path.join(dir, tarball));
}
const actual = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
if (actual !== `v${version}`) throw new Error(`${node} is ${actual}, expected v${version}`);
console.log(`in-pod suites on Node ${actual} (the pod image's), tests on ${process.version}`);

const args = process.argv.slice(2);
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const result = spawnSync(process.execPath, [jest, ...(args.length > 0 ? args : ['test/router', 'test/runtime'])], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, KUBEFAAS_TEST_POD_NODE: node },
});
process.exit(result.status ?? 1);
