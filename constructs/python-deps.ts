import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IConstruct } from 'constructs';
import { ValidationError } from './errors';

/**
 * A PythonFunction's `requirements.txt`, resolved at synth into wheels for the image's platform and
 * Python version with `pip download --only-binary=:all:` (no build step, nothing compiled here). The
 * wheels travel in the code ConfigMap (binaryData) and the runtime unpacks them into /tmp at start.
 *
 * pip is configured the usual way: `PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL`, `PIP_FIND_LINKS`,
 * `PIP_NO_INDEX` (and pip.conf) apply, and `--hash` pins in the file are enforced (pip turns on
 * --require-hashes by itself). Results are cached per machine, keyed by the requirements, the
 * Python version, the platform and that pip configuration.
 */

/** Platforms of the official python images (Debian bookworm, glibc 2.36) on amd64. */
export const WHEEL_PLATFORMS: readonly string[] = [
  'manylinux2014_x86_64',
  'manylinux_2_17_x86_64',
  'manylinux_2_28_x86_64',
  'manylinux_2_34_x86_64',
  'linux_x86_64',
];

const PIP_ENV = ['PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_FIND_LINKS', 'PIP_NO_INDEX', 'PIP_CONFIG_FILE'];

function cacheRoot(): string {
  return process.env.KUBEFAAS_PIP_CACHE || path.join(os.tmpdir(), 'kubefaas-pip-wheels');
}

/** Wheel file name → content, for the requirements file at `requirementsPath`. */
export function resolveRequirements(
  scope: IConstruct,
  requirementsPath: string,
  pythonVersion: string,
  python: string,
): Map<string, Buffer> {
  const requirements = fs.readFileSync(requirementsPath, 'utf8');
  const wheels = new Map<string, Buffer>();
  if (requirements.split('\n').every((line) => line.replace(/#.*/, '').trim() === '')) return wheels;
  const key = createHash('sha256')
    .update(
      JSON.stringify([
        requirements,
        path.dirname(requirementsPath),
        pythonVersion,
        WHEEL_PLATFORMS,
        python,
        PIP_ENV.map((n) => process.env[n] ?? null),
      ]),
    )
    .digest('hex')
    .slice(0, 32);
  const dir = path.join(cacheRoot(), key);
  const done = path.join(dir, '.complete');
  if (!fs.existsSync(done)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const abi = `cp${pythonVersion.replace('.', '')}`;
    const args = [
      '-m',
      'pip',
      'download',
      '--disable-pip-version-check',
      '--no-input',
      '--quiet',
      '--only-binary=:all:',
      ...WHEEL_PLATFORMS.flatMap((p) => ['--platform', p]),
      '--python-version',
      pythonVersion,
      '--implementation',
      'cp',
      '--abi',
      abi,
      '--abi',
      'abi3',
      '--abi',
      'none',
      '--dest',
      dir,
      '--requirement',
      requirementsPath,
    ];
    // Relative paths and `-r other.txt` inside the file resolve against its directory.
    // env given explicitly: the pip settings are read from this process's environment as it is now.
    const run = spawnSync(python, args, {
      cwd: path.dirname(requirementsPath),
      encoding: 'utf8',
      timeout: 10 * 60_000,
      env: process.env,
    });
    if (run.error) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new ValidationError(
        scope,
        `resolving ${requirementsPath} needs ${python} with pip at synth, which cannot be run (${run.error.message})`,
        'Install python3 and pip where you synthesize (Debian: python3 python3-pip), or set KUBEFAAS_PYTHON to an interpreter that has pip',
      );
    }
    if (run.status !== 0) {
      fs.rmSync(dir, { recursive: true, force: true });
      const reason = (run.stderr || run.stdout)
        .trim()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(-3)
        .join(' | ');
      throw new ValidationError(
        scope,
        `pip could not download wheels for Python ${pythonVersion} on ${WHEEL_PLATFORMS[0]} from ${requirementsPath}: ${reason}`,
        'Check the names and versions; a package without a wheel for that platform needs a ContainerFunction (an image that builds it); a private index is set with PIP_INDEX_URL or PIP_FIND_LINKS',
      );
    }
    fs.writeFileSync(done, '');
  }
  for (const name of fs.readdirSync(dir).sort()) {
    if (!name.endsWith('.whl')) continue;
    wheels.set(name, fs.readFileSync(path.join(dir, name)));
  }
  return wheels;
}
