/**
 * Where a workload's pods run: regular nodes, AWS Fargate, or AKS virtual nodes (Azure Container
 * Instances), exclusively or as overflow ("burst"). A Placement is a value: it knows the
 * scheduling fields its provider documents, rewrites a pod template accordingly (`applyTo`), and
 * checks the provider's limits (`check`). The Platform takes one as the functions' default and one
 * per platform component; each function may override it.
 *
 * Scheduling fields, exactly as the providers document them:
 * - AKS virtual node add-on (v1), MicrosoftDocs/azure-aks-docs `articles/aks/virtual-nodes-cli.md`:
 *   nodeSelector kubernetes.io/role=agent, beta.kubernetes.io/os=linux, type=virtual-kubelet;
 *   tolerations virtual-kubelet.io/provider (Exists) and azure.com/aci (NoSchedule).
 * - AKS virtual nodes v2, `articles/aks/virtual-nodes-v2.md`: nodeSelector
 *   virtualization=virtualnode2, kubernetes.io/os=linux; toleration virtual-kubelet.io/provider
 *   (Exists, NoSchedule).
 * - EKS Fargate, awsdocs `fargate-profile.adoc`: no node selector, toleration or affinity ("affinity
 *   rules do not apply and aren't necessary"); a pod runs on Fargate when its namespace and labels
 *   match a Fargate profile selector, and the label eks.amazonaws.com/fargate-profile picks the
 *   profile when several match.
 */
import { FargateProfileDefinition, FargateProfileSelector, fargateProfileProblems } from './fargate-profile';
import { FARGATE_OVERHEAD_MIB, FargateSize, fargateSizeFor, formatFargateSize, podDemand } from './fargate-sizes';
import { checkRules, PlacementFinding, PlacementTarget, RuleProvider } from './rules';
import { cpuMillis, formatCpu, formatMemory, memoryMiB } from './quantity';
import { Affinity, ContainerLike, PodTemplateLike, StringMap, Toleration } from './pod-types';

/** Label kubefaas puts on pods placed on Fargate, for the profile to select on (default selector). */
export const FARGATE_SELECTOR_LABEL = 'kubefaas.dev/compute';
/** Pod label that picks one Fargate profile when several match (EKS-defined). */
export const FARGATE_PROFILE_LABEL = 'eks.amazonaws.com/fargate-profile';
/** Pod-template annotation reporting the Fargate size a pod will run (and be billed) with. */
export const FARGATE_SIZE_ANNOTATION = 'kubefaas.dev/fargate-size';
/** Weight of the "prefer regular nodes" term in burst mode (the maximum, so it dominates scoring). */
export const BURST_PREFERENCE_WEIGHT = 100;

export type PlacementProvider = 'regular' | 'aws-fargate' | 'azure-virtual-node';
export type AzureVirtualNodeVersion = 'v1' | 'v2';
/** `only`: every pod on the virtual capacity; `burst`: prefer regular nodes, overflow to virtual ones. */
export type PlacementMode = 'only' | 'burst';

/** A Fargate profile kubefaas synthesizes (as an ACK object) and hands to the Pulumi stack. */
export interface FargateProfileOptions {
  /** Profile name (DNS-1123 label). */
  readonly name: string;
  readonly clusterName: string;
  readonly podExecutionRoleArn: string;
  /** Private subnet ids. */
  readonly subnets: readonly string[];
  /**
   * Tags on the profile.
   * @default {}
   */
  readonly tags?: StringMap;
}

export interface AwsFargateOptions {
  /**
   * Labels added to every pod placed here; the profile selects on them (with the namespace).
   * An empty map means the profile selects the whole namespace.
   * @default { 'kubefaas.dev/compute': 'fargate' }
   */
  readonly selectorLabels?: StringMap;
  /**
   * A profile for kubefaas to synthesize (ACK `FargateProfile`, selectors derived from the pods'
   * namespace and `selectorLabels`). Mutually exclusive with `profileName`.
   * @default none: the profile is managed elsewhere
   */
  readonly profile?: FargateProfileOptions;
  /**
   * Name of a profile managed elsewhere; pods get the eks.amazonaws.com/fargate-profile label so
   * that profile wins when several match.
   * @default none (no profile label unless `profile` is given)
   */
  readonly profileName?: string;
  /**
   * Round every pod's requests up to the Fargate size it will be billed for, and set limits equal
   * to requests (Fargate's Guaranteed QoS). Off: requests and limits are only checked.
   * @default true
   */
  readonly rightSize?: boolean;
}

