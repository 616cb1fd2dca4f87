/**
 * Python workloads in the local runner: a PythonFunction's pod runs `python3 <runtime>` on an official
 * `python:*` image; locally the same command runs on the developer's python3 (`KUBEFAAS_PYTHON`
 * overrides which one). A different major.minor than the image's is a warning, like Node's.
 */
import { spawnSync } from 'node:child_process';

const PYTHON_IMAGE = /^(?:(?:docker\.io|index\.docker\.io)\/)?(?:library\/)?python(?::([^@]+))?(?:@.+)?$/;

export function isPythonImage(image: string): boolean {
  return PYTHON_IMAGE.test(image);
}

/** `major.minor` of a `python:<tag>` image when the tag says it (`python:3.13.7-slim` → `3.13`). */
export function pythonImageVersion(image: string): string | undefined {
  const tag = PYTHON_IMAGE.exec(image)?.[1];
  const m = tag && /^(\d+)\.(\d+)/.exec(tag);
  return m ? `${m[1]}.${m[2]}` : undefined;
}

/** The commands a python image's container may start with to run on the local interpreter. */
export function isPythonCommand(file: string | undefined): boolean {
  return file === 'python3' || file === 'python';
}

export interface LocalPython {
  readonly path: string;
  /** Full version (`3.11.7`), or undefined when it cannot be run. */
  readonly version: string | undefined;
}

const cache = new Map<string, LocalPython>();

/** The developer's interpreter (looked up once per path). */
export function localPython(env: Readonly<Record<string, string | undefined>> = process.env): LocalPython {
  const file = env.KUBEFAAS_PYTHON || 'python3';
  const cached = cache.get(file);
  if (cached) return cached;
  const run = spawnSync(file, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], {
    encoding: 'utf8',
    timeout: 10_000,
    env: { PATH: env.PATH ?? process.env.PATH ?? '' },
  });
  const version = !run.error && run.status === 0 ? run.stdout.trim() : undefined;
  const found = { path: file, version };
  cache.set(file, found);
  return found;
}

export function minorVersion(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}
