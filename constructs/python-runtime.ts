import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IConstruct } from 'constructs';
import { Labels, PythonPaths } from '../src/contract';
import { CodeConfigMap } from './code-config-map';
import { Platform } from './platform';
import { packageRoot } from './pod-code';
import { validateImage } from './image';
import { ValidationError } from './errors';

/** Name of the shared ConfigMap carrying the Python runtime (src/runtime-python/*.py). */
export const PYTHON_RUNTIME_CONFIGMAP = 'kubefaas-python-runtime';

/**
 * The Python a PythonFunction runs on: an official `python` image, pinned to a patch release (a
 * floating tag would change the interpreter under a running app), and its `major.minor` version
 * (what the synth-time checks and dependency resolution target).
 */
export class PythonRuntime {
  /** Python 3.13 on the official image `python:3.13.7-slim-bookworm`. */
  public static readonly PYTHON_3_13 = new PythonRuntime('3.13', 'python:3.13.7-slim-bookworm');
  /** Python 3.12 on the official image `python:3.12.11-slim-bookworm`. */
  public static readonly PYTHON_3_12 = new PythonRuntime('3.12', 'python:3.12.11-slim-bookworm');

  /**
   * Another image with a `python3` on its PATH (e.g. a mirror of the official one, or a digest).
   * The image must run as a non-root numeric user (the pod sets uid 1000) with a read-only root.
   * @param version the image's Python `major.minor`, e.g. `3.13`
   */
  public static fromImage(image: string, version: string): PythonRuntime {
    return new PythonRuntime(version, image);
  }

  private constructor(
    /** `major.minor`, e.g. `3.13`. */
    public readonly version: string,
    public readonly image: string,
  ) {}

  /** Checks the values (they may come from plain JavaScript); errors name `scope`. */
  public validate(scope: IConstruct): void {
    validateImage(scope, 'runtime image', this.image);
    if (typeof this.version !== 'string' || !/^3\.\d{1,2}$/.test(this.version)) {
      throw new ValidationError(
        scope,
        `runtime version '${String(this.version)}' is not a Python 3 major.minor`,
        "Pass e.g. PythonRuntime.fromImage('python:3.13.7-slim-bookworm', '3.13')",
      );
    }
  }
}

interface RuntimeFiles {
  readonly files: Readonly<Record<string, string>>;
  readonly sha256: string;
}

let runtimeFiles: RuntimeFiles | undefined;

/**
 * The Python runtime's files, read once per process: from src/runtime-python/ in a checkout (always
 * the current sources), else from lib/pod/python-runtime/ (the copy `npm run build` makes, which is
 * what an installed package has).
 */
export function pythonRuntimeFiles(): RuntimeFiles {
  if (runtimeFiles) return runtimeFiles;
  const root = packageRoot(__dirname);
  const sources = path.join(root, 'src', 'runtime-python');
  const dir = fs.existsSync(sources) ? sources : path.join(root, 'lib', 'pod', 'python-runtime');
  const names = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((name) => name.endsWith('.py'))
        .sort()
    : [];
  if (!names.includes(PythonPaths.runtimeMain))
    throw new Error(`kubefaas: the Python runtime is missing from ${dir}; reinstall kubefaas`);
  const hash = createHash('sha256');
  const files: Record<string, string> = {};
  for (const name of names) {
    files[name] = fs.readFileSync(path.join(dir, name), 'utf8');
    hash.update(name).update('\0').update(files[name]).update('\0');
  }
  runtimeFiles = { files, sha256: hash.digest('hex') };
  return runtimeFiles;
}

/** The platform's Python runtime ConfigMap (created on first use), like the Node runtime bundle's. */
export function usePythonRuntime(platform: Platform): { configMap: string; sha256: string } {
  const runtime = pythonRuntimeFiles();
  const existing = platform.node.tryFindChild('PythonRuntimeCode') as CodeConfigMap | undefined;
  const configMap =
    existing ??
    new CodeConfigMap(platform, 'PythonRuntimeCode', {
      baseName: PYTHON_RUNTIME_CONFIGMAP,
      namespace: platform.namespace,
      codeOf: PYTHON_RUNTIME_CONFIGMAP,
      labels: { [Labels.component]: 'python-runtime' },
      data: runtime.files,
      sha256: runtime.sha256,
    });
  return { configMap: configMap.configMapName, sha256: runtime.sha256 };
}
