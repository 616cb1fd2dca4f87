/**
 * The slice of the Kubernetes pod API that placement reads and writes, as plain JSON shapes.
 * Placement works on the JSON a workload renders (not on cdk8s-plus objects), so the same code
 * places functions, the router, the queue and Prometheus, and tests can feed it any pod.
 */

export type StringMap = { readonly [key: string]: string };

export interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  readonly tolerationSeconds?: number;
}

export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  readonly values?: readonly string[];
}

export interface PreferredSchedulingTerm {
  readonly weight: number;
  readonly preference: { readonly matchExpressions: readonly NodeSelectorRequirement[] };
}

export interface Affinity {
  readonly nodeAffinity?: {
    readonly preferredDuringSchedulingIgnoredDuringExecution?: readonly PreferredSchedulingTerm[];
    readonly requiredDuringSchedulingIgnoredDuringExecution?: unknown;
  };
  readonly podAffinity?: unknown;
  readonly podAntiAffinity?: unknown;
}

export interface ResourceListLike {
  readonly [resource: string]: string | number | undefined;
}

export interface ContainerLike {
  readonly name: string;
  readonly resources?: { readonly requests?: ResourceListLike; readonly limits?: ResourceListLike };
  readonly securityContext?: {
    readonly privileged?: boolean;
    readonly capabilities?: { readonly add?: readonly string[]; readonly drop?: readonly string[] };
    readonly [field: string]: unknown;
  };
  readonly ports?: readonly {
    readonly containerPort: number;
    readonly hostPort?: number;
    readonly hostIP?: string;
    readonly [field: string]: unknown;
  }[];
  readonly lifecycle?: { readonly postStart?: unknown; readonly preStop?: unknown };
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly [field: string]: unknown;
}

export interface VolumeLike {
  readonly name: string;
  readonly [source: string]: unknown;
}

export interface PodSpecLike {
  readonly containers: readonly ContainerLike[];
  readonly initContainers?: readonly ContainerLike[];
  readonly volumes?: readonly VolumeLike[];
  readonly nodeSelector?: StringMap;
  readonly tolerations?: readonly Toleration[];
  readonly affinity?: Affinity;
  readonly hostNetwork?: boolean;
  readonly hostAliases?: readonly unknown[];
  readonly topologySpreadConstraints?: readonly unknown[];
  readonly [field: string]: unknown;
}

export interface PodTemplateLike {
  readonly metadata?: {
    readonly labels?: StringMap;
    readonly annotations?: StringMap;
    readonly [field: string]: unknown;
  };
  readonly spec: PodSpecLike;
}

/** Kinds of workload a pod template can belong to (DaemonSets never run on virtual nodes). */
export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob' | 'ReplicaSet';
