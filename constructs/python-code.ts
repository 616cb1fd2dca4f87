import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IConstruct } from 'constructs';
import { CONFIGMAP_DATA_LIMIT, Code } from './code';
import { ValidationError } from './errors';
import { resolveRequirements } from './python-deps';
import { REQUIREMENTS_FILE as REQUIREMENTS } from './python-requirements';
import { formatBytes } from './validation';

/**
 * Packaging of a PythonFunction's code: the files of the code directory (or the one file, or the
 * inline source) go into the function's code ConfigMap as they are — no build step — and the
 * handler `module.function` is checked at synth.
 */

/** What goes into the code ConfigMap. */
export interface PythonPackage {
  /** UTF-8 files, by file name (dependency wheels are binary: `*.whl` keys, unpacked by the runtime). */
  readonly data: Readonly<Record<string, string>>;
  /** Other files, base64, by file name. */
  readonly binaryData: Readonly<Record<string, string>>;
  /** sha256 of every file name and content, hex. */
  readonly sha256: string;
  /** Bytes the ConfigMap's data takes (keys + values, binary values base64-encoded). */
  readonly bytes: number;
  /** Every file by name (what the pod sees in the code directory). */
  readonly files: ReadonlyMap<string, Buffer>;
}

export interface ParsedHandler {
  readonly module: string;
  readonly function: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** ConfigMap keys: what Kubernetes accepts. */
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
/** Left out of the package: caches and editor/VCS files, never imported. */
const SKIPPED = (name: string): boolean => name.startsWith('.') || name === '__pycache__' || name.endsWith('.pyc');

/** Splits and checks `module.function`; only top-level modules of the code directory for now. */
export function parseHandler(scope: IConstruct, handler: unknown): ParsedHandler {
  const fix =
    "Name the handler as module.function, e.g. handler: 'handler.main' for `def main(event, context)` in handler.py";
  if (typeof handler !== 'string' || handler === '')
    throw new ValidationError(scope, 'PythonFunction needs `handler`', fix);
  const parts = handler.split('.');
  if (parts.length < 2 || !parts.every((p) => IDENTIFIER.test(p))) {
    throw new ValidationError(
      scope,
      `handler '${handler}' is not module.function (Python identifiers joined by dots)`,
      fix,
    );
  }
  if (parts.length > 2) {
    throw new ValidationError(
      scope,
      `handler '${handler}' names a module inside a package; PythonFunction ships only the top level of the code directory`,
      `Put the handler in a top-level module (e.g. ${parts[parts.length - 1]} in handler.py, handler: 'handler.${parts[parts.length - 1]}'), or use a ContainerFunction`,
    );
  }
  return { module: parts[0], function: parts[1] };
}

/**
 * Reads the code into ConfigMap data and checks the handler and the size. With `bundleDependencies`
 * the wheels of requirements.txt are resolved and packed too; without (an install at start) the file
 * ships alone.
 */
export function packagePythonCode(
  scope: IConstruct,
  code: Code,
  handler: ParsedHandler,
  pythonVersion: string,
  bundleDependencies = true,
): PythonPackage {
  if (!(code instanceof Code)) {
    throw new ValidationError(
      scope,
      'PythonFunction needs `code`',
      "Pass Code.fromAsset('functions/resize') (a directory with handler.py) or Code.fromInline(source)",
    );
  }
  const files = codeFiles(scope, code, handler, pythonVersion, bundleDependencies);
  const moduleFile = `${handler.module}.py`;
  const source = files.get(moduleFile);
  if (source === undefined) {
    throw new ValidationError(
      scope,
      `handler module '${handler.module}' needs ${moduleFile} in the code, which has ${[...files.keys()].join(', ') || 'no files'}`,
      `Add ${moduleFile} or change the handler's module name`,
    );
  }
  checkHandlerSource(scope, source.toString('utf8'), moduleFile, handler.function, pythonVersion);

  const data: Record<string, string> = {};
  const binaryData: Record<string, string> = {};
  const hash = createHash('sha256');
  let bytes = 0;
  let wheelBytes = 0;
  for (const [name, content] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    hash.update(name).update('\0').update(content).update('\0');
    const text = utf8(content);
    if (text !== undefined) {
      data[name] = text;
      bytes += Buffer.byteLength(name) + content.length;
    } else {
      binaryData[name] = content.toString('base64');
      bytes += Buffer.byteLength(name) + binaryData[name].length;
      if (name.endsWith('.whl')) wheelBytes += Buffer.byteLength(name) + binaryData[name].length;
    }
  }
  if (bytes > CONFIGMAP_DATA_LIMIT) {
    const limit = `a ConfigMap holds at most ${formatBytes(CONFIGMAP_DATA_LIMIT)} (${CONFIGMAP_DATA_LIMIT} bytes)`;
    if (wheelBytes > 0) {
      throw new ValidationError(
        scope,
        `the code is ${formatBytes(bytes)} (${bytes} bytes), ${formatBytes(wheelBytes)} of it the wheels of requirements.txt; ${limit}`,
        'Install the dependencies when the pod starts instead: dependencies: PythonDependencies.installAtStart() (an init container runs pip install; the pods need egress to the index, and every cold start waits for the install: docs/python.md), or package the function as an image and use a ContainerFunction',
      );
    }
    throw new ValidationError(
      scope,
      `the code is ${formatBytes(bytes)} (${bytes} bytes); ${limit}`,
      'Leave data files out of the code directory (load them from object storage at start), or package the function as an image and use a ContainerFunction',
    );
  }
  return { data, binaryData, sha256: hash.digest('hex'), bytes, files };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function utf8(content: Buffer): string | undefined {
  try {
    return decoder.decode(content);
  } catch {
    return undefined;
  }
}

function codeFiles(
  scope: IConstruct,
  code: Code,
  handler: ParsedHandler,
  pythonVersion: string,
  bundleDependencies: boolean,
): Map<string, Buffer> {
  const origin = code.origin;
  if (origin.kind === 'inline') {
    if (typeof origin.source !== 'string' || origin.source.trim() === '') {
      throw new ValidationError(
        scope,
        'Code.fromInline got an empty source',
        'Pass the handler module source, e.g. "def main(event, context):\\n    return \'hi\'"',
      );
    }
    return new Map([[`${handler.module}.py`, Buffer.from(origin.source, 'utf8')]]);
  }
  const location = origin.path;
  let stat: fs.Stats | undefined;
  try {
    stat = location ? fs.statSync(location) : undefined;
  } catch {
    stat = undefined;
  }
  if (!stat) {
    throw new ValidationError(
      scope,
      `code path ${location || '(none)'} does not exist`,
      `Pass Code.fromAsset with a directory holding ${handler.module}.py, or the .py file itself (relative paths resolve against ${process.cwd()})`,
    );
  }
  if (stat.isFile()) {
    if (!location.endsWith('.py')) {
      throw new ValidationError(
        scope,
        `code file ${location} is not a .py file`,
        'Pass a directory holding the handler module, or the handler .py file',
      );
    }
    return new Map([[path.basename(location), fs.readFileSync(location)]]);
  }
  const files = new Map<string, Buffer>();
  for (const entry of fs.readdirSync(location, { withFileTypes: true })) {
    const name = entry.name;
    if (SKIPPED(name)) continue;
    const full = path.join(location, name);
    if (entry.isDirectory()) {
      throw new ValidationError(
        scope,
        `the code directory ${location} has a subdirectory '${name}'; PythonFunction ships only the top-level files of the code directory`,
        'Flatten the modules into the top level of the code directory, move what is not code elsewhere, or use a ContainerFunction',
      );
    }
    if (!entry.isFile()) continue;
    if (name.endsWith('.whl')) {
      throw new ValidationError(
        scope,
        `the code directory ${location} has a wheel '${name}'`,
        'List the dependency in requirements.txt (a local wheel directory is reached with PIP_FIND_LINKS)',
      );
    }
    if (!CONFIGMAP_KEY.test(name)) {
      throw new ValidationError(
        scope,
        `file name '${name}' in ${location} cannot be a ConfigMap key`,
        'Rename it to letters, digits, -, _ and . only',
      );
    }
    files.set(name, fs.readFileSync(full));
  }
  // Resolved into wheels at synth (python-deps.ts); the file itself ships too (for reference, and
  // for an install at start, which reads it in the pod).
  if (bundleDependencies && files.has(REQUIREMENTS)) {
    for (const [wheel, content] of resolveRequirements(
      scope,
      path.join(location, REQUIREMENTS),
      pythonVersion,
      synthPython(),
    )) {
      if (!CONFIGMAP_KEY.test(wheel)) {
        throw new ValidationError(
          scope,
          `dependency wheel '${wheel}' cannot be a ConfigMap key`,
          'Pin a release of that package whose version has no local part (+...)',
        );
      }
      files.set(wheel, content);
    }
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// Handler check: Python's own parser when python3 is on the PATH, else a textual check.
// ---------------------------------------------------------------------------------------------

/** Lists the names a module defines at its top level (also inside if/try/with), or its syntax error. */
const AST_SCRIPT = String.raw`
import ast, json, sys
source = sys.stdin.buffer.read()
try:
    tree = ast.parse(source, filename=sys.argv[1])
except SyntaxError as e:
    print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "syntax": "%s (line %s, column %s)" % (e.msg, e.lineno, e.offset)}))
    sys.exit(0)
defined = {}
def visit(body):
    for node in body:
        if isinstance(node, ast.FunctionDef): defined[node.name] = "function"
        elif isinstance(node, ast.AsyncFunctionDef): defined[node.name] = "async function"
        elif isinstance(node, ast.ClassDef): defined[node.name] = "class"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                if isinstance(t, ast.Name): defined.setdefault(t.id, "value")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names: defined.setdefault((a.asname or a.name).split(".")[0], "import")
        elif isinstance(node, (ast.If, ast.With, ast.AsyncWith)): visit(node.body); visit(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            visit(node.body); visit(node.orelse); visit(node.finalbody)
            for h in node.handlers: visit(h.body)
visit(tree.body)
print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "defined": defined}))
`;

interface AstResult {
  readonly python: string;
  readonly syntax?: string;
  readonly defined?: Record<string, string>;
}

/** The interpreter the synth-time check runs; `KUBEFAAS_PYTHON` overrides (tests use it). */
export function synthPython(): string {
  return process.env.KUBEFAAS_PYTHON || 'python3';
}

const astCache = new Map<string, AstResult | undefined>();

/** Python's view of the module, or undefined when no python3 can be run here. */
function parseWithPython(source: string, file: string): AstResult | undefined {
  const key = createHash('sha256')
    .update(synthPython())
    .update('\0')
    .update(file)
    .update('\0')
    .update(source)
    .digest('hex');
  if (astCache.has(key)) return astCache.get(key);
  const run = spawnSync(synthPython(), ['-I', '-c', AST_SCRIPT, file], {
    input: source,
    encoding: 'utf8',
    timeout: 30_000,
    env: process.env,
  });
  let result: AstResult | undefined;
  if (!run.error && run.status === 0) {
    try {
      result = JSON.parse(run.stdout) as AstResult;
    } catch {
      result = undefined;
    }
  }
  astCache.set(key, result);
  return result;
}

function minorOf(version: string): number {
  return Number(version.split('.')[1] ?? 0);
}

export function checkHandlerSource(
  scope: IConstruct,
  source: string,
  file: string,
  fn: string,
  pythonVersion: string,
): void {
  const parsed = parseWithPython(source, file);
  if (parsed === undefined) {
    checkHandlerText(scope, source, file, fn);
    return;
  }
  if (parsed.syntax !== undefined) {
    // An older local Python may not know syntax the image's Python accepts: say so in the fix.
    const older = minorOf(parsed.python) < minorOf(pythonVersion);
    throw new ValidationError(
      scope,
      `${file} is not valid Python ${parsed.python}: ${parsed.syntax}`,
      older
        ? `Fix the syntax error in ${file}; if it is syntax newer than Python ${parsed.python} (the image runs ${pythonVersion}), point KUBEFAAS_PYTHON at a python${pythonVersion} for the synth-time check`
        : `Fix the syntax error in ${file}`,
    );
  }
  const kind = parsed.defined?.[fn];
  if (kind === undefined) {
    const functions = Object.entries(parsed.defined ?? {})
      .filter(([, k]) => k.endsWith('function'))
      .map(([n]) => n);
    throw new ValidationError(
      scope,
      `${file} defines no '${fn}'${functions.length ? ` (it defines ${functions.join(', ')})` : ''}`,
      `Define \`def ${fn}(event, context)\` (or async def) in ${file}, or change the handler's function name`,
    );
  }
  if (kind === 'class') {
    throw new ValidationError(
      scope,
      `'${fn}' in ${file} is a class, not a function`,
      `Define \`def ${fn}(event, context)\` in ${file}`,
    );
  }
}

/**
 * Without python3 at synth (documented in docs/python.md): the function must be defined, assigned
 * or imported at the start of a line (top level). Syntax errors surface when the pod starts.
 */
export function checkHandlerText(scope: IConstruct, source: string, file: string, fn: string): void {
  const escaped = fn.replace(/[$]/g, '\\$&');
  const defined = new RegExp(
    `^(?:(?:async\\s+)?def\\s+${escaped}\\s*\\(|${escaped}\\s*(?::[^=\\n]*)?=(?!=)|from\\s+\\S+\\s+import\\s+(?:\\(?[^\\n]*[\\s,(])?${escaped}\\b|import\\s+[^\\n]*\\bas\\s+${escaped}\\b)`,
    'm',
  );
  if (!defined.test(source)) {
    throw new ValidationError(
      scope,
      `${file} defines no top-level '${fn}' (checked textually: no python3 was found to parse it)`,
      `Define \`def ${fn}(event, context)\` at the top level of ${file}, or install python3 where you synthesize for an exact check`,
    );
  }
}
