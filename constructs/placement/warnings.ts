/**
 * Synth-time warnings. cdk8s has no warnings channel (AWS CDK's `Annotations` does not exist
 * there), so kubefaas keeps its own: a warning is recorded as construct metadata (type
 * `kubefaas:warning`, visible to tools walking the tree), printed once to stderr, and kept in a
 * process-wide list so tests can assert on it. Warnings never fail synthesis; errors go through
 * `node.addValidation` instead.
 */
import { IConstruct } from 'constructs';

/** Metadata type under which warnings are recorded on constructs. */
export const WARNING_METADATA_TYPE = 'kubefaas:warning';

/** One warning as recorded. */
export interface SynthWarning {
  /** Construct path the warning is about (or a free-form subject when there is no construct). */
  readonly path: string;
  /** Rule that produced it, e.g. `aci-v1/network-policy`. */
  readonly rule: string;
  readonly message: string;
}

const recorded: SynthWarning[] = [];
const seen = new Set<string>();

/** Options for {@link warn}. */
export interface WarnOptions {
  /**
   * Print the warning to stderr.
   * @default true unless KUBEFAAS_QUIET_WARNINGS=1
   */
  readonly print?: boolean;
}

/**
 * Records a warning for `scope` (a construct or a path) unless the same rule already warned about
 * the same path with the same message, then prints it once.
 */
export function warn(scope: IConstruct | string, rule: string, message: string, options: WarnOptions = {}): void {
  const path = typeof scope === 'string' ? scope : scope.node.path;
  const key = `${path}\u0000${rule}\u0000${message}`;
  if (seen.has(key)) return;
  seen.add(key);
  const warning: SynthWarning = { path, rule, message };
  recorded.push(warning);
  if (typeof scope !== 'string') scope.node.addMetadata(WARNING_METADATA_TYPE, `${rule}: ${message}`);
  const print = options.print ?? process.env.KUBEFAAS_QUIET_WARNINGS !== '1';
  if (print) process.stderr.write(`[kubefaas] warning: ${path}: ${message} (${rule})\n`);
}

/** Every warning recorded since the last {@link clearWarnings}, oldest first. */
export function recordedWarnings(): readonly SynthWarning[] {
  return [...recorded];
}

/** Forgets recorded warnings (tests call this between cases). */
export function clearWarnings(): void {
  recorded.length = 0;
  seen.clear();
}
