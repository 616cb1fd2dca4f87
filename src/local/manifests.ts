/**
 * Loading synthesized Kubernetes manifests from disk, and the small subset of the Kubernetes object
 * model the local runner reads. The types are deliberately loose (everything optional): the runner must
 * cope with any manifest a cdk8s app writes, not only the ones kubefaas constructs produce.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMeta;
  readonly [field: string]: unknown;
}

export interface KeyToPath {
  readonly key: string;
  readonly path: string;
  readonly mode?: number;
}

export interface Volume {
  readonly name: string;
  readonly configMap?: { readonly name?: string; readonly items?: readonly KeyToPath[]; readonly optional?: boolean };
  readonly secret?: {
    readonly secretName?: string;
    readonly items?: readonly KeyToPath[];
    readonly optional?: boolean;
  };
  readonly emptyDir?: object;
  readonly [source: string]: unknown;
}

export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly subPath?: string;
}

export interface KeySelector {
  readonly name?: string;
  readonly key: string;
  readonly optional?: boolean;
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly configMapKeyRef?: KeySelector;
    readonly secretKeyRef?: KeySelector;
    readonly fieldRef?: { readonly fieldPath: string };
  };
}

export interface EnvFromSource {
  readonly prefix?: string;
  readonly configMapRef?: { readonly name?: string; readonly optional?: boolean };
  readonly secretRef?: { readonly name?: string; readonly optional?: boolean };
}

export interface Probe {
  readonly httpGet?: { readonly path?: string; readonly port?: number | string };
  readonly tcpSocket?: { readonly port?: number | string };
  readonly exec?: object;
}

export interface Container {
  readonly name: string;
  readonly image?: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly workingDir?: string;
  readonly env?: readonly EnvVar[];
  readonly envFrom?: readonly EnvFromSource[];
  readonly ports?: readonly { readonly containerPort: number; readonly name?: string }[];
  readonly volumeMounts?: readonly VolumeMount[];
  readonly readinessProbe?: Probe;
}

export interface PodTemplate {
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly containers?: readonly Container[];
    readonly initContainers?: readonly Container[];
    readonly volumes?: readonly Volume[];
  };
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number | string;
}

/** A parsed manifest set, indexed for the lookups the runner makes. */
export class Manifests {
  constructor(
    readonly objects: readonly KubeObject[],
    readonly defaultNamespace = 'default',
  ) {}

  ofKind(kind: string): KubeObject[] {
    return this.objects.filter((o) => o.kind === kind);
  }

  find(kind: string, namespace: string, name: string): KubeObject | undefined {
    return this.objects.find(
      (o) => o.kind === kind && o.metadata?.name === name && namespaceOf(o, this.defaultNamespace) === namespace,
    );
  }

  namespaceOf(o: KubeObject): string {
    return namespaceOf(o, this.defaultNamespace);
  }
}

function namespaceOf(o: KubeObject, fallback: string): string {
  return o.metadata?.namespace ?? fallback;
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Every manifest file (YAML or JSON) under `dir`, recursively, in a stable order. */
export function listManifestFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (MANIFEST_EXTENSIONS.has(path.extname(entry.name))) found.push(p);
    }
  };
  walk(dir);
  return found;
}

/** Parses one multi-document YAML (or JSON) text into Kubernetes objects, expanding `List` kinds. */
export function parseManifests(text: string, source = 'manifest'): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: invalid YAML: ${doc.errors[0].message}`);
    const value: unknown = doc.toJS({ maxAliasCount: -1 });
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value))
      throw new Error(`${source}: a document is not a Kubernetes object`);
    const obj = value as KubeObject;
    if (obj.kind === 'List' && Array.isArray(obj.items)) objects.push(...(obj.items as KubeObject[]));
    else objects.push(obj);
  }
  return objects;
}

/** Loads every manifest under `dir`. */
export function loadManifestDir(dir: string): Manifests {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new Error(`manifest directory ${dir} does not exist`);
  const files = listManifestFiles(dir);
  if (files.length === 0) throw new Error(`no manifest files (.yaml, .yml, .json) in ${dir}`);
  const objects = files.flatMap((f) => parseManifests(fs.readFileSync(f, 'utf8'), f));
  return new Manifests(objects);
}
