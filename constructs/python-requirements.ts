import { IConstruct } from 'constructs';
import { ValidationError } from './errors';

/**
 * What synth needs to know about a `requirements.txt` (pip's format: one requirement or option per
 * logical line, `\` continues a line, `#` after whitespace starts a comment): the files it includes,
 * the URLs pip will fetch from (for the egress rule), and whether it is hash-pinned. pip itself still
 * reads the file; this is only the part synth can check without a package index.
 */
/** The file a PythonFunction's dependencies are listed in, at the top of its code directory. */
export const REQUIREMENTS_FILE = 'requirements.txt';

export interface RequirementsInfo {
  /** The requirements file and every file it includes (`-r`, `-c`), by file name, in order. */
  readonly files: readonly string[];
  /** Index, find-links and direct-reference URLs named in the files. */
  readonly urls: readonly string[];
  /** `--no-index` appears in a file. */
  readonly noIndex: boolean;
  /** Requirements (`name…` lines, not those of constraint files), with whether each carries a `--hash`. */
  readonly requirements: readonly { readonly text: string; readonly hashed: boolean; readonly file: string }[];
  /** Some requirement carries `--hash`: pip then needs every one hash-pinned (`--require-hashes`). */
  readonly hashPinned: boolean;
}

const INCLUDE = /^(-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)$/;
const URL_OPTION = /^(?:-i|--index-url|--extra-index-url|-f|--find-links)(?:\s+|=)(\S+)$/;
const URL = /\b[a-z][a-z0-9+.-]*:\/\/[^\s;]+/gi;

/** Splits pip's format into logical lines without comments. */
export function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let current = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, '');
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' ';
      continue;
    }
    const joined = (current + line).trim();
    current = '';
    if (joined !== '') lines.push(joined);
  }
  if (current.trim() !== '') lines.push(current.trim());
  return lines;
}

/**
 * Reads `requirements.txt` and what it includes from `files` (the code directory's top-level files),
 * for an install in the pod (installAtStart), where only these files exist: local paths, editable
 * installs and VCS URLs are errors with what to do instead.
 */
export function readRequirements(
  scope: IConstruct,
  files: ReadonlyMap<string, Buffer>,
  entry: string,
): RequirementsInfo {
  const order: string[] = [];
  const urls: string[] = [];
  const requirements: { text: string; hashed: boolean; file: string }[] = [];
  let noIndex = false;
  const visit = (name: string, from?: string, constraints = false): void => {
    if (order.includes(name)) return;
    const content = files.get(name);
    if (content === undefined || name.includes('/') || name.includes('\\')) {
      throw new ValidationError(
        scope,
        `${from ?? 'the code'} includes '${name}', which is not a top-level file of the code directory`,
        `Put ${name.split(/[\\/]/).pop()} beside requirements.txt and include it by its file name`,
      );
    }
    order.push(name);
    for (const line of logicalLines(content.toString('utf8'))) {
      const include = INCLUDE.exec(line);
      if (include) {
        visit(include[2], name, constraints || include[1].startsWith('-c') || include[1] === '--constraint');
        continue;
      }
      const option = URL_OPTION.exec(line);
      if (option) {
        urls.push(option[1]);
        continue;
      }
      if (/^--no-index\b/.test(line)) {
        noIndex = true;
        continue;
      }
      if (/^(?:-e|--editable)\b/.test(line)) {
        throw new ValidationError(
          scope,
          `${name} has an editable requirement ('${line}'), which pip cannot install in the pod`,
          'Publish the package as a wheel to your index and list it by name and version',
        );
      }
      if (line.startsWith('-')) continue; // --pre, --prefer-binary, --trusted-host, …: pip's business
      if (/^(?:\.{1,2}[\\/]|[\\/]|file:|[a-z]:\\)/i.test(line)) {
        throw new ValidationError(
          scope,
          `${name} names a local path ('${line}'); in the pod only requirements.txt and the files it includes exist`,
          'Publish the package to your index (or a --find-links URL) and list it by name and version',
        );
      }
      if (/^(?:\S+\s*@\s*)?(?:git|hg|svn|bzr)\+/i.test(line)) {
        throw new ValidationError(
          scope,
          `${name} has a VCS requirement ('${line}'), which needs git in the pod (the python slim image has none) and cannot be hash-pinned`,
          'Build a wheel of it, publish it to your index (or a --find-links URL) and list it by name and version',
        );
      }
      for (const url of line.match(URL) ?? []) urls.push(url);
      // A constraint only narrows versions; pip's hash checking covers what is installed.
      if (constraints) continue;
      requirements.push({
        text: line.split(/\s+--hash/)[0].trim(),
        hashed: /(?:^|\s)--hash[=\s]/.test(line),
        file: name,
      });
    }
  };
  visit(entry);
  const hashPinned = requirements.some((r) => r.hashed);
  if (hashPinned) {
    const unpinned = requirements.filter((r) => !r.hashed || !/={2,3}/.test(r.text));
    if (unpinned.length > 0) {
      throw new ValidationError(
        scope,
        `${entry} is hash-pinned (pip then runs with --require-hashes), but ${unpinned
          .map((r) => `'${r.text}' (${r.file})`)
          .join(', ')} ${unpinned.length === 1 ? 'is' : 'are'} not pinned with == and --hash`,
        'Pin every requirement, dependencies included, with ==version and --hash=sha256:… (pip-compile --generate-hashes writes such a file)',
      );
    }
  }
  return { files: order, urls, noIndex, requirements, hashPinned };
}
