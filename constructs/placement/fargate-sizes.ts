/**
 * The CPU/memory combinations AWS Fargate runs EKS pods with, and how a pod's requests map onto
 * them. Source: Amazon EKS User Guide, "Understand Fargate Pod configuration details"
 * (awsdocs/amazon-eks-user-guide latest/ug/nodes/fargate-pod-configuration.adoc):
 * - the pod's request is max(largest init container request, sum of the other containers' requests);
 * - Fargate adds 256 MB for kubelet, kube-proxy and containerd;
 * - the result is rounded up to the closest combination in the table below;
 * - a pod without requests gets the smallest combination (0.25 vCPU, 0.5 GB).
 * "GB" there is the binary gigabyte (the Fargate API counts memory in MiB: 512, 1024, ...), so we
 * compute in millicores and MiB.
 */
import { cpuMillis, memoryMiB } from './quantity';

/** Memory Fargate adds to every pod for its Kubernetes components, in MiB. */
export const FARGATE_OVERHEAD_MIB = 256;

/** One CPU/memory combination Fargate can run a pod with. */
export interface FargateSize {
  /** vCPUs in millicores (250 = 0.25 vCPU). */
  readonly cpuMillis: number;
  /** Memory in MiB (512 = 0.5 GB). */
  readonly memoryMiB: number;
}

interface SizeRow {
  readonly cpuMillis: number;
  readonly memoryGiB: readonly number[];
}

function range(fromGiB: number, toGiB: number, stepGiB: number): number[] {
  const values: number[] = [];
  for (let gib = fromGiB; gib <= toGiB; gib += stepGiB) values.push(gib);
  return values;
}

const ROWS: readonly SizeRow[] = [
  { cpuMillis: 250, memoryGiB: [0.5, 1, 2] },
  { cpuMillis: 500, memoryGiB: [1, 2, 3, 4] },
  { cpuMillis: 1000, memoryGiB: range(2, 8, 1) },
  { cpuMillis: 2000, memoryGiB: range(4, 16, 1) },
  { cpuMillis: 4000, memoryGiB: range(8, 30, 1) },
  { cpuMillis: 8000, memoryGiB: range(16, 60, 4) },
  { cpuMillis: 16000, memoryGiB: range(32, 120, 8) },
];

/** Every valid combination, ordered by vCPU, then memory (smallest first). */
export const FARGATE_SIZES: readonly FargateSize[] = ROWS.flatMap((row) =>
  row.memoryGiB.map((gib) => ({ cpuMillis: row.cpuMillis, memoryMiB: gib * 1024 })),
);

/** The largest pod Fargate runs. */
export const LARGEST_FARGATE_SIZE: FargateSize = FARGATE_SIZES[FARGATE_SIZES.length - 1];

/** A pod's total CPU/memory demand as Fargate computes it, before the 256 MB overhead. */
export interface PodDemand {
  readonly cpuMillis: number;
  readonly memoryMiB: number;
}

/**
 * The smallest combination that holds `demand` plus the 256 MB overhead: the lowest vCPU with a
 * memory option large enough, then the lowest such memory. Because each row's memory options start
 * at or above the previous row's, this is also the cheapest fit. Undefined when nothing fits
 * (more than 16 vCPU or 120 GB).
 */
export function fargateSizeFor(demand: PodDemand): FargateSize | undefined {
  const neededMemory = demand.memoryMiB + FARGATE_OVERHEAD_MIB;
  return FARGATE_SIZES.find((size) => size.cpuMillis >= demand.cpuMillis && size.memoryMiB >= neededMemory);
}

/** Whether `size` holds `demand` (with the overhead). */
export function fargateSizeFits(size: FargateSize, demand: PodDemand): boolean {
  return size.cpuMillis >= demand.cpuMillis && size.memoryMiB >= demand.memoryMiB + FARGATE_OVERHEAD_MIB;
}

/** `0.25vCPU 0.5GB`: the format of the `CapacityProvisioned` annotation Fargate puts on its pods. */
export function formatFargateSize(size: FargateSize): string {
  return `${size.cpuMillis / 1000}vCPU ${size.memoryMiB / 1024}GB`;
}

/** The containers' resource fields we read (a subset of the Kubernetes Container). */
export interface ContainerResourcesLike {
  readonly name?: string;
  readonly resources?: {
    readonly requests?: { readonly [resource: string]: string | number | undefined };
    readonly limits?: { readonly [resource: string]: string | number | undefined };
  };
}

/**
 * A pod's demand as Fargate computes it: the larger of the biggest init container and the sum of
 * the long-running containers, for CPU and memory separately. Missing requests count as zero.
 */
export function podDemand(
  containers: readonly ContainerResourcesLike[],
  initContainers: readonly ContainerResourcesLike[] = [],
): PodDemand {
  const request = (c: ContainerResourcesLike, resource: 'cpu' | 'memory'): number => {
    const value = c.resources?.requests?.[resource];
    if (value === undefined) return 0;
    return resource === 'cpu' ? cpuMillis(value) : memoryMiB(value);
  };
  const sum = (resource: 'cpu' | 'memory') => containers.reduce((total, c) => total + request(c, resource), 0);
  const maxInit = (resource: 'cpu' | 'memory') =>
    initContainers.reduce((max, c) => Math.max(max, request(c, resource)), 0);
  return {
    cpuMillis: Math.max(sum('cpu'), maxInit('cpu')),
    memoryMiB: Math.max(sum('memory'), maxInit('memory')),
  };
}
