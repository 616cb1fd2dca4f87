/**
 * `kubefaas/pulumi`: deploys a kubefaas cdk8s app with Pulumi (docs/pulumi.md). Every name is
 * listed on purpose; test/packaging/public-api.json records them.
 */
export { KubefaasPlatform } from './platform-component';
export type { KubefaasPlatformArgs, PlatformSecret } from './platform-component';
export { KubernetesObject } from './resource-types';
