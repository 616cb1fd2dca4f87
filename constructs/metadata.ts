import { Labels, PART_OF } from '../src/contract';

/** Labels every object kubefaas synthesizes carries. */
export const COMMON_LABELS: Readonly<Record<string, string>> = {
  [Labels.partOf]: PART_OF,
  [Labels.managedBy]: PART_OF,
};

/**
 * `metadata` of a namespaced object: explicit name (never hashed by cdk8s), namespace and labels,
 * with `app.kubernetes.io/instance` = the platform's namespace (one platform per namespace).
 */
export function objectMeta(
  name: string,
  namespace: string,
  labels: Readonly<Record<string, string>> = {},
  annotations?: Readonly<Record<string, string>>,
): { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string> } {
  return {
    name,
    namespace,
    labels: { ...COMMON_LABELS, [Labels.instance]: namespace, ...labels },
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}),
  };
}

/**
 * Labels for a StatefulSet's `volumeClaimTemplates`: without `app.kubernetes.io/instance`. That
 * field of a StatefulSet cannot be changed after creation, so a label added later (instance came
 * after the first release) would make every apply of an existing StatefulSet fail.
 */
export function volumeClaimLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const { [Labels.instance]: _instance, ...rest } = labels;
  return rest;
}
