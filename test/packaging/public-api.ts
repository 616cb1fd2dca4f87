/**
 * The public API of an installed kubefaas package, as its users see it: for every entry point, the
 * names `require()` returns at run time (values) and the names its published `.d.ts` exports that
 * are types only. Compared against test/packaging/public-api.json by pack.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { run } from './commands';

export const ENTRY_POINTS = ['kubefaas', 'kubefaas/pulumi', 'kubefaas/local', 'kubefaas/refs'] as const;

export interface EntryPointApi {
  /** Names of the run-time exports (Object.keys of the module), sorted. */
  readonly values: readonly string[];
  /** Names the .d.ts exports that have no run-time value (interfaces, type aliases), sorted. */
  readonly types: readonly string[];
}

export type PublicApi = Record<(typeof ENTRY_POINTS)[number], EntryPointApi>;

export const PUBLIC_API_FILE = path.join(__dirname, 'public-api.json');

/** How a deliberate change of the API is recorded (printed when the comparison fails). */
export const UPDATE_HINT =
  'The public API of the packed package changed. If that is on purpose, record it with ' +
  '`UPDATE_PUBLIC_API=1 npx jest test/packaging/pack.test.ts` and commit test/packaging/public-api.json ' +
  '(and say so in docs/constructs.md); otherwise export the name again, or stop exporting it, in ' +
  'constructs/index.ts, stacks/index.ts or src/local/index.ts.';

/**
 * Run-time export names of each entry point, required from `project` the way a user's program does.
 * `nodePath` lets the Pulumi entry find its (optional, peer) Pulumi SDK when the project lacks it.
 */
export async function runtimeExports(project: string, nodePath: string): Promise<Record<string, string[]>> {
  const script = `console.log(JSON.stringify(Object.fromEntries(${JSON.stringify(ENTRY_POINTS)}.map((e) => [e, Object.keys(require(e)).sort()]))));`;
  const { stdout } = await run(process.execPath, ['-e', script], {
    cwd: project,
    env: { ...process.env, NODE_PATH: nodePath },
  });
  return JSON.parse(stdout) as Record<string, string[]>;
}

/** Export names of a declaration file, as the TypeScript checker sees the module. */
export function declarationExports(dtsFile: string): string[] {
  const program = ts.createProgram([dtsFile], {
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
  });
  const source = program.getSourceFile(dtsFile);
  if (!source) throw new Error(`cannot read ${dtsFile}`);
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`${dtsFile} is not a module`);
  return checker
    .getExportsOfModule(moduleSymbol)
    .map((s) => s.getName())
    .sort();
}

/** The declaration file an entry point's `types` condition names, in the installed package. */
export function typesFile(installed: string, entry: (typeof ENTRY_POINTS)[number]): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')) as {
    exports: Record<string, { types: string }>;
  };
  const key = entry === 'kubefaas' ? '.' : `./${entry.slice('kubefaas/'.length)}`;
  return path.join(installed, pkg.exports[key].types);
}
