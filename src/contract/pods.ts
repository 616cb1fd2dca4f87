/** Ports, the pod user and where the synthesized pods mount the ConfigMaps that carry our code and data. */

/** Port every function container and the router listen on inside their pods. */
export const CONTAINER_PORT = 8080;
/** Port the function and router Services expose. */
export const SERVICE_PORT = 80;
/** Name of the container port the pods serve on (CONTAINER_PORT) and of the Service port in front of it. */
export const HTTP_PORT_NAME = 'http';
/**
 * Name of the router's admin container port (ROUTER_ADMIN_PORT, src/contract/scaling.ts) and of its
 * Service port: the local runner maps it to a local port, the monitors scrape the router there.
 */
export const ADMIN_PORT_NAME = 'admin';
/** Numeric uid/gid of the `node` user in the official node image (restricted PSS needs a number). */
export const NODE_UID = 1000;

/** Where the synthesized pods mount the ConfigMaps that carry our code and data. */
export const Paths = {
  runtimeDir: '/var/kubefaas/runtime',
  runtimeFile: 'runtime.js',
  functionDir: '/var/kubefaas/function',
  functionFile: 'index.js',
  routerDir: '/var/kubefaas/router',
  routerFile: 'router.js',
  routesDir: '/var/kubefaas/routes',
  routesFile: 'routes.json',
  /** The cron sender (lib/pod/cron.js) a CronTrigger's CronJob runs, from the `kubefaas-cron` ConfigMap. */
  cronDir: '/var/kubefaas/cron',
  cronFile: 'cron.js',
  /** The scaler (lib/pod/scaler.js, KEDA's external scaler) from the `kubefaas-scaler` ConfigMap. */
  scalerDir: '/var/kubefaas/scaler',
  scalerFile: 'scaler.js',
  tmpDir: '/tmp',
} as const;

/** Where PythonFunction pods mount the Python runtime (shared ConfigMap) and the entry point they run. */
export const PythonPaths = {
  runtimeDir: '/var/kubefaas/python-runtime',
  runtimeMain: 'kubefaas_main.py',
  /** Prefix of the directory in the pod's /tmp the dependency wheels (`*.whl` in the code) are unpacked into, on `sys.path`. */
  depsDir: 'kubefaas-deps',
} as const;
