import type * as pulumi from '@pulumi/pulumi';
import { Labels } from '../src/contract';
import type { KubeManifest } from './synthesize';

/**
 * Resource options of a content-hashed code ConfigMap (label `kubefaas.dev/code-of`). New code is a
 * new name, hence a new Pulumi resource (the logical name carries the object name); the old one
 * leaves the program. `retainOnDelete` keeps it in the cluster when Pulumi forgets it, so old
 * ReplicaSets still find their code and `kubectl rollout undo` works, as with `kubectl apply`
 * without `--prune` (trim them by label, docs/architecture.md "Code history").
 * `deleteBeforeReplace: false`: should one ever be replaced in place, the new one exists first.
 */
export function codeHistoryOptions(
  manifest: KubeManifest,
): Pick<pulumi.CustomResourceOptions, 'retainOnDelete' | 'deleteBeforeReplace'> {
  const labels = (manifest.metadata as { labels?: Record<string, string> }).labels;
  if (manifest.kind !== 'ConfigMap' || labels?.[Labels.codeOf] === undefined) return {};
  return { retainOnDelete: true, deleteBeforeReplace: false };
}
