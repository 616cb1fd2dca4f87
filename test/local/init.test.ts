/**
 * `kubefaas init` without npm: what it writes, how it names the package and the kubefaas dependency,
 * and that it never overwrites. (test/packaging/pack.test.ts installs, synthesizes and runs such a
 * project from the packed package.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dependencySpec, ownPackage, packageNameFor, projectFiles, writeProject } from '../../src/cli/init';
import { tempDir } from './helpers';

const repoPackage = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};

test('the package name comes from the directory, made a valid npm name', () => {
  expect(packageNameFor('/tmp/My FaaS App')).toBe('my-faas-app');
  expect(packageNameFor('./shop.api')).toBe('shop.api');
  expect(packageNameFor('/tmp/___')).toBe('my-faas-app');
});

test('a tarball or directory path becomes file: relative to the project; other specs stay as given', () => {
  const dir = tempDir('init-spec');
  fs.writeFileSync(path.join(dir, 'kubefaas-0.1.0.tgz'), '');
  expect(dependencySpec('kubefaas-0.1.0.tgz', 'apps/shop', dir)).toBe('file:../../kubefaas-0.1.0.tgz');
  expect(dependencySpec(path.join(dir, 'kubefaas-0.1.0.tgz'), path.join(dir, 'shop'))).toBe(
    'file:../kubefaas-0.1.0.tgz',
  );
  expect(dependencySpec('./', 'shop', dir)).toBe('file:..');
  expect(dependencySpec('^0.1.0', 'shop', dir)).toBe('^0.1.0');
  expect(dependencySpec('file:/somewhere/kubefaas.tgz', 'shop', dir)).toBe('file:/somewhere/kubefaas.tgz');
  expect(() => dependencySpec('./missing.tgz', 'shop', dir)).toThrow(/no such file/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the project pins the versions kubefaas is tested with, and runs kubefaas dev and the synth', () => {
  expect(ownPackage().version).toBe(repoPackage.version);
  const files = projectFiles({ dir: '/tmp/shop', kubefaas: '^0.1.0' });
  expect([...files.keys()].sort()).toEqual(
    ['.gitignore', 'app.ts', 'cdk8s.yaml', 'functions/hello.ts', 'package.json', 'tsconfig.json'].sort(),
  );
  const pkg = JSON.parse(files.get('package.json')!) as {
    scripts: Record<string, string>;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  expect(pkg.dependencies).toEqual({
    cdk8s: repoPackage.devDependencies.cdk8s,
    constructs: repoPackage.devDependencies.constructs,
    kubefaas: '^0.1.0',
  });
  expect(pkg.devDependencies.typescript).toBe(repoPackage.devDependencies.typescript);
  expect(pkg.scripts.dev).toBe('kubefaas dev');
  // cdk8s.yaml's app is what `npm run synth` runs, so `cdk8s synth` and `kubefaas dev` agree with it.
  expect(files.get('cdk8s.yaml')).toContain(`app: ${pkg.scripts.synth}\n`);
  expect(files.get('app.ts')).toContain("Code.fromAsset('functions/hello.ts')");
});

test('refuses to overwrite: with one of its files present it writes nothing', () => {
  const dir = tempDir('init-exists');
  fs.writeFileSync(path.join(dir, 'app.ts'), 'mine');
  expect(() => writeProject({ dir, kubefaas: '^0.1.0' })).toThrow(/already has app\.ts; pick a new directory/);
  expect(fs.readdirSync(dir)).toEqual(['app.ts']);
  expect(fs.readFileSync(path.join(dir, 'app.ts'), 'utf8')).toBe('mine');
  const fresh = path.join(dir, 'new', 'project');
  expect(writeProject({ dir: fresh, kubefaas: '^0.1.0' })).toContain('functions/hello.ts');
  expect(fs.existsSync(path.join(fresh, 'functions', 'hello.ts'))).toBe(true);
  fs.rmSync(dir, { recursive: true, force: true });
});
