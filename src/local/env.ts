/**
 * Environment resolution for a container, the way the kubelet does it, but from the synthesized
 * manifests: literal values, ConfigMap/Secret key references, `envFrom`, a few downward-API fields, and
 * `$(VAR)` expansion. A Secret that is not in the manifests (secrets rarely are) is taken from the
 * developer's environment variable with the same name as the container's env var.
 */
import type { Container, KeySelector, KubeObject, Manifests } from './manifests';
import { expandVariables } from './rewrite';

/** A problem the developer must fix before the workload can run locally. */
export class LocalConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalConfigError';
  }
}

export interface EnvContext {
  readonly manifests: Manifests;
  readonly namespace: string;
  /** Name of the workload, used in error messages and for `metadata.name`. */
  readonly workload: string;
  /** The developer's environment (source of Secrets missing from the manifests). */
  readonly developerEnv: Readonly<Record<string, string | undefined>>;
  /** Applied to every resolved value (Service addresses, mount paths). */
  readonly rewrite: (value: string) => string;
}

/** Key/value data of a ConfigMap or Secret, decoded to strings. */
export function objectData(obj: KubeObject): Record<string, string> {
  const out: Record<string, string> = {};
  const data = (obj.data ?? {}) as Record<string, string>;
  const encoded = obj.kind === 'Secret';
  for (const [k, v] of Object.entries(data))
    out[k] = encoded ? Buffer.from(String(v), 'base64').toString('utf8') : String(v);
  if (obj.kind === 'Secret')
    for (const [k, v] of Object.entries((obj.stringData ?? {}) as Record<string, string>)) out[k] = String(v);
  else
    for (const [k, v] of Object.entries((obj.binaryData ?? {}) as Record<string, string>))
      out[k] = Buffer.from(String(v), 'base64').toString('utf8');
  return out;
}

/** Resolves the container's env into an ordered name → value record. */
export function resolveEnv(container: Container, ctx: EnvContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    if (!ref?.name) continue;
    const obj = ctx.manifests.find(kind, ctx.namespace, ref.name);
    if (!obj) {
      if (ref.optional) continue;
      throw new LocalConfigError(
        `${ctx.workload}: envFrom ${kind} "${ref.name}" is not in the synthesized manifests` +
          (kind === 'Secret'
            ? '; add it to the app, or mark it optional and set its variables in your environment'
            : ''),
      );
    }
    for (const [k, v] of Object.entries(objectData(obj))) env[(source.prefix ?? '') + k] = ctx.rewrite(v);
  }
  for (const v of container.env ?? []) {
    const value = resolveOne(v.name, v, env, ctx);
    if (value !== undefined) env[v.name] = value;
  }
  return env;
}

function resolveOne(
  name: string,
  v: NonNullable<Container['env']>[number],
  resolvedSoFar: Record<string, string>,
  ctx: EnvContext,
): string | undefined {
  if (v.value !== undefined) return ctx.rewrite(expandVariables(String(v.value), resolvedSoFar));
  const from = v.valueFrom;
  if (!from) return '';
  if (from.configMapKeyRef) return keyRef('ConfigMap', name, from.configMapKeyRef, ctx);
  if (from.secretKeyRef) return keyRef('Secret', name, from.secretKeyRef, ctx);
  if (from.fieldRef) return fieldValue(from.fieldRef.fieldPath, ctx);
  return undefined;
}

function keyRef(kind: 'ConfigMap' | 'Secret', envName: string, ref: KeySelector, ctx: EnvContext): string | undefined {
  const obj = ref.name ? ctx.manifests.find(kind, ctx.namespace, ref.name) : undefined;
  if (obj) {
    const data = objectData(obj);
    if (Object.prototype.hasOwnProperty.call(data, ref.key)) return ctx.rewrite(data[ref.key]);
    if (ref.optional) return undefined;
    throw new LocalConfigError(
      `${ctx.workload}: env ${envName} refers to key "${ref.key}" of ${kind} "${ref.name}", which has no such key`,
    );
  }
  if (kind === 'Secret') {
    // Secrets are usually created outside the app (kubectl, a secret manager): take the developer's value.
    const fromDeveloper = ctx.developerEnv[envName];
    if (fromDeveloper !== undefined) return fromDeveloper;
    if (ref.optional) return undefined;
    throw new LocalConfigError(
      `${ctx.workload}: env ${envName} needs key "${ref.key}" of Secret "${ref.name}", which is not in the synthesized manifests. ` +
        `Provide it locally by setting ${envName} in your environment (e.g. ${envName}=... kubefaas dev).`,
    );
  }
  if (ref.optional) return undefined;
  throw new LocalConfigError(
    `${ctx.workload}: env ${envName} refers to ConfigMap "${ref.name}", which is not in the synthesized manifests`,
  );
}

function fieldValue(fieldPath: string, ctx: EnvContext): string {
  switch (fieldPath) {
    case 'metadata.name':
      return `${ctx.workload}-local`;
    case 'metadata.namespace':
      return ctx.namespace;
    case 'status.podIP':
    case 'status.hostIP':
      return '127.0.0.1';
    case 'spec.nodeName':
      return 'localhost';
    default:
      return '';
  }
}
