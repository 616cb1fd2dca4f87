/**
 * What each provider refuses, as data: one entry per rule with its id, severity, the provider it
 * belongs to, a one-line summary, the source it comes from, and the check itself. docs/placement.md
 * lists the same rules; the test suite has a failing and a passing case for every id here.
 */
import {
  FARGATE_OVERHEAD_MIB,
  formatFargateSize,
  fargateSizeFor,
  LARGEST_FARGATE_SIZE,
  podDemand,
} from './fargate-sizes';
import { FargateProfileSelector, fargateSelectorMatches } from './fargate-profile';
import { cpuMillis, memoryMiB } from './quantity';
import { ContainerLike, PodTemplateLike, WorkloadKind } from './pod-types';

/** Which virtual capacity a rule guards. */
export type RuleProvider = 'aws-fargate' | 'azure-virtual-node-v1' | 'azure-virtual-node-v2';

export type Severity = 'error' | 'warning';

/** A workload's pods as placement sees them (after the placement was applied to the template). */
export interface PlacementTarget {
  /** Who the pods belong to, for messages: `function "hello"`, `platform component "router"`. */
  readonly subject: string;
  readonly workloadKind: WorkloadKind;
  /** Namespace the pods are created in. */
  readonly namespace: string;
  readonly template: PodTemplateLike;
  /**
   * Whether a NetworkPolicy is meant to protect these pods.
   * @default false
   */
  readonly networkPolicy?: boolean;
  /**
   * Persistent storage the workload claims (a StatefulSet's volumeClaimTemplates, e.g. the queue).
   * @default none
   */
  readonly persistentStorage?: { readonly storageClassName?: string };
  /**
   * Selectors of the Fargate profile the pods must match, when kubefaas knows the profile.
   * @default unknown (the profile is managed elsewhere; not checked)
   */
  readonly fargateSelectors?: readonly FargateProfileSelector[];
}

export interface PlacementRule {
  readonly id: string;
  readonly provider: RuleProvider;
  readonly severity: Severity;
  readonly summary: string;
  /** Where the limit is documented. */
  readonly source: string;
  /** Messages describing each violation (empty = the rule holds). */
  check(target: PlacementTarget): string[];
}

const EKS_FARGATE =
  'Amazon EKS User Guide, "AWS Fargate considerations" (awsdocs/amazon-eks-user-guide latest/ug/nodes/fargate.adoc)';
const EKS_FARGATE_POD =
  'Amazon EKS User Guide, "Fargate Pod configuration details" (latest/ug/nodes/fargate-pod-configuration.adoc)';
const EKS_FARGATE_PROFILE =
  'Amazon EKS User Guide, "Define which Pods use AWS Fargate" (latest/ug/nodes/fargate-profile.adoc)';
const AKS_V1 = 'AKS docs, "Virtual nodes" limitations (MicrosoftDocs/azure-aks-docs articles/aks/virtual-nodes.md)';
const AKS_V2 = 'AKS docs, "Use Virtual Nodes v2" (MicrosoftDocs/azure-aks-docs articles/aks/virtual-nodes-v2.md)';

function allContainers(target: PlacementTarget): { container: ContainerLike; init: boolean }[] {
  return [
    ...(target.template.spec.initContainers ?? []).map((container) => ({ container, init: true })),
    ...target.template.spec.containers.map((container) => ({ container, init: false })),
  ];
}

function label(entry: { container: ContainerLike; init: boolean }): string {
  return `${entry.init ? 'init container' : 'container'} "${entry.container.name}"`;
}

function volumeSource(volume: { readonly name: string; readonly [source: string]: unknown }): string {
  return Object.keys(volume).find((key) => key !== 'name') ?? 'emptyDir';
}

function volumesNotIn(target: PlacementTarget, allowed: readonly string[]): string[] {
  return (target.template.spec.volumes ?? [])
    .filter((volume) => !allowed.includes(volumeSource(volume)))
    .map((volume) => `volume "${volume.name}" is of type ${volumeSource(volume)}`);
}

function sameQuantity(
  resource: 'cpu' | 'memory',
  a: string | number | undefined,
  b: string | number | undefined,
): boolean {
  if (a === undefined || b === undefined) return a === b;
  return resource === 'cpu' ? cpuMillis(a) === cpuMillis(b) : memoryMiB(a) === memoryMiB(b);
}

