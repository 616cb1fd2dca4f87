/**
 * The verification layer every synth test uses: given the objects a chart synthesized, report
 * everything a cluster (or our own rules) would reject.
 *
 *   const objects = Testing.synth(chart);
 *   await expectValidManifests(objects);                       // throws one readable error
 *   const problems = await validateManifests(objects, { externalSecrets: ['redis'] });
 *
 * Three families of checks:
 * - schema: each object against its Kubernetes / CRD schema (kubernetes-models), plus unknown fields;
 * - semantics: selectors match templates, Services reach container ports, references resolve,
 *   names are DNS-1123, one existing namespace, ConfigMaps fit in etcd;
 * - pod security: Pod Security Standards `restricted` and our own pod defaults.
 */
import { NatsQueueDefaults } from '../../constructs/queue/nats-queue';
import { describeObject, K8sObject } from './manifest';
import { checkCertManagerCertificate } from './cert-manager-schema';
import { checkScaledObject } from './keda-schema';
import { checkPodSecurity } from './pod-security';
import { checkSchemas } from './schema';
import { checkSemantics } from './semantics';

/** Which family of checks found a problem. */
export type ProblemCheck = 'schema' | 'semantics' | 'pod-security';

export interface ManifestProblem {
  /** The object the problem is about: `Kind namespace/name` (`Kind name` if cluster-scoped). */
  readonly object: string;
  /** What is wrong, naming the field (`spec.template.spec.containers[0].image: ...`). */
  readonly message: string;
  /** Which family of checks found it. */
  readonly check: ProblemCheck;
}

export interface ValidateOptions {
  /**
   * Validate custom resources (Gateway API, prometheus-operator) against their CRD models; false
   * accepts them without a schema check (their group must still be known).
   * @default true
   */
  readonly crds?: boolean;
  /**
   * Secrets the objects may reference without defining them (created outside the platform).
   * @default []
   */
  readonly externalSecrets?: readonly string[];
  /**
   * ConfigMaps the objects may reference without defining them.
   * @default []
   */
  readonly externalConfigMaps?: readonly string[];
  /**
   * ServiceAccounts pods may name without defining them.
   * @default []
   */
  readonly externalServiceAccounts?: readonly string[];
  /**
   * Namespaces that exist already, so namespaced objects may live there without a Namespace object.
   * @default []
   */
  readonly existingNamespaces?: readonly string[];
  /**
   * Kinds accepted without a schema, as `Kind` or `apiVersion/Kind` (e.g. `keda.sh/v1alpha1/ScaledJob`).
   * @default []
   */
  readonly allowKinds?: readonly string[];
  /**
   * In-process schema checks for kinds no kubernetes-models package covers, keyed by
   * `apiVersion/Kind` (e.g. `eks.services.k8s.aws/v1alpha1/FargateProfile`); each returns its
   * problems as messages. Such objects skip the kubernetes-models check. The cert-manager
   * Certificate and the KEDA ScaledObject are always checked (test/support/cert-manager-schema.ts,
   * keda-schema.ts).
   * @default {}
   */
  readonly schemaCheckers?: Readonly<Record<string, (object: K8sObject) => readonly string[]>>;
}

/** In-process schema checks of CRDs no kubernetes-models package covers, applied to every check. */
const DEFAULT_SCHEMA_CHECKERS: Readonly<Record<string, (object: K8sObject) => readonly string[]>> = {
  'cert-manager.io/v1/Certificate': checkCertManagerCertificate,
  'keda.sh/v1alpha1/ScaledObject': checkScaledObject,
};

/** Runs every check and returns all problems found (empty when the manifests are valid). */
export async function validateManifests(
  objects: readonly K8sObject[],
  options: ValidateOptions = {},
): Promise<ManifestProblem[]> {
  const problems: ManifestProblem[] = [];
  const allowed = new Set(options.allowKinds ?? []);
  const isAllowListed = (o: K8sObject) => allowed.has(String(o?.kind)) || allowed.has(`${o?.apiVersion}/${o?.kind}`);

  const checkers = { ...DEFAULT_SCHEMA_CHECKERS, ...options.schemaCheckers };
  const customChecker = (o: K8sObject) =>
    Object.prototype.hasOwnProperty.call(checkers, `${o?.apiVersion}/${o?.kind}`)
      ? checkers[`${o.apiVersion}/${o.kind}`]
      : undefined;

  for (const o of objects) {
    const check = customChecker(o);
    if (check) for (const message of check(o)) problems.push({ object: describeObject(o), message, check: 'schema' });
  }
  const schemaChecked = objects.filter((o) => !isAllowListed(o) && !customChecker(o));
  for (const finding of await checkSchemas(schemaChecked, { crds: options.crds })) {
    const object = describeObject(schemaChecked[finding.index]);
    for (const message of finding.messages) problems.push({ object, message, check: 'schema' });
  }
  // The queue's auth Secret is created by the user by design (never synthesized: it holds passwords).
  const semanticOptions = {
    ...options,
    externalSecrets: [...(options.externalSecrets ?? []), NatsQueueDefaults.authSecretName],
  };
  for (const p of checkSemantics(objects, semanticOptions)) problems.push({ ...p, check: 'semantics' });
  for (const p of checkPodSecurity(objects)) problems.push({ ...p, check: 'pod-security' });
  return problems;
}

/** One line per problem, grouped by nothing: easy to read in a failed test's output. */
export function formatProblems(problems: readonly ManifestProblem[]): string {
  const plural = problems.length === 1 ? 'problem' : 'problems';
  return [
    `${problems.length} ${plural} in the synthesized manifests:`,
    ...problems.map((p) => `  - ${p.object}: ${p.message} [${p.check}]`),
  ].join('\n');
}

/** Throws one error listing every problem, or resolves when the manifests are valid. */
export async function expectValidManifests(
  objects: readonly K8sObject[],
  options: ValidateOptions = {},
): Promise<void> {
  const problems = await validateManifests(objects, options);
  if (problems.length > 0) throw new Error(formatProblems(problems));
}

export type { K8sObject } from './manifest';
