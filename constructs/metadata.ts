import { Labels, PART_OF } from '../src/contract';

/** Labels every object kubefaas synthesizes carries. */
export const COMMON_LABELS: Readonly<Record<string, string>> = {
  [Labels.partOf]: PART_OF,
  [Labels.managedBy]: PART_OF,
};

/** `metadata` of a namespaced object: explicit name (never hashed), namespace and labels. */
export function objectMeta(
  name: string,
  namespace: string,
  labels: Readonly<Record<string, string>> = {},
  annotations?: Readonly<Record<string, string>>,
): { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string> } {
  return {
    name,
    namespace,
    labels: { ...COMMON_LABELS, ...labels },
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}),
  };
}
