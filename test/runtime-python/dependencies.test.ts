/**
 * requirements.txt → wheels at synth (pip download for the image's platform and Python version),
 * packed into the code ConfigMap, unpacked and imported by the runtime. The package index is a local
 * wheel directory this test builds with `pip wheel` (no index is reachable here): PIP_NO_INDEX +
 * PIP_FIND_LINKS, the way a private index is configured.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, PythonFunction } from '../../constructs';
import { codeMap, errorOf, expectValid, newPlatform, synth } from '../constructs/helpers';
import { PythonRuntimeProcess, stopAllPython, testPython } from './process';

const WHEEL_BACKEND = `
import base64, hashlib, os, zipfile

NAME, VERSION = "kftinydep", "1.0"
DIST = f"{NAME}-{VERSION}.dist-info"
FILES = {
    f"{NAME}/__init__.py": open(os.path.join(NAME, "__init__.py"), "rb").read(),
    f"{DIST}/METADATA": f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n".encode(),
    f"{DIST}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: kubefaas-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}

def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    filename = f"{NAME}-{VERSION}-py3-none-any.whl"
    record = [_record_line(n, d) for n, d in FILES.items()] + [f"{DIST}/RECORD,,"]
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for n, d in FILES.items():
            zf.writestr(n, d)
        zf.writestr(f"{DIST}/RECORD", "\\n".join(record) + "\\n")
    return filename
`;

const work = mkdtempSync(join(tmpdir(), 'kubefaas-pydeps-'));
const wheels = join(work, 'wheels');
let wheelFile = '';
const savedEnv: Record<string, string | undefined> = {};

function setEnv(name: string, value: string): void {
  if (!(name in savedEnv)) savedEnv[name] = process.env[name];
  process.env[name] = value;
}

beforeAll(() => {
  const python = testPython();
  setEnv('KUBEFAAS_PYTHON', python);
  // A tiny package with a module and a data file in a subdirectory of the wheel.
  const src = join(work, 'src');
  mkdirSync(join(src, 'kftinydep'), { recursive: true });
  writeFileSync(
    join(src, 'kftinydep', '__init__.py'),
    'def greet(name):\n    return "hi " + name + " from kftinydep"\n',
  );
  // An in-tree PEP 517 backend (standard library only), so `pip wheel` needs neither setuptools nor wheel.
  writeFileSync(
    join(src, 'pyproject.toml'),
    '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n',
  );
  writeFileSync(join(src, 'backend.py'), WHEEL_BACKEND);
  const built = spawnSync(
    python,
    ['-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '--quiet', '-w', wheels, src],
    { encoding: 'utf8' },
  );
  if (built.status !== 0)
    throw new Error(`pip wheel failed (the test needs pip and setuptools for ${python}): ${built.stderr}`);
  wheelFile = readdirSync(wheels).find((f) => f.endsWith('.whl'))!;
  // Only the test's wheel directory: no index, and no pip configuration of this machine.
  setEnv('PIP_CONFIG_FILE', devNull);
  setEnv('PIP_NO_INDEX', '1');
  setEnv('PIP_FIND_LINKS', wheels);
  setEnv('KUBEFAAS_PIP_CACHE', join(work, 'cache'));
});

afterAll(async () => {
  await stopAllPython();
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(work, { recursive: true, force: true });
});

const HANDLER = 'import kftinydep\n\ndef main(event, context):\n    return kftinydep.greet(event.text())\n';

function codeDir(requirements: string): string {
  const dir = mkdtempSync(join(work, 'code-'));
  writeFileSync(join(dir, 'handler.py'), HANDLER);
  writeFileSync(join(dir, 'requirements.txt'), requirements);
  return dir;
}

it('packs the wheels beside the code, and the runtime imports them', async () => {
  expect(wheelFile).toBe('kftinydep-1.0-py3-none-any.whl');
  const platform = newPlatform();
  new PythonFunction(platform, 'greeter', {
    code: Code.fromAsset(codeDir('kftinydep==1.0\n')),
    handler: 'handler.main',
  });
  const objects = synth(platform);
  await expectValid(objects);
  const cm = codeMap(objects, 'greeter');
  expect(Object.keys(cm.data).sort()).toEqual(['handler.py', 'requirements.txt']);
  expect(Object.keys(cm.binaryData)).toEqual([wheelFile]);
  expect(Buffer.from(cm.binaryData[wheelFile], 'base64').equals(readFileSync(join(wheels, wheelFile)))).toBe(true);

  // What the pod sees: the ConfigMap's keys as files in the code directory.
  const mounted = mkdtempSync(join(work, 'mounted-'));
  for (const [name, text] of Object.entries(cm.data as Record<string, string>))
    writeFileSync(join(mounted, name), text);
  for (const [name, b64] of Object.entries(cm.binaryData as Record<string, string>))
    writeFileSync(join(mounted, name), Buffer.from(b64, 'base64'));
  const tmp = mkdtempSync(join(work, 'tmp-'));
  const rt = await PythonRuntimeProcess.start({}, { KUBEFAAS_CODE_DIR: mounted, TMPDIR: tmp });
  expect((await rt.request('/', { method: 'POST', body: 'ada' })).text).toBe('hi ada from kftinydep');
  expect(readdirSync(tmp).filter((d) => d.startsWith('kubefaas-deps-'))).toHaveLength(1);
});

it('honours hash-pinned requirements', () => {
  const sha = createHash('sha256')
    .update(readFileSync(join(wheels, wheelFile)))
    .digest('hex');
  expect(
    () =>
      new PythonFunction(newPlatform(), 'pinned', {
        code: Code.fromAsset(codeDir(`kftinydep==1.0 --hash=sha256:${sha}\n`)),
        handler: 'handler.main',
      }),
  ).not.toThrow();
  const wrong = errorOf(
    () =>
      new PythonFunction(newPlatform(), 'pinned', {
        code: Code.fromAsset(codeDir(`kftinydep==1.0 --hash=sha256:${'0'.repeat(64)}\n`)),
        handler: 'handler.main',
      }),
  );
  expect(wrong.message).toMatch(
    /platform\/pinned.*pip could not download wheels for Python 3\.13.*Expected sha256 0{64}/s,
  );
});

it('reports a requirement pip cannot resolve, with what to do', () => {
  const err = errorOf(
    () =>
      new PythonFunction(newPlatform(), 'missing', {
        code: Code.fromAsset(codeDir('kf-no-such-package==9.9\n')),
        handler: 'handler.main',
      }),
  );
  expect(err.message).toMatch(
    /pip could not download wheels for Python 3\.13 on manylinux2014_x86_64 from .*requirements\.txt: .*kf-no-such-package/s,
  );
  expect(err.message).toMatch(/ContainerFunction/);
});

it('an empty requirements.txt adds nothing', () => {
  const platform = newPlatform();
  new PythonFunction(platform, 'empty', { code: Code.fromAsset(codeDir('# nothing yet\n')), handler: 'handler.main' });
  expect(codeMap(synth(platform), 'empty').binaryData).toBeUndefined();
});
