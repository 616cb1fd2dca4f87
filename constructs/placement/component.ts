/**
 * Placement for platform components whose objects another module renders as a plain `ApiObject`
 * (the queue's StatefulSet): the scheduling fields and pod labels go in as JSON patches, so the
 * owning module needs no placement code, and the checks run at synth on the rendered object.
 * Components that claim persistent volumes are refused on providers that cannot mount them.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import { Placement } from './placement';
import { persistentStorageProblems } from './persistent-storage';
import { PodTemplateLike, WorkloadKind } from './pod-types';
import { warn } from './warnings';

export interface ComponentPlacementOptions {
  /** Who the pods belong to, in messages: `platform component "queue"`. */
  readonly subject: string;
  /**
   * Whether a NetworkPolicy is meant to protect the pods.
   * @default false
   */
  readonly networkPolicy?: boolean;
}

/** JSON-pointer escaping of one path segment (`kubefaas.dev/x` → `kubefaas.dev~1x`). */
function pointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Places the pods of `workload` (a Deployment or StatefulSet ApiObject) on `placement` and checks
 * them at synth, including its volumeClaimTemplates (persistent storage).
 */
export function placeComponent(workload: ApiObject, placement: Placement, options: ComponentPlacementOptions): void {
  const scheduling = placement.scheduling();
  for (const field of ['nodeSelector', 'tolerations', 'affinity'] as const) {
    if (scheduling[field] !== undefined)
      workload.addJsonPatch(JsonPatch.add(`/spec/template/spec/${field}`, scheduling[field]));
  }
  for (const [key, value] of Object.entries(placement.podLabels())) {
    workload.addJsonPatch(JsonPatch.add(`/spec/template/metadata/labels/${pointer(key)}`, value));
  }
  workload.node.addValidation({
    validate: () => {
      const rendered = workload.toJson() as {
        kind: WorkloadKind;
        metadata?: { namespace?: string };
        spec: { template: PodTemplateLike; volumeClaimTemplates?: { spec?: { storageClassName?: string } }[] };
      };
      const claims = rendered.spec.volumeClaimTemplates ?? [];
      const findings = [
        ...placement.check({
          subject: options.subject,
          workloadKind: rendered.kind,
          namespace: rendered.metadata?.namespace ?? '',
          template: rendered.spec.template,
          networkPolicy: options.networkPolicy ?? false,
        }),
        ...claims.flatMap((claim) =>
          persistentStorageProblems(placement, options.subject, claim.spec?.storageClassName),
        ),
      ];
      for (const finding of findings.filter((f) => f.severity === 'warning'))
        warn(workload, finding.rule, finding.message);
      return findings.filter((f) => f.severity === 'error').map((f) => f.message);
    },
  });
}
