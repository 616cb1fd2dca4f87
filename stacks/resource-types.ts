import * as pulumi from '@pulumi/pulumi';
import { apiGroup } from './object-identity';
import type { KubeManifest } from './synthesize';

/**
 * The version of @pulumi/kubernetes this program uses: a resource registered with it makes the
 * engine load the matching provider plugin, exactly as the SDK's own resource classes do.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a JSON file outside rootDir, read once
const KUBERNETES_PROVIDER_VERSION = (require('@pulumi/kubernetes/package.json') as { version: string }).version.replace(
  /^v/,
  '',
);

/** Kinds whose live `status` the component reads back (the router's external address). */
const KINDS_WITH_STATUS_OUTPUT = new Set(['Service', 'Ingress']);

/** Fields of a Secret whose values the provider must keep secret, as `k8s.core.v1.Secret` does. */
const SECRET_FIELDS = ['data', 'stringData'];

/**
 * One Kubernetes object registered with the Kubernetes provider. Its output properties are the
 * object's own top-level fields (plus `status` for Services and Ingresses). The fields are `declare`d:
 * an initialized class field would overwrite the Output the base constructor put there.
 */
export class KubernetesObject extends pulumi.CustomResource {
  declare public readonly apiVersion: pulumi.Output<string>;
  declare public readonly kind: pulumi.Output<string>;
  declare public readonly metadata: pulumi.Output<Record<string, unknown>>;
  /** Only on Services and Ingresses: what the cluster reports, e.g. a LoadBalancer's address. */
  declare public readonly status?: pulumi.Output<unknown>;
}

/**
 * The Pulumi type token of apiVersion/kind: `kubernetes:<group>/<version>:<kind>`, with `core`
 * for the core group — the token of the typed class (`k8s.apps.v1.Deployment` is
 * `kubernetes:apps/v1:Deployment`) and of `k8s.apiextensions.CustomResource` for CRD instances.
 */
export function kubernetesTypeToken(apiVersion: string, kind: string): string {
  return apiGroup(apiVersion) ? `kubernetes:${apiVersion}:${kind}` : `kubernetes:core/${apiVersion}:${kind}`;
}

/**
 * Registers one synthesized object as a Kubernetes resource, under the same type token the typed
 * classes of @pulumi/kubernetes use, so the engine and the provider see the same resource.
 *
 * We construct `pulumi.CustomResource` directly rather than `k8s.apps.v1.Deployment` & co: the
 * typed classes add an output property (four promises) for every field of the kind's schema,
 * set or not, and resolve apiVersion-migration aliases (each one a chain of Outputs) for every
 * object — most of the SDK's per-resource cost for a platform of thousands of objects, and of no
 * use to objects that were always created at their current apiVersion. What the typed classes do
 * that matters is kept: the provider plugin version, and the Secret class's secret handling
 * (`data`/`stringData` wrapped as Pulumi secrets, and kept secret in the outputs too). Every field
 * the cdk8s app rendered is sent as is, so nothing a schema does not know is silently dropped.
 */
export function createKubernetesResource(
  name: string,
  manifest: KubeManifest,
  opts: pulumi.CustomResourceOptions,
): KubernetesObject {
  const props: Record<string, unknown> = { ...manifest };
  let additionalSecretOutputs = opts.additionalSecretOutputs;
  if (manifest.kind === 'Secret' && !apiGroup(manifest.apiVersion)) {
    for (const field of SECRET_FIELDS) {
      if (props[field] !== undefined) props[field] = pulumi.secret(props[field]);
    }
    additionalSecretOutputs = [...(additionalSecretOutputs ?? []), ...SECRET_FIELDS];
  }
  if (KINDS_WITH_STATUS_OUTPUT.has(manifest.kind) && !('status' in props)) props.status = undefined;
  return new KubernetesObject(kubernetesTypeToken(manifest.apiVersion, manifest.kind), name, props, {
    ...opts,
    version: opts.version ?? KUBERNETES_PROVIDER_VERSION,
    additionalSecretOutputs,
  });
}