function daemonSetRule(provider: RuleProvider, source: string, where: string): PlacementRule {
  return {
    id: `${ruleIdPrefix(provider)}/daemonset`,
    provider,
    severity: 'error',
    summary: 'DaemonSets are not run there',
    source,
    check: (t) =>
      t.workloadKind === 'DaemonSet'
        ? [`a DaemonSet's pods are never scheduled on ${where}; run the agent as a sidecar or keep it on regular nodes`]
        : [],
  };
}

export function ruleIdPrefix(provider: RuleProvider): string {
  return provider === 'aws-fargate' ? 'fargate' : provider === 'azure-virtual-node-v1' ? 'aci-v1' : 'aci-v2';
}

const FARGATE_VOLUMES = ['configMap', 'secret', 'emptyDir', 'projected', 'downwardAPI', 'persistentVolumeClaim'];
const ACI_V1_VOLUMES = ['configMap', 'secret', 'emptyDir', 'azureFile', 'gitRepo'];
const ACI_V2_FORBIDDEN_VOLUMES = ['hostPath'];

export const PLACEMENT_RULES: readonly PlacementRule[] = [
  // ---------------------------------------------------------------- AWS Fargate
  {
    id: 'fargate/size',
    provider: 'aws-fargate',
    severity: 'error',
    summary: `the pod's requests plus ${FARGATE_OVERHEAD_MIB} MB must fit a Fargate CPU/memory combination (at most ${formatFargateSize(LARGEST_FARGATE_SIZE)})`,
    source: EKS_FARGATE_POD,
    check: (t) => {
      const demand = podDemand(t.template.spec.containers, t.template.spec.initContainers);
      if (fargateSizeFor(demand)) return [];
      return [
        `the pod requests ${demand.cpuMillis}m CPU and ${demand.memoryMiB}Mi memory (+${FARGATE_OVERHEAD_MIB}Mi Fargate overhead); the largest Fargate pod is ${formatFargateSize(LARGEST_FARGATE_SIZE)}`,
      ];
    },
  },
  {
    id: 'fargate/requests-equal-limits',
    provider: 'aws-fargate',
    severity: 'error',
    summary: 'CPU and memory requests must equal limits in every container (Fargate pods are Guaranteed QoS)',
    source: EKS_FARGATE_POD,
    check: (t) =>
      allContainers(t).flatMap((entry) =>
        (['cpu', 'memory'] as const)
          .filter(
            (resource) =>
              !sameQuantity(
                resource,
                entry.container.resources?.requests?.[resource],
                entry.container.resources?.limits?.[resource],
              ),
          )
          .map(
            (resource) =>
              `${label(entry)}: ${resource} request ${entry.container.resources?.requests?.[resource] ?? '(none)'} differs from its limit ${entry.container.resources?.limits?.[resource] ?? '(none)'}; set them equal or leave rightSize on`,
          ),
      ),
  },
  {
    id: 'fargate/privileged',
    provider: 'aws-fargate',
    severity: 'error',
    summary: 'no privileged containers',
    source: EKS_FARGATE,
    check: (t) =>
      allContainers(t)
        .filter((e) => e.container.securityContext?.privileged === true)
        .map((e) => `${label(e)} is privileged`),
  },
  {
    id: 'fargate/capabilities',
    provider: 'aws-fargate',
    severity: 'error',
    summary: 'no added Linux capabilities',
    source:
      'fargate-scheduler rejection "invalid SecurityContext fields: Capabilities added" (reported in frappe/helm#182, frappe/frappe_docker#1182)',
    check: (t) =>
      allContainers(t)
        .filter((e) => (e.container.securityContext?.capabilities?.add ?? []).length > 0)
        .map((e) => `${label(e)} adds capabilities ${JSON.stringify(e.container.securityContext?.capabilities?.add)}`),
  },
  {
    id: 'fargate/host-network',
    provider: 'aws-fargate',
    severity: 'error',
    summary: 'no hostNetwork',
    source: EKS_FARGATE,
    check: (t) => (t.template.spec.hostNetwork === true ? ['the pod sets hostNetwork: true'] : []),
  },
  {
    id: 'fargate/host-port',
    provider: 'aws-fargate',
    severity: 'error',
    summary: 'no hostPort',
    source: EKS_FARGATE,
    check: (t) =>
      allContainers(t).flatMap((e) =>
        (e.container.ports ?? [])
          .filter((p) => p.hostPort !== undefined)
          .map((p) => `${label(e)} maps hostPort ${p.hostPort}`),
      ),
  },
  daemonSetRule('aws-fargate', EKS_FARGATE, 'Fargate'),
  {
    id: 'fargate/volume-types',
    provider: 'aws-fargate',
    severity: 'error',
    summary: `volumes limited to ${FARGATE_VOLUMES.join(', ')} (no EBS, no hostPath; EFS only through statically provisioned PVCs)`,
    source: `${EKS_FARGATE} (no EBS, no FSx, EFS static only); fargate-scheduler rejection "volumes not supported: ... unsupported volume Type" (freegroup/kube-s3#14); the allow-list is our reading of both`,
    check: (t) => volumesNotIn(t, FARGATE_VOLUMES).map((m) => `${m}, which Fargate cannot mount`),
  },
  {
    id: 'fargate/persistent-storage',
    provider: 'aws-fargate',
    severity: 'error',
    summary: 'no dynamically provisioned persistent volumes (volumeClaimTemplates); only static EFS',
    source: `${EKS_FARGATE_POD}, "Fargate storage"`,
    check: (t) =>
      t.persistentStorage
        ? [
            `it claims persistent storage${t.persistentStorage.storageClassName ? ` (storage class ${t.persistentStorage.storageClassName})` : ''}, but Fargate cannot mount dynamically provisioned volumes; place it on regular nodes`,
          ]
        : [],
  },
  {
    id: 'fargate/topology-spread',
    provider: 'aws-fargate',
    severity: 'error',
    summary: 'no topologySpreadConstraints',
    source: EKS_FARGATE_PROFILE,
    check: (t) =>
      (t.template.spec.topologySpreadConstraints ?? []).length > 0
        ? ['the pod sets topologySpreadConstraints, which Fargate does not support']
        : [],
  },
  {
    id: 'fargate/profile-match',
    provider: 'aws-fargate',
    severity: 'error',
    summary: "the pods' namespace and labels must match a selector of the Fargate profile (else they stay Pending)",
    source: EKS_FARGATE,
    check: (t) => {
      if (!t.fargateSelectors) return [];
      const labels = t.template.metadata?.labels ?? {};
      if (t.fargateSelectors.some((s) => fargateSelectorMatches(s, t.namespace, labels))) return [];
      return [
        `its pods (namespace ${t.namespace}, labels ${JSON.stringify(labels)}) match no selector of the Fargate profile ${JSON.stringify(t.fargateSelectors)}; they would stay Pending`,
      ];
    },
  },
  {
    id: 'fargate/network-policy',
    provider: 'aws-fargate',
    severity: 'warning',
    summary: 'NetworkPolicy is not enforced on Fargate pods',
    source:
      'Amazon EKS User Guide, "Choosing pod networking use cases": Network policy (Calico) on Fargate "Not supported"',
    check: (t) =>
      t.networkPolicy
        ? [
            'its NetworkPolicy will not be enforced on Fargate: any pod in the cluster can reach it; rely on security groups for pods or keep it on regular nodes',
          ]
        : [],
  },
  // ---------------------------------------------------------------- AKS virtual node add-on (v1)
  {
    id: 'aci-v1/init-containers',
    provider: 'azure-virtual-node-v1',
    severity: 'error',
    summary: 'no init containers',
    source: AKS_V1,
    check: (t) =>
      (t.template.spec.initContainers ?? []).map(
        (c) =>
          `init container "${c.name}" is not supported on AKS virtual nodes (v1); use virtual nodes v2 or regular nodes`,
      ),
  },
  {
    id: 'aci-v1/host-aliases',
    provider: 'azure-virtual-node-v1',
    severity: 'error',
    summary: 'no hostAliases',
    source: AKS_V1,
    check: (t) =>
      (t.template.spec.hostAliases ?? []).length > 0
        ? ['the pod sets hostAliases, not supported on AKS virtual nodes (v1)']
        : [],
  },
  {
    id: 'aci-v1/lifecycle-hooks',
    provider: 'azure-virtual-node-v1',
    severity: 'error',
    summary: 'no container lifecycle hooks (postStart/preStop)',
    source: AKS_V1,
    check: (t) =>
      allContainers(t)
        .filter((e) => e.container.lifecycle?.postStart !== undefined || e.container.lifecycle?.preStop !== undefined)
        .map((e) => `${label(e)} has lifecycle hooks, not supported on AKS virtual nodes (v1)`),
  },
  {
    id: 'aci-v1/args-without-command',
    provider: 'azure-virtual-node-v1',
    severity: 'error',
    summary: 'no args without command (ACI has only a command, which replaces the image ENTRYPOINT)',
    source:
      'Azure Container Instances API: a container has `command` and no separate arguments, so the virtual kubelet ' +
      'passes command + args as the whole command line',
    check: (t) =>
      allContainers(t)
        .filter((e) => (e.container.args ?? []).length > 0 && (e.container.command ?? []).length === 0)
        .map(
          (e) =>
            `${label(e)} sets args without command: on ACI the args would run as the whole command line, without the image's ENTRYPOINT; set command (the image's ENTRYPOINT) too`,
        ),
  },
  daemonSetRule('azure-virtual-node-v1', AKS_V1, 'AKS virtual nodes'),
  {
    id: 'aci-v1/volume-types',
    provider: 'azure-virtual-node-v1',
    severity: 'error',
    summary: `volumes limited to ${ACI_V1_VOLUMES.join(', ')} (no PV/PVC; Azure Files only inline)`,
    source: `${AKS_V1}; virtual-kubelet/azure-aci README feature list`,
    check: (t) => volumesNotIn(t, ACI_V1_VOLUMES).map((m) => `${m}, which AKS virtual nodes (v1) cannot mount`),
  },
  {
    id: 'aci-v1/persistent-storage',
    provider: 'azure-virtual-node-v1',
    severity: 'error',
    summary: 'no persistent volumes or claims',
    source: AKS_V1,
    check: (t) =>
      t.persistentStorage
        ? ['it claims persistent storage, but AKS virtual nodes (v1) support no PV/PVC; place it on regular nodes']
        : [],
  },
  {
    id: 'aci-v1/network-policy',
    provider: 'azure-virtual-node-v1',
    severity: 'warning',
    summary: 'Kubernetes NetworkPolicy is not enforced on ACI pods',
    source: AKS_V1,
    check: (t) =>
      t.networkPolicy
        ? [
            'its NetworkPolicy will not apply to pods on the ACI virtual node: any pod in the virtual network can reach it',
          ]
        : [],
  },
  // ---------------------------------------------------------------- AKS virtual nodes v2
  daemonSetRule('azure-virtual-node-v2', AKS_V2, 'AKS virtual nodes v2'),
  {
    id: 'aci-v2/volume-types',
    provider: 'azure-virtual-node-v2',
    severity: 'error',
    summary: 'no hostPath volumes (there is no host to mount)',
    source: `inference: a virtual node has no host filesystem (${AKS_V2} lists no hostPath support)`,
    check: (t) =>
      (t.template.spec.volumes ?? [])
        .filter((volume) => ACI_V2_FORBIDDEN_VOLUMES.includes(volumeSource(volume)))
        .map(
          (volume) => `volume "${volume.name}" is of type ${volumeSource(volume)}, which has no host on a virtual node`,
        ),
  },
  {
    id: 'aci-v2/persistent-storage',
    provider: 'azure-virtual-node-v2',
    severity: 'error',
    summary: 'persistent volumes only on Azure Files (storage class azurefile*)',
    source: AKS_V2,
    check: (t) => {
      if (!t.persistentStorage) return [];
      const storageClass = t.persistentStorage.storageClassName;
      if (storageClass && /^azurefile/i.test(storageClass)) return [];
      return [
        `it claims persistent storage on storage class ${storageClass ?? '(cluster default)'}, but virtual nodes v2 mount only Azure Files volumes; use an azurefile* storage class or regular nodes`,
      ];
    },
  },
];

/** One rule violation. */
export interface PlacementFinding {
  readonly rule: string;
  readonly severity: Severity;
  readonly message: string;
}

/** Runs the rules of `providers` against a target. */
export function checkRules(providers: readonly RuleProvider[], target: PlacementTarget): PlacementFinding[] {
  return PLACEMENT_RULES.filter((rule) => providers.includes(rule.provider)).flatMap((rule) =>
    rule
      .check(target)
      .map((message) => ({ rule: rule.id, severity: rule.severity, message: `${target.subject}: ${message}` })),
  );
}
