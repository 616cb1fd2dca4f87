export * from './platform-component';
export { KubernetesObject, kubernetesTypeToken } from './resource-types';
export type { KubeManifest } from './synthesize';
