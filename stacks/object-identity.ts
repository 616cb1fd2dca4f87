import type { KubeManifest } from './synthesize';

/**
 * How a Kubernetes object is identified by the adapter: by kind, namespace and name — the same
 * triple `kubectl` uses. Keys never include construct paths or hashes, so moving a construct in the
 * cdk8s tree renames nothing in the Pulumi state.
 */
export function objectKey(kind: string, name: string, namespace?: string): string {
  // '/' cannot occur in a kind, a namespace or an object name, so the key is unambiguous.
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

export function manifestKey(manifest: KubeManifest): string {
  return objectKey(manifest.kind, manifest.metadata.name, manifest.metadata.namespace);
}

/**
 * The Pulumi logical name of an object registered under a component: prefixed with the component's
 * name so two platforms in one stack never collide (a URN carries the parent's type, not its name).
 */
export function logicalName(componentName: string, manifest: KubeManifest): string {
  return `${componentName}/${manifestKey(manifest)}`;
}

/** `apps/v1` → `apps`; `v1` → `` (the core group). */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
