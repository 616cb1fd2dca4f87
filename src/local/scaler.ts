/**
 * The scaler process when the manifests have none (functions scale to zero, yet no Deployment
 * labelled `kubefaas.dev/component: scaler`): the shipped bundle, lib/pod/scaler.js, run with the
 * environment the contract defines (`ScalerEnv`), pointed at the router's admin port.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Env, PlatformComponents, SCALER_NAME, ScalerEnv, Labels } from '../contract';
import { LOOPBACK } from './ports';
import { applyEnvOverrides, type EnvOverride, type ProcessPlan } from './plan';

export interface BundledScalerOptions {
  readonly runDir: string;
  readonly grpcPort: number;
  readonly adminPort: number;
  readonly routerAdminPort: number;
  readonly namespace: string;
  /** Base variables of every process (PATH, HOME, …). */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** `kubefaas dev --env` values; `kubefaas-scaler:NAME=VALUE` ones apply here (e.g. the rate window). */
  readonly envOverrides?: readonly EnvOverride[];
}

export function bundledScalerPlan(o: BundledScalerOptions): ProcessPlan {
  const env: Record<string, string> = {
    [ScalerEnv.ROUTERS]: `${LOOPBACK}:${o.routerAdminPort}`,
    [ScalerEnv.GRPC_PORT]: String(o.grpcPort),
    [ScalerEnv.ADMIN_PORT]: String(o.adminPort),
    [Env.BIND_HOST]: LOOPBACK,
  };
  // Only those naming the scaler: a bare NAME=VALUE is for workloads whose manifests have NAME.
  applyEnvOverrides(
    SCALER_NAME,
    env,
    o.envOverrides?.filter((e) => e.workload === SCALER_NAME),
  );
  const file = podBundleFile('scaler');
  return {
    name: SCALER_NAME,
    workload: `Deployment/${o.namespace}/${SCALER_NAME} (not in the manifests: the bundled scaler)`,
    namespace: o.namespace,
    isRouter: false,
    isScaler: true,
    command: process.execPath,
    args: [file],
    cwd: o.runDir,
    env,
    processEnv: { ...o.baseEnv, ...env },
    port: o.grpcPort,
    adminPort: o.adminPort,
    host: LOOPBACK,
    readiness: { kind: 'http', path: '/readyz', port: o.adminPort, host: LOOPBACK },
    volumes: [],
    specHash: `bundled-scaler:${file}:${JSON.stringify(env)}`,
    labels: { [Labels.platformComponent]: PlatformComponents.scaler },
  };
}

/**
 * lib/pod/<name>.js of this kubefaas package (found above this file: from the sources under tsx or
 * jest, and from the compiled lib/src/local/), built first in a checkout where it is not yet.
 */
export function podBundleFile(name: string): string {
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && readName(manifest) === 'kubefaas') break;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the kubefaas package above ${__dirname}`);
    dir = parent;
  }
  const file = path.join(dir, 'lib', 'pod', `${name}.js`);
  if (!fs.existsSync(file)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bundles = require(path.join(dir, 'scripts', 'pod-bundles.cjs')) as { buildPodBundleSync(n: string): unknown };
    bundles.buildPodBundleSync(name);
  }
  return file;
}

function readName(manifest: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name;
  } catch {
    return undefined;
  }
}
