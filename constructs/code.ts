import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { IConstruct } from 'constructs';
import { Paths } from '../src/contract';
import { ValidationError } from './errors';
import { formatBytes } from './validation';

/** Kubernetes rejects a ConfigMap whose data (keys + values) exceeds 1 MiB. */
export const CONFIGMAP_DATA_LIMIT = 1024 * 1024;
/** The largest function bundle that fits next to its key in the code ConfigMap. */
export const MAX_BUNDLE_BYTES = CONFIGMAP_DATA_LIMIT - Buffer.byteLength(Paths.functionFile);

/** What a function's code resolves to at synth time: one CommonJS module. */
export interface CodeConfig {
  /** The module source that goes into the function's code ConfigMap. */
  readonly source: string;
  /** sha256 of `source`, hex. */
  readonly sha256: string;
}

/** Options of `Code.fromAsset`. */
export interface AssetCodeOptions {
  /**
   * Modules left out of the bundle. Only for modules that are never loaded at run time (optional
   * dependencies) or that are Node built-ins: a function pod has no node_modules.
   * @default - everything the entry imports is bundled
   */
  readonly external?: readonly string[];
  /**
   * Minify the bundle.
   * @default true
   */
  readonly minify?: boolean;
}

/** The code of a NodeFunction. */
export abstract class Code {
  /**
   * A `.ts`/`.js` entry file (relative to the current directory, or absolute) bundled with its npm
   * dependencies by esbuild at synth time (platform node, target node20, CommonJS, minified).
   * The module exports the handler as its default export or as `handler`.
   */
  public static fromAsset(entry: string, options: AssetCodeOptions = {}): Code {
    return new AssetCode(entry, options);
  }

  /**
   * Handler source given inline (JavaScript or TypeScript without imports of npm packages), e.g.
   * `export default async () => 'hi'` or `module.exports = async () => 'hi'`.
   */
  public static fromInline(source: string): Code {
    return new InlineCode(source);
  }

  /** Produces the module source; `scope` is the function, named in error messages. */
  public abstract bind(scope: IConstruct): CodeConfig;

  /**
   * What the code was made from, for function kinds that package it themselves instead of bundling
   * it with esbuild (PythonFunction ships the files as they are).
   */
  public abstract readonly origin: CodeOrigin;
}

/** `Code.fromAsset(path)` → the resolved path; `Code.fromInline(source)` → the source text. */
export type CodeOrigin =
  { readonly kind: 'asset'; readonly path: string } | { readonly kind: 'inline'; readonly source: string };

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function checkBundleSize(scope: IConstruct, source: string, origin: string): void {
  const bytes = Buffer.byteLength(source);
  if (bytes > MAX_BUNDLE_BYTES) {
    throw new ValidationError(
      scope,
      `the bundle of ${origin} is ${formatBytes(bytes)} (${bytes} bytes); a ConfigMap holds at most ${formatBytes(MAX_BUNDLE_BYTES)} (${MAX_BUNDLE_BYTES} bytes)`,
      'Trim heavy dependencies, mark optional ones that are never loaded as external (Code.fromAsset(path, { external: [...] })), or package the function as an image and use a ContainerFunction',
    );
  }
}

function esbuildMessage(error: unknown): string {
  const failure = error as { errors?: esbuild.Message[]; message?: string };
  const first = failure.errors?.[0];
  if (first) {
    const where = first.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : '';
    return `${where}${first.text}`;
  }
  return String(failure.message ?? error);
}

interface CachedBundle extends CodeConfig {
  /** Source files (outside node_modules) and their mtimes when bundled. */
  readonly inputs: ReadonlyArray<readonly [string, number]>;
}

// Per process: 1000 functions sharing one handler file bundle it once; an edit invalidates it.
const assetCache = new Map<string, CachedBundle>();

