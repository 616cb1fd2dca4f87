import * as pulumi from '@pulumi/pulumi';
import * as k8s from '@pulumi/kubernetes';
import { apiGroup } from './object-identity';
import type { KubeManifest } from './synthesize';

type KubernetesResourceClass = new (
  name: string,
  args: Record<string, unknown>,
  opts?: pulumi.CustomResourceOptions,
) => pulumi.CustomResource;

const typedClasses = new Map<string, KubernetesResourceClass | undefined>();

/**
 * Registers one synthesized object as a Pulumi Kubernetes resource.
 *
 * Built-in kinds get the typed class of @pulumi/kubernetes (`k8s.apps.v1.Deployment`, ...): they
 * carry the provider's aliases and the Secret class's secret handling. Anything else — CRD
 * instances like Gateway API `HTTPRoute` or KEDA `ScaledObject` — becomes a
 * `k8s.apiextensions.CustomResource`, which the provider handles generically by apiVersion/kind.
 */
export function createKubernetesResource(
  name: string,
  manifest: KubeManifest | pulumi.Input<Record<string, unknown>>,
  apiVersion: string,
  kind: string,
  opts: pulumi.CustomResourceOptions,
): pulumi.CustomResource {
  const typed = typedClass(apiVersion, kind);
  if (!typed) {
    return new k8s.apiextensions.CustomResource(name, manifest as k8s.apiextensions.CustomResourceArgs, opts);
  }
  const resource = new typed(name, manifest as Record<string, unknown>, opts);
  // A typed class copies only the fields its schema knows; refuse to drop one silently, or the
  // Pulumi deployment would differ from what `cdk8s synth` renders.
  for (const field of Object.keys(manifest as Record<string, unknown>)) {
    if (!(field in resource)) {
      throw new Error(`${kind} ${name}: field '${field}' is not part of ${apiVersion} ${kind} and would be lost`);
    }
  }
  return resource;
}

/** The typed class for apiVersion/kind, found by the provider's type token `kubernetes:<group>/<version>:<kind>`. */
function typedClass(apiVersion: string, kind: string): KubernetesResourceClass | undefined {
  const cacheKey = `${apiVersion}:${kind}`;
  if (typedClasses.has(cacheKey)) return typedClasses.get(cacheKey);
  const group = apiGroup(apiVersion) || 'core';
  const version = apiVersion.slice(apiVersion.indexOf('/') + 1);
  // The SDK's modules are named after the group's first label: networking.k8s.io → k8s.networking.
  const sdkModule = group.split('.')[0];
  const candidate = lookup(lookup(lookup(k8s, sdkModule), version), kind);
  const found =
    typeof candidate === 'function' &&
    (candidate as { __pulumiType?: string }).__pulumiType === `kubernetes:${group}/${version}:${kind}`
      ? (candidate as KubernetesResourceClass)
      : undefined;
  typedClasses.set(cacheKey, found);
  return found;
}

function lookup(from: unknown, key: string): unknown {
  if (from === undefined || from === null || typeof from !== 'object') return undefined;
  return Object.prototype.hasOwnProperty.call(from, key) ? (from as Record<string, unknown>)[key] : undefined;
}