export interface AzureVirtualNodeOptions {
  /**
   * `v1`: the AKS virtual node add-on (virtual-kubelet ACI). `v2`: the Virtual Nodes v2 cluster
   * extension, which Microsoft recommends for new clusters and which lifts several v1 limits.
   * @default 'v2'
   */
  readonly version?: AzureVirtualNodeVersion;
}

/** What a placement did to a pod template. */
export interface PlacedTemplate {
  readonly template: PodTemplateLike;
  /** The Fargate size the pod runs with (Fargate placements whose requests fit a size). */
  readonly fargateSize?: FargateSize;
}

/** Scheduling fields a placement puts on pod specs. */
export interface SchedulingFields {
  readonly nodeSelector?: StringMap;
  readonly tolerations?: readonly Toleration[];
  readonly affinity?: Affinity;
}

const ACI_V1_SCHEDULING: Required<Pick<SchedulingFields, 'nodeSelector' | 'tolerations'>> = {
  nodeSelector: { 'kubernetes.io/role': 'agent', 'beta.kubernetes.io/os': 'linux', type: 'virtual-kubelet' },
  tolerations: [
    { key: 'virtual-kubelet.io/provider', operator: 'Exists' },
    { key: 'azure.com/aci', effect: 'NoSchedule' },
  ],
};

const ACI_V2_SCHEDULING: Required<Pick<SchedulingFields, 'nodeSelector' | 'tolerations'>> = {
  nodeSelector: { virtualization: 'virtualnode2', 'kubernetes.io/os': 'linux' },
  tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' }],
};

