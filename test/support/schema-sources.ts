/**
 * Where the schema-checked model class of each API group comes from.
 *
 * Every entry maps an API group to an ESM module of model classes, one module per version; the model
 * class is the module's export named after the kind. To cover another CRD family (KEDA `keda.sh`,
 * AWS Controllers for Kubernetes `*.services.k8s.aws`, ...), install its `@kubernetes-models/*`
 * package and add a line here.
 */

/** One API group whose objects are validated against a kubernetes-models package. */
export interface SchemaSource {
  /** API group (`''` for the core group, whose apiVersion is just `v1`). */
  readonly group: string;
  /** Module specifier with `{version}` standing for the API version, e.g. `kubernetes-models/apps/{version}`;
   * the model of kind K is loaded from `<module>/K` (the packages export one module per kind). */
  readonly module: string;
  /** True for custom resources (their CRDs must be installed in the cluster). */
  readonly crd: boolean;
}

/** Built-in Kubernetes groups, all served by the `kubernetes-models` package. */
const BUILT_IN_GROUPS = [
  'apps',
  'batch',
  'autoscaling',
  'policy',
  'networking.k8s.io',
  'rbac.authorization.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'scheduling.k8s.io',
  'storage.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'node.k8s.io',
] as const;

export const SCHEMA_SOURCES: readonly SchemaSource[] = [
  { group: '', module: 'kubernetes-models/{version}', crd: false },
  ...BUILT_IN_GROUPS.map((group) => ({ group, module: `kubernetes-models/${group}/{version}`, crd: false })),
  {
    group: 'gateway.networking.k8s.io',
    module: '@kubernetes-models/gateway-api/gateway.networking.k8s.io/{version}',
    crd: true,
  },
  {
    group: 'monitoring.coreos.com',
    module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/{version}',
    crd: true,
  },
];
