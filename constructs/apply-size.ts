import { ApiObject } from 'cdk8s';
import { IConstruct } from 'constructs';
import { warn } from './placement/warnings';
import { formatBytes } from './validation';

/**
 * Client-side `kubectl apply` (and Argo CD's default sync) stores the whole object in the
 * `kubectl.kubernetes.io/last-applied-configuration` annotation, and annotations may hold at most
 * 262,144 bytes: a larger object fails with `metadata.annotations: Too long`.
 */
export const LAST_APPLIED_LIMIT_BYTES = 256 * 1024;

/** Rule name of the warning. */
export const APPLY_SIZE_RULE = 'apply/last-applied-size';

/**
 * Warns (once per object) about every object under `scope` whose JSON is larger than
 * LAST_APPLIED_LIMIT_BYTES, telling the user to apply server-side. Run as a validation, so every
 * lazy value is resolved and the object is measured as it will be written.
 */
export function warnAboutLargeObjects(scope: IConstruct): string[] {
  for (const child of scope.node.findAll()) {
    if (!ApiObject.isApiObject(child)) continue;
    const json = child.toJson() as { kind?: string; metadata?: { name?: string } };
    const bytes = Buffer.byteLength(JSON.stringify(json));
    if (bytes <= LAST_APPLIED_LIMIT_BYTES) continue;
    warn(
      child,
      APPLY_SIZE_RULE,
      `${json.kind}/${json.metadata?.name} is ${formatBytes(bytes)}, over the ${formatBytes(LAST_APPLIED_LIMIT_BYTES)} client-side \`kubectl apply\` can record: apply with \`kubectl apply --server-side\` (Argo CD: sync option ServerSideApply=true; Flux applies server-side)`,
    );
  }
  return [];
}