/** The node label and value that mark a virtual node, per AKS version (for the burst preference). */
const ACI_NODE_MARK: Record<AzureVirtualNodeVersion, { key: string; value: string }> = {
  v1: { key: 'type', value: 'virtual-kubelet' },
  v2: { key: 'virtualization', value: 'virtualnode2' },
};

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export class Placement {
  /** Regular cluster nodes: no scheduling fields, no extra rules. */
  public static regularNodes(): Placement {
    return new Placement('regular', 'only', {});
  }

  /** AWS Fargate through an EKS Fargate profile. */
  public static awsFargate(options: AwsFargateOptions = {}): Placement {
    const problems: string[] = [];
    if (options.profile && options.profileName)
      problems.push('give either profile (synthesized) or profileName (managed elsewhere), not both');
    if (options.profile) problems.push(...fargateProfileProblems(options.profile));
    for (const [key, value] of Object.entries(options.selectorLabels ?? {})) {
      if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(value))
        problems.push(
          `selector label ${key}=${value} is not a valid Kubernetes label (it goes on the pods, so no wildcards)`,
        );
    }
    if (problems.length > 0) throw new Error(`Placement.awsFargate: ${problems.join('; ')}`);
    return new Placement('aws-fargate', 'only', { fargate: options });
  }

  /** Azure Container Instances through AKS virtual nodes; every pod runs there. */
  public static azureVirtualNode(options: AzureVirtualNodeOptions = {}): Placement {
    const version = options.version ?? 'v2';
    if (version !== 'v1' && version !== 'v2')
      throw new Error(`Placement.azureVirtualNode: version must be 'v1' or 'v2', got ${String(version)}`);
    return new Placement('azure-virtual-node', 'only', { version });
  }

  /**
   * Prefer regular nodes and let pods overflow to `virtual` when the cluster is full (the pods
   * tolerate the virtual node's taint and carry a preferred node affinity away from it). The
   * scheduler treats the preference as a score, not a guarantee.
   *
   * Only AKS virtual nodes can do this: Fargate decides placement from namespace and labels when a
   * pod is created, so a pod never "overflows" there. `burst(awsFargate())` throws and says what to
   * do instead (a separate burst function on Fargate, EKS Auto Mode or Karpenter).
   */
  public static burst(virtual: Placement): Placement {
    if (virtual.provider === 'aws-fargate') {
      throw new Error(
        'Placement.burst: AWS Fargate cannot take overflow. EKS decides at pod creation, from namespace and labels, whether a pod runs on Fargate; ' +
          'no pod moves there when nodes are full. Place the whole function with Placement.awsFargate(), or add a second function (e.g. "<name>-burst") ' +
          'placed on Fargate and scaled on the same metric, or use EKS Auto Mode / Karpenter for elastic nodes.',
      );
    }
    if (virtual.provider !== 'azure-virtual-node')
      throw new Error(
        'Placement.burst: give a virtual-node placement, e.g. Placement.burst(Placement.azureVirtualNode())',
      );
    return new Placement('azure-virtual-node', 'burst', { version: virtual.version });
  }

  private readonly fargate?: AwsFargateOptions;
  /** AKS virtual node version (virtual-node placements only). */
  public readonly version?: AzureVirtualNodeVersion;

  private constructor(
    public readonly provider: PlacementProvider,
    public readonly mode: PlacementMode,
    options: { readonly fargate?: AwsFargateOptions; readonly version?: AzureVirtualNodeVersion },
  ) {
    this.fargate = options.fargate;
    this.version = options.version;
  }

  /** Human-readable, for messages: `AWS Fargate`, `AKS virtual nodes v2 (burst)`. */
  public get description(): string {
    const base =
      this.provider === 'regular'
        ? 'regular nodes'
        : this.provider === 'aws-fargate'
          ? 'AWS Fargate'
          : `AKS virtual nodes ${this.version}`;
    return this.mode === 'burst' ? `${base} (burst)` : base;
  }

  /** The rule sets that apply: a burst placement obeys the virtual node's limits, since pods may land there. */
  public get ruleProviders(): readonly RuleProvider[] {
    if (this.provider === 'aws-fargate') return ['aws-fargate'];
    if (this.provider === 'azure-virtual-node')
      return [this.version === 'v1' ? 'azure-virtual-node-v1' : 'azure-virtual-node-v2'];
    return [];
  }

  /** The node selector, tolerations and affinity this placement puts on pod specs. */
  public scheduling(): SchedulingFields {
    if (this.provider !== 'azure-virtual-node') return {};
    const version = this.version ?? 'v2';
    const documented = version === 'v1' ? ACI_V1_SCHEDULING : ACI_V2_SCHEDULING;
    if (this.mode === 'only') {
      return {
        nodeSelector: { ...documented.nodeSelector },
        tolerations: documented.tolerations.map((t) => ({ ...t })),
      };
    }
    const mark = ACI_NODE_MARK[version];
    return {
      tolerations: documented.tolerations.map((t) => ({ ...t })),
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: BURST_PREFERENCE_WEIGHT,
              preference: { matchExpressions: [{ key: mark.key, operator: 'NotIn', values: [mark.value] }] },
            },
          ],
        },
      },
    };
  }

  /** Labels this placement puts on pods (Fargate: the labels its profile selects on). */
  public podLabels(): StringMap {
    if (this.provider !== 'aws-fargate') return {};
    const labels: Record<string, string> = {
      ...(this.fargate?.selectorLabels ?? { [FARGATE_SELECTOR_LABEL]: 'fargate' }),
    };
    const profileName = this.fargate?.profile?.name ?? this.fargate?.profileName;
    if (profileName) labels[FARGATE_PROFILE_LABEL] = profileName;
    return labels;
  }

  /** Whether Fargate right-sizing is on (Fargate placements only). */
  public get rightSize(): boolean {
    return this.provider === 'aws-fargate' && (this.fargate?.rightSize ?? true);
  }

  /** The selectors the Fargate profile needs for pods in `namespace` (Fargate placements only). */
  public fargateSelector(namespace: string): FargateProfileSelector | undefined {
    if (this.provider !== 'aws-fargate') return undefined;
    const labels = { ...(this.fargate?.selectorLabels ?? { [FARGATE_SELECTOR_LABEL]: 'fargate' }) };
    return Object.keys(labels).length > 0 ? { namespace, labels } : { namespace };
  }

  /**
   * The Fargate profile kubefaas should synthesize for pods in `namespace`, when this placement
   * carries one. Several placements naming the same profile are merged by the Platform.
   */
  public fargateProfile(namespace: string): FargateProfileDefinition | undefined {
    const profile = this.fargate?.profile;
    const selector = this.fargateSelector(namespace);
    if (!profile || !selector) return undefined;
    return { ...profile, subnets: [...profile.subnets], selectors: [selector] };
  }

  /**
   * A copy of `template` placed here: scheduling fields set (replacing any earlier placement's),
   * pod labels added, and on Fargate, resources right-sized and the pod's real size annotated.
   */
  public applyTo(template: PodTemplateLike): PlacedTemplate {
    const { nodeSelector: _ns, tolerations: _t, affinity: _a, ...restSpec } = template.spec;
    const scheduling = this.scheduling();
    let spec = { ...restSpec, ...scheduling } as PodTemplateLike['spec'];
    const labels = { ...(template.metadata?.labels ?? {}), ...this.podLabels() };
    const annotations: Record<string, string> = { ...(template.metadata?.annotations ?? {}) };
    let fargateSize: FargateSize | undefined;
    if (this.provider === 'aws-fargate') {
      if (this.rightSize) spec = rightSizeForFargate(spec);
      fargateSize = fargateSizeFor(podDemand(spec.containers, spec.initContainers));
      if (fargateSize) annotations[FARGATE_SIZE_ANNOTATION] = formatFargateSize(fargateSize);
    }
    const metadata = {
      ...(template.metadata ?? {}),
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    };
    return { template: { ...template, metadata, spec }, ...(fargateSize ? { fargateSize } : {}) };
  }

  /** Every rule violation of `target` (already placed with `applyTo`) on this placement. */
  public check(target: PlacementTarget): PlacementFinding[] {
    return checkRules(this.ruleProviders, target).map((finding) => ({
      ...finding,
      message: `${finding.message} [${this.description}, rule ${finding.rule}]`,
    }));
  }
}

