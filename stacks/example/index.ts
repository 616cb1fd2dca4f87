// The Pulumi program of Pulumi.yaml: `pulumi stack select dev|prod && pulumi up`.
import { deployExample } from './program';

const platform = deployExample();

export const namespace = platform.namespace;
export const routerService = platform.routerServiceName;
export const clusterUrl = platform.clusterUrl;
export const url = platform.url;
export const graph = platform.graph;
