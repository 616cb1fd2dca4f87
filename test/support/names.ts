/**
 * Kubernetes name and label syntax (apimachinery `validation.go`), returning a reason or undefined.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

export function dns1123LabelProblem(value: string): string | undefined {
  if (value.length > 63) return `"${value}" is longer than 63 characters`;
  if (!DNS1123_LABEL.test(value))
    return `"${value}" is not a DNS-1123 label (lowercase letters, digits and "-", starting and ending with a letter or digit)`;
  return undefined;
}

export function dns1123SubdomainProblem(value: string): string | undefined {
  if (value.length > 253) return `"${value}" is longer than 253 characters`;
  if (!DNS1123_SUBDOMAIN.test(value))
    return `"${value}" is not a DNS-1123 subdomain (lowercase letters, digits, "-" and ".")`;
  return undefined;
}

/** Service names: a DNS-1035 label (must start with a letter). */
export function dns1035LabelProblem(value: string): string | undefined {
  if (value.length > 63) return `"${value}" is longer than 63 characters`;
  if (!DNS1035_LABEL.test(value))
    return `"${value}" is not a DNS-1035 label (lowercase letters, digits and "-", starting with a letter)`;
  return undefined;
}

/** Container port names (IANA service names): ≤ 15 chars, lowercase alphanumerics and single hyphens, one letter at least. */
export function portNameProblem(value: string): string | undefined {
  if (
    value.length > 15 ||
    !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(value) ||
    value.includes('--') ||
    !/[a-z]/.test(value)
  ) {
    return `port name "${value}" is not an IANA service name (at most 15 lowercase letters, digits and single "-", with a letter)`;
  }
  return undefined;
}

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && dns1123SubdomainProblem(prefix)) return `label key "${key}" has an invalid prefix`;
  if (name.length > 63 || !QUALIFIED_NAME.test(name)) return `label key "${key}" is not a qualified name`;
  return undefined;
}

export function labelValueProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `label value ${JSON.stringify(value)} is not a string`;
  if (value.length > 63 || !LABEL_VALUE.test(value))
    return `label value "${value}" is invalid (at most 63 letters, digits, "-", "_" and ".", alphanumeric at both ends)`;
  return undefined;
}

/** ConfigMap and Secret data keys. */
export function configKeyProblem(key: string): string | undefined {
  if (key.length > 253 || !CONFIG_KEY.test(key))
    return `data key "${key}" is invalid (letters, digits, "-", "_" and ".")`;
  return undefined;
}