/**
 * Sets requests = limits on every container and grows the first long-running container so the pod
 * uses the whole Fargate size it is billed for (size minus the 256 MB Fargate keeps). Pods whose
 * demand fits no size are returned with requests = limits only; the size rule reports them.
 */
function rightSizeForFargate(spec: PodTemplateLike['spec']): PodTemplateLike['spec'] {
  const equalize = (c: ContainerLike): ContainerLike => {
    const requests = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    const pinned: Record<string, string | number | undefined> = { ...requests };
    return {
      ...c,
      resources: { ...(c.resources ?? {}), requests: pinned, limits: { ...(c.resources?.limits ?? {}), ...pinned } },
    };
  };
  const containers = spec.containers.map(equalize);
  const initContainers = spec.initContainers?.map(equalize);
  const demand = podDemand(containers, initContainers);
  const size = fargateSizeFor(demand);
  if (!size || containers.length === 0) return { ...spec, containers, ...(initContainers ? { initContainers } : {}) };

  const sum = (resource: 'cpu' | 'memory') =>
    containers.reduce((total, c) => {
      const value = c.resources?.requests?.[resource];
      return total + (value === undefined ? 0 : resource === 'cpu' ? cpuMillis(value) : memoryMiB(value));
    }, 0);
  const first = containers[0];
  const firstCpu = first.resources?.requests?.cpu === undefined ? 0 : cpuMillis(first.resources.requests.cpu);
  const firstMemory = first.resources?.requests?.memory === undefined ? 0 : memoryMiB(first.resources.requests.memory);
  const cpu = formatCpu(firstCpu + (size.cpuMillis - sum('cpu')));
  const memory = formatMemory(firstMemory + (size.memoryMiB - FARGATE_OVERHEAD_MIB - sum('memory')));
  const grown: ContainerLike = {
    ...first,
    resources: {
      ...first.resources,
      requests: { ...first.resources?.requests, cpu, memory },
      limits: { ...first.resources?.limits, cpu, memory },
    },
  };
  return { ...spec, containers: [grown, ...containers.slice(1)], ...(initContainers ? { initContainers } : {}) };
}