function stillFresh(bundle: CachedBundle): boolean {
  for (const [file, mtime] of bundle.inputs) {
    try {
      if (fs.statSync(file).mtimeMs !== mtime) return false;
    } catch {
      return false;
    }
  }
  return true;
}

class AssetCode extends Code {
  private readonly entry: string;

  public get origin(): CodeOrigin {
    return { kind: 'asset', path: this.entry };
  }

  constructor(
    entry: string,
    private readonly options: AssetCodeOptions,
  ) {
    super();
    this.entry = typeof entry === 'string' ? path.resolve(entry) : '';
  }

  public bind(scope: IConstruct): CodeConfig {
    if (!this.entry)
      throw new ValidationError(scope, 'Code.fromAsset needs a file path', 'Pass the path of the handler file');
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(this.entry);
    } catch {
      stat = undefined;
    }
    if (!stat || !stat.isFile()) {
      throw new ValidationError(
        scope,
        `code file ${this.entry} does not exist`,
        `Check the path given to Code.fromAsset (relative paths resolve against the current directory, ${process.cwd()})`,
      );
    }
    const minify = this.options.minify ?? true;
    const external = [...(this.options.external ?? [])];
    const key = JSON.stringify([this.entry, minify, external]);
    const cached = assetCache.get(key);
    if (cached && stillFresh(cached)) return { source: cached.source, sha256: cached.sha256 };

    let result: esbuild.BuildResult & { outputFiles: esbuild.OutputFile[]; metafile: esbuild.Metafile };
    try {
      result = esbuild.buildSync({
        entryPoints: [this.entry],
        bundle: true,
        write: false,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        minify,
        external,
        legalComments: 'none',
        metafile: true,
        logLevel: 'silent',
        // the runtime loads one file; keep esbuild from splitting or emitting extra assets
        outfile: 'index.js',
      });
    } catch (error) {
      throw new ValidationError(
        scope,
        `bundling ${this.entry} failed: ${esbuildMessage(error)}`,
        'Fix the error in the handler or install the missing dependency',
      );
    }
    const output = result.outputFiles.find((f) => f.path.endsWith('.js'));
    const source = output ? output.text : '';
    checkBundleSize(scope, source, this.entry);

    const cwd = process.cwd();
    const inputs = Object.keys(result.metafile.inputs)
      .filter((file) => !file.includes('node_modules'))
      .map((file) => {
        const abs = path.resolve(cwd, file);
        return [abs, fs.statSync(abs).mtimeMs] as const;
      });
    const bundle: CachedBundle = { source, sha256: sha256(source), inputs };
    assetCache.set(key, bundle);
    return { source: bundle.source, sha256: bundle.sha256 };
  }
}

// Inline sources are transformed once per distinct text (a benchmark app repeats one source 1000×).
const inlineCache = new Map<string, CodeConfig>();

class InlineCode extends Code {
  constructor(private readonly text: string) {
    super();
  }

  public get origin(): CodeOrigin {
    return { kind: 'inline', source: this.text };
  }

  public bind(scope: IConstruct): CodeConfig {
    if (typeof this.text !== 'string' || this.text.trim() === '') {
      throw new ValidationError(
        scope,
        'Code.fromInline got an empty source',
        'Pass the handler module source, e.g. `module.exports = async () => "hi"`',
      );
    }
    const cached = inlineCache.get(this.text);
    if (cached) return cached;
    let source: string;
    try {
      // ESM or TypeScript in, CommonJS out: the runtime require()s the module.
      source = esbuild.transformSync(this.text, {
        loader: 'ts',
        format: 'cjs',
        target: 'node20',
        logLevel: 'silent',
      }).code;
    } catch (error) {
      throw new ValidationError(
        scope,
        `the inline code does not compile: ${esbuildMessage(error)}`,
        'Fix the syntax error in the source given to Code.fromInline',
      );
    }
    checkBundleSize(scope, source, 'the inline code');
    const config = { source, sha256: sha256(source) };
    inlineCache.set(this.text, config);
    return config;
  }
}
