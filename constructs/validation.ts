import { Duration, Size, SizeRoundingBehavior } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { Env, FUNCTION_NAME_HINT, RESERVED_NAME_PREFIX, isFunctionName } from '../src/contract';
import { ValidationError } from './errors';

// Syntax rules of Kubernetes names, in one place (k8s.io/apimachinery/pkg/util/validation).
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const RESERVED_PREFIX = RESERVED_NAME_PREFIX;

export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

/** Function names follow the contract's rule (`isFunctionName`, a DNS-1035 label) and avoid the platform's prefix. */
export function validateFunctionName(scope: IConstruct, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ValidationError(scope, 'the function name is empty', 'Give the construct an id or set `functionName`');
  }
  if (!isFunctionName(name)) {
    throw new ValidationError(
      scope,
      `function name '${name}' is not a valid Kubernetes Service name (DNS-1035 label)`,
      `${FUNCTION_NAME_HINT} (set \`functionName\` if the construct id does not fit)`,
    );
  }
  if (name.startsWith(RESERVED_PREFIX)) {
    throw new ValidationError(
      scope,
      `function name '${name}' starts with the reserved prefix '${RESERVED_PREFIX}'`,
      'Platform components use that prefix; choose another name',
    );
  }
  return name;
}

export function validateNamespaceName(scope: IConstruct, name: unknown): string {
  if (typeof name !== 'string' || !isDns1123Label(name)) {
    throw new ValidationError(
      scope,
      `namespace '${String(name)}' is not a valid DNS-1123 label`,
      'Use at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit',
    );
  }
  return name;
}

/** A cluster DNS domain (`cluster.local`, `k8s.example.internal`): a DNS-1123 subdomain without a trailing dot. */
export function validateClusterDomain(scope: IConstruct, domain: unknown): string {
  if (typeof domain !== 'string' || !isDns1123Subdomain(domain)) {
    throw new ValidationError(
      scope,
      `clusterDomain '${String(domain)}' is not a valid DNS domain`,
      "Use the kubelet's --cluster-domain, e.g. 'cluster.local' (lower case, no trailing dot)",
    );
  }
  return domain;
}

/** Env var names Kubernetes accepts, minus the ones our runtime owns. */
export function validateEnvName(scope: IConstruct, name: unknown): string {
  if (typeof name !== 'string' || !ENV_NAME.test(name)) {
    throw new ValidationError(
      scope,
      `invalid environment variable name '${String(name)}'`,
      'Use letters, digits, "_", "-" and ".", not starting with a digit (e.g. API_URL)',
    );
  }
  if (name === Env.PORT || name.startsWith('KUBEFAAS_')) {
    throw new ValidationError(
      scope,
      `environment variable '${name}' is reserved by the kubefaas runtime`,
      'Rename it; PORT and KUBEFAAS_* are set by the platform',
    );
  }
  return name;
}

/** A reference to a Secret/ConfigMap key: the object name is a DNS-1123 subdomain, the key a config key. */
export function validateKeyReference(scope: IConstruct, what: string, name: unknown, key: unknown): void {
  if (typeof name !== 'string' || !isDns1123Subdomain(name)) {
    throw new ValidationError(
      scope,
      `${what} name '${String(name)}' is not a valid DNS-1123 subdomain`,
      `Use the exact name of the ${what} in the namespace`,
    );
  }
  if (typeof key !== 'string' || key.length > 253 || !CONFIG_KEY.test(key)) {
    throw new ValidationError(
      scope,
      `${what} key '${String(key)}' is invalid`,
      'Keys consist of letters, digits, "-", "_" and "."',
    );
  }
}

/** User labels: Kubernetes syntax, and nothing in our own `kubefaas.dev/` namespace. */
export function validateLabels(scope: IConstruct, labels: Readonly<Record<string, string>>): Record<string, string> {
  return checkLabels(scope, labels, true);
}

/**
 * A label selector's labels: the same syntax as labels we set, but any key, because it selects
 * someone else's pods (`app.kubernetes.io/name: grafana`) or ours (`kubefaas.dev/component`).
 */
export function validateSelectorLabels(
  scope: IConstruct,
  labels: Readonly<Record<string, string>>,
): Record<string, string> {
  return checkLabels(scope, labels, false);
}

