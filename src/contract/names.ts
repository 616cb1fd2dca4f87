/** Names, labels and annotations of the objects kubefaas synthesizes (and that the local runner reads). */

export const PART_OF = 'kubefaas';

/** Names of the platform's own components start with this; no function may. */
export const RESERVED_NAME_PREFIX = 'kubefaas-';

/** Name of the router's Deployment, Service and code ConfigMap. */
export const ROUTER_NAME = 'kubefaas-router';

/**
 * The ClusterIP Service of the router's admin port (ROUTER_ADMIN_PORT): health, metrics and the
 * internal by-name/async path. A Service of its own so that no exposure (a LoadBalancer router
 * Service in particular) ever carries the admin port.
 */
export const ROUTER_ADMIN_SERVICE = 'kubefaas-router-admin';

/**
 * With KEDA (issue 10): the headless Service of the router's admin port, whose DNS name resolves to
 * every router pod (not-ready ones included: a draining router still holds requests). The scaler
 * finds the router replicas through it (`ScalerEnv.ROUTERS` = `dns:<host>:<ROUTER_ADMIN_PORT>`).
 */
export const ROUTER_PEERS_SERVICE = 'kubefaas-router-peers';

/**
 * With KEDA: the scaler's Deployment, Service (its gRPC port, what ScaledObjects name), ServiceAccount
 * and code ConfigMap. Its pods carry `Labels.platformComponent: scaler`.
 */
export const SCALER_NAME = 'kubefaas-scaler';

/** Values of `Labels.platformComponent` that tools reading the manifests (the local runner) look for. */
export const PlatformComponents = {
  router: 'router',
  scaler: 'scaler',
} as const;

/** Labels and annotations kubefaas puts on the objects it synthesizes. */
export const Labels = {
  partOf: 'app.kubernetes.io/part-of',
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  /** Stable selector label of a function's pods (value: the function name). */
  function: 'kubefaas.dev/function',
  /** Stable selector label of a platform component's pods (value: e.g. `router`). */
  platformComponent: 'kubefaas.dev/component',
  /**
   * On code ConfigMaps (which are content-hashed and immutable): whose code it is, the function
   * name or `kubefaas-runtime` / `kubefaas-router` / `kubefaas-cron`. Old versions stay for
   * rollbacks; a cleanup selects them by this label (docs/architecture.md, "Code history").
   */
  codeOf: 'kubefaas.dev/code-of',
  /** Which platform an object belongs to (the platform's namespace). */
  instance: 'app.kubernetes.io/instance',
} as const;

export const Annotations = {
  /** Hash of the code a pod runs; changing code changes the pod template and rolls the Deployment. */
  codeHash: 'kubefaas.dev/code-hash',
  /** Hash of a component's configuration (NATS, Prometheus, Alertmanager); a change rolls its pods. */
  configHash: 'kubefaas.dev/config-hash',
  /**
   * ContainerFunction only, on the Deployment (never on its pods): JSON array of the command the local
   * runner starts instead of the image (a laptop has no container runtime). Ignored by Kubernetes.
   */
  localCommand: 'kubefaas.dev/local-command',
  /**
   * On the router Service when the platform's cluster domain is not DEFAULT_CLUSTER_DOMAIN, so tools that
   * only see the manifests (the Pulumi outputs) build the same in-cluster URLs.
   */
  clusterDomain: 'kubefaas.dev/cluster-domain',
} as const;

/** The DNS domain of a cluster unless its kubelet says otherwise (`--cluster-domain`). */
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** Service DNS name of a Service in the cluster. */
export function serviceHost(name: string, namespace: string, clusterDomain: string = DEFAULT_CLUSTER_DOMAIN): string {
  return `${name}.${namespace}.svc.${clusterDomain}`;
}
