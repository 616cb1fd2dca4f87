/** Placement: regular nodes, AWS Fargate, AKS virtual nodes, burst; the provider limits checked at synth. */
export * from './placement';
export * from './fargate-sizes';
export * from './fargate-profile';
export * from './rules';
export * from './warnings';
export * from './persistent-storage';
export { parseQuantity, cpuMillis, memoryMiB, formatCpu, formatMemory } from './quantity';
export * from './pod-types';
export * from './validation';