function checkLabels(
  scope: IConstruct,
  labels: Readonly<Record<string, string>>,
  refuseOwnKeys: boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    const keyOk = name.length <= 63 && LABEL_NAME.test(name) && (prefix === undefined || isDns1123Subdomain(prefix));
    if (!keyOk) {
      throw new ValidationError(
        scope,
        `invalid label key '${key}'`,
        'Use an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or "."',
      );
    }
    if (
      refuseOwnKeys &&
      (prefix === 'kubefaas.dev' ||
        key === 'app.kubernetes.io/name' ||
        key === 'app.kubernetes.io/part-of' ||
        key === 'app.kubernetes.io/managed-by')
    ) {
      throw new ValidationError(
        scope,
        `label '${key}' is set by kubefaas`,
        'Choose a label outside kubefaas.dev/ and the app.kubernetes.io/ keys kubefaas sets',
      );
    }
    if (typeof value !== 'string' || (value !== '' && (value.length > 63 || !LABEL_NAME.test(value)))) {
      throw new ValidationError(
        scope,
        `invalid value '${String(value)}' for label '${key}'`,
        'Use at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit',
      );
    }
    out[key] = value;
  }
  return out;
}

/** What is wrong with a value that must be an integer in [min, max], if anything; `what` names the prop. */
export function integerProblem(
  what: string,
  value: unknown,
  min: number,
  max: number,
): { readonly problem: string; readonly fix: string } | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return undefined;
  return {
    problem: `${what} must be a whole number between ${min} and ${max}, got ${String(value)}`,
    fix: `Set ${what} within that range`,
  };
}

/** An integer in [min, max]; `what` names the prop in the message. */
export function validateInteger(scope: IConstruct, what: string, value: unknown, min: number, max: number): number {
  const found = integerProblem(what, value, min, max);
  if (found) throw new ValidationError(scope, found.problem, found.fix);
  return value as number;
}

/** A Duration in [min, max], returned in whole milliseconds. */
export function durationMillis(scope: IConstruct, what: string, value: Duration, min: Duration, max: Duration): number {
  const ms = value instanceof Duration ? value.toMilliseconds({ integral: false }) : NaN;
  const lo = min.toMilliseconds();
  const hi = max.toMilliseconds();
  if (!Number.isFinite(ms) || !Number.isInteger(ms) || ms < lo || ms > hi) {
    throw new ValidationError(
      scope,
      `${what} must be a whole number of milliseconds between ${min.toHumanString()} and ${max.toHumanString()}, got ${value instanceof Duration ? value.toHumanString() : String(value)}`,
      `Use e.g. Duration.seconds(30)`,
    );
  }
  return ms;
}

/** A Size in [min, max] bytes, returned in bytes. */
export function sizeBytes(scope: IConstruct, what: string, value: Size, minBytes: number, maxBytes: number): number {
  const bytes = value instanceof Size ? value.toKibibytes({ rounding: SizeRoundingBehavior.NONE }) * 1024 : NaN;
  if (!Number.isFinite(bytes) || !Number.isInteger(bytes) || bytes < minBytes || bytes > maxBytes) {
    throw new ValidationError(
      scope,
      `${what} must be a whole number of bytes between ${formatBytes(minBytes)} and ${formatBytes(maxBytes)}, got ${Number.isFinite(bytes) ? formatBytes(bytes) : String(bytes)}`,
      'Use e.g. Size.mebibytes(128)',
    );
  }
  return bytes;
}

/** A Cpu amount in [min, max] millicores, returned in millicores. */
export function cpuMillis(scope: IConstruct, what: string, value: Cpu, minMillis: number, maxMillis: number): number {
  const amount = value instanceof Cpu ? value.amount : undefined;
  const match = typeof amount === 'string' ? /^(\d+(?:\.\d+)?)(m?)$/.exec(amount) : null;
  let millis = NaN;
  if (match) {
    const n = Number(match[1]);
    millis = match[2] === 'm' ? n : Math.round(n * 1000 * 1e6) / 1e6;
  }
  if (!Number.isInteger(millis) || millis < minMillis || millis > maxMillis) {
    throw new ValidationError(
      scope,
      `${what} must be a whole number of millicores between ${minMillis}m and ${maxMillis}m, got ${String(amount)}`,
      'Use e.g. Cpu.millis(100)',
    );
  }
  return millis;
}

/** Kubernetes quantity for a byte count, in the largest binary unit that divides it. */
export function bytesQuantity(bytes: number): string {
  if (bytes % (1024 * 1024 * 1024) === 0) return `${bytes / (1024 * 1024 * 1024)}Gi`;
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}Mi`;
  if (bytes % 1024 === 0) return `${bytes / 1024}Ki`;
  return String(bytes);
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(2).replace(/\.?0+$/, '')} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1).replace(/\.0$/, '')} KiB`;
  return `${bytes} bytes`;
}
