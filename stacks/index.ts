export * from './platform-component';
export type { KubeManifest } from './synthesize';
