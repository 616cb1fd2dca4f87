/**
 * Planning: a pure translation from synthesized manifests to the local processes that stand in for
 * them. No files are written and nothing is started here, so this is where the rules of the local
 * runner live and are unit-tested:
 * - one process per Deployment/StatefulSet (replicas are ignored), running its first container;
 * - `node:*` images whose command starts with `node` run on the local node binary, `python:*` images
 *   whose command starts with `python3` on the local python3; any workload may
 *   instead carry a `kubefaas.dev/local-command` pod annotation (JSON array); anything else is skipped;
 * - ConfigMap/Secret volumes become files, emptyDirs empty directories, under the run directory;
 * - every Service is mapped to its backing process's local port, and Service addresses in ConfigMap
 *   data and env values are rewritten to 127.0.0.1:<port>;
 * - container paths under a mount, in command/args/env, are rewritten to the local directories.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import {
  ADMIN_PORT_NAME,
  ActivatorEnv,
  Annotations,
  CONTAINER_PORT,
  CronEnv,
  DEFAULT_CLUSTER_DOMAIN,
  EndpointSources,
  Env,
  Labels,
  Paths,
  PythonPaths,
  PlatformComponents,
  QueueEnv,
  SCALER_GRPC_PORT,
  ScalerEnv,
  type RouteTable,
} from '../contract';
import { LocalConfigError, resolveEnv } from './env';
import type { Container, Manifests, PodTemplate, ServicePort, Volume } from './manifests';
import { isNatsImage, planNatsServer, withoutNatsCredentials } from './nats';
import { isPythonCommand, isPythonImage, localPython, minorVersion, pythonImageVersion } from './python';
import { findInstallContainer, planInstall, type DependencyInstall } from './python-install';
import { LOOPBACK } from './ports';
import type { PlannedVolume } from './volume';
import {
  expandVariables,
  pathRewriter,
  serviceAddressRewriter,
  type PathMapping,
  type ServiceAddress,
} from './rewrite';

/** Workload (Deployment) annotation with the command (JSON array of strings) it runs with locally. */
export const LOCAL_COMMAND_ANNOTATION = Annotations.localCommand;

/** Workload kinds the runner starts processes for. */
export const WORKLOAD_KINDS: readonly string[] = ['Deployment', 'StatefulSet'];

/** Variables copied from the developer's environment into every process (a container gets them from its image). */
const BASE_ENV_NAMES = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TERM', 'SystemRoot', 'SYSTEMROOT'];

export interface Workload {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly template: PodTemplate;
  /** The workload object's own annotations (not its pods'): where local-only settings live. */
  readonly annotations?: Readonly<Record<string, string>>;
}

export type Readiness =
  /**
   * `port` and `host`: where to probe when it is not the process's main listener (the router's admin
   * port, always on loopback).
   */
  | { readonly kind: 'http'; readonly path: string; readonly port?: number; readonly host?: string }
  | { readonly kind: 'tcp' }
  | { readonly kind: 'none' };

export interface ProcessPlan {
  /** Process name: the workload's name. */
  readonly name: string;
  /** `Deployment/<namespace>/<name>`. */
  readonly workload: string;
  readonly namespace: string;
  readonly isRouter: boolean;
  /** The scaler (KEDA's external scaler): the runner plays KEDA against it (autoscaler.ts). */
  readonly isScaler?: boolean;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The container's resolved env (without the base variables). */
  readonly env: Readonly<Record<string, string>>;
  /** Full environment of the process. */
  readonly processEnv: Readonly<Record<string, string>>;
  readonly port: number;
  /** Local port of its admin listener (the router's: health, metrics, every function by name), if it has one. */
  readonly adminPort?: number;
  /** Address it listens on (Env.BIND_HOST; nats-server's `listen`). */
  readonly host: string;
  readonly readiness: Readiness;
  readonly volumes: readonly PlannedVolume[];
  /** Changes when anything but volume *contents* changes: then the process must restart. */
  readonly specHash: string;
  /** Pod labels, for tests and for printing. */
  readonly labels: Readonly<Record<string, string>>;
  /** The local nats-server standing in for the queue: started, and ready, before everything else. */
  readonly isQueue?: boolean;
  /** Dependencies to install (PythonDependencies.installAtStart) before the process starts; see python-install.ts. */
  readonly install?: DependencyInstall;
}

/** A CronJob, run locally as a one-shot process on its schedule (see cron.ts). */
export interface CronJobPlan {
  /** The CronJob's name. */
  readonly name: string;
  readonly namespace: string;
  readonly schedule: string;
  readonly timeZone?: string;
  readonly concurrencyPolicy: 'Allow' | 'Forbid' | 'Replace';
  readonly suspend: boolean;
  /** Function and trigger names, from the cron sender's env (CronEnv), when it is a kubefaas CronTrigger. */
  readonly function?: string;
  readonly trigger?: string;
  /** The process one tick runs (its `port` is unused). */
  readonly process: ProcessPlan;
}

export interface SkippedWorkload {
  readonly name: string;
  readonly reason: string;
}

export interface LocalPlan {
  readonly processes: readonly ProcessPlan[];
  readonly skipped: readonly SkippedWorkload[];
  readonly warnings: readonly string[];
  readonly services: readonly ServiceAddress[];
  /** The route table found in the manifests (already pointing at local ports), if any. */
  readonly routes?: RouteTable;
  /** CronJobs the runner fires on their schedules. */
  readonly cronJobs: readonly CronJobPlan[];
}

export interface PlanOptions {
  /** Directory under which each process gets `<name>/` with its volumes. */
  readonly runDir: string;
  /**
   * A workload's own directory, when not `<runDir>/<name>`: a reload starts a function's new process
   * next to the old one, each with its own files. @default `<runDir>/<name>` for every workload
   */
  readonly processDirs?: ReadonlyMap<string, string>;
  /** Working directory of processes started from a local-command annotation (the project root). */
  readonly projectDir: string;
  /** Port of the router (pods labelled `kubefaas.dev/component: router`). */
  readonly routerPort: number;
  /**
   * Local port of the router's admin listener (ActivatorEnv.ADMIN_PORT; its container port named
   * `admin`): health, metrics and the internal by-name path the cron sender and `kubefaas invoke` use.
   */
  readonly routerAdminPort: number;
  /** Local port of the scaler's admin listener (health, metrics), when the manifests have a scaler. @default none */
  readonly scalerAdminPort?: number;
  /** Address the router listens on; every other process listens on 127.0.0.1. @default '127.0.0.1' */
  readonly routerHost?: string;
  /** Local port of every other workload, by name (see `workloadNames`). */
  readonly ports: ReadonlyMap<string, number>;
  /** The developer's environment: base variables and Secrets missing from the manifests. */
  readonly developerEnv: Readonly<Record<string, string | undefined>>;
  /** Values that replace what the manifests give a workload's env (`kubefaas dev --env`). */
  readonly envOverrides?: readonly EnvOverride[];
}

/** `[workload:]NAME=VALUE` from `kubefaas dev --env`: no workload = every workload that has NAME. */
export interface EnvOverride {
  readonly workload?: string;
  readonly name: string;
  readonly value: string;
}

/** Parses `[workload:]NAME=VALUE`; throws LocalConfigError naming the bad text. */
export function parseEnvOverride(text: string): EnvOverride {
  const m = /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?):)?([-._a-zA-Z][-._a-zA-Z0-9]*)=(.*)$/s.exec(text);
  if (!m) throw new LocalConfigError(`--env expects [workload:]NAME=VALUE, got "${text}"`);
  return { workload: m[1], name: m[3], value: m[4] };
}

/** Applies `--env` overrides to `env` (in place) for `workload`. */
export function applyEnvOverrides(
  workload: string,
  env: Record<string, string>,
  overrides: readonly EnvOverride[] = [],
): void {
  for (const o of overrides) {
    if (o.workload === undefined ? o.name in env : o.workload === workload) env[o.name] = o.value;
  }
}

/** All workloads in the manifests, with unique names. */
export function findWorkloads(manifests: Manifests): Workload[] {
  const seen = new Set<string>();
  const workloads: Workload[] = [];
  for (const obj of manifests.objects) {
    if (!obj.kind || !WORKLOAD_KINDS.includes(obj.kind)) continue;
    const spec = (obj.spec ?? {}) as { template?: PodTemplate };
    const namespace = manifests.namespaceOf(obj);
    let name = obj.metadata?.name ?? 'unnamed';
    if (seen.has(name)) name = `${name}.${namespace}`;
    for (let i = 2; seen.has(name); i++) name = `${obj.metadata?.name}-${i}`;
    seen.add(name);
    workloads.push({
      kind: obj.kind,
      name,
      namespace,
      template: spec.template ?? {},
      ...(obj.metadata?.annotations ? { annotations: obj.metadata.annotations } : {}),
    });
  }
  return workloads;
}

export function isRouter(w: Workload): boolean {
  return w.template.metadata?.labels?.[Labels.platformComponent] === PlatformComponents.router;
}

export function isScaler(w: Workload): boolean {
  return w.template.metadata?.labels?.[Labels.platformComponent] === PlatformComponents.scaler;
}

/** Names of all workloads; each needs a local port (the router's allocated one goes unused). */
export function workloadNames(manifests: Manifests): string[] {
  return findWorkloads(manifests).map((w) => w.name);
}

function sha256(value: unknown): string {
  return createHash('sha256')
    .update(typeof value === 'string' ? value : JSON.stringify(value))
    .digest('hex');
}

/**
 * The port the container listens on in its pod: its PORT env, else its first declared port, else
 * 8080. The scaler's is its gRPC port (the one KEDA, and locally the runner, calls).
 */
function containerMainPort(c: Container, scaler = false): number {
  const portEnv = c.env?.find((e) => e.name === (scaler ? ScalerEnv.GRPC_PORT : Env.PORT))?.value;
  if (scaler) return portEnv !== undefined && /^\d+$/.test(String(portEnv)) ? Number(portEnv) : SCALER_GRPC_PORT;
  if (portEnv !== undefined && /^\d+$/.test(String(portEnv))) return Number(portEnv);
  return c.ports?.[0]?.containerPort ?? CONTAINER_PORT;
}

/** The container's admin port (a port named `admin`: the router's), if it declares one. */
function containerAdminPort(c: Container): number | undefined {
  return c.ports?.find((p) => p.name === ADMIN_PORT_NAME)?.containerPort;
}

function resolveTargetPort(c: Container, sp: ServicePort): number | undefined {
  if (sp.targetPort === undefined) return sp.port;
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  if (/^\d+$/.test(sp.targetPort)) return Number(sp.targetPort);
  return c.ports?.find((p) => p.name === sp.targetPort)?.containerPort;
}

function labelsMatch(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

/** The platform's cluster domain, as the Platform notes it on the router Service when not the default. */
function clusterDomainOf(manifests: Manifests): string {
  for (const svc of manifests.ofKind('Service')) {
    const domain = svc.metadata?.annotations?.[Annotations.clusterDomain];
    if (domain) return domain;
  }
  return DEFAULT_CLUSTER_DOMAIN;
}

/**
 * Maps every Service port that reaches a workload's main port to that workload's local port, and
 * one that reaches its admin port (the router's) to its local admin port.
 */
function mapServices(
  manifests: Manifests,
  workloads: readonly Workload[],
  portOf: (w: Workload) => number,
  adminPortOf: (w: Workload) => number | undefined,
  warnings: string[],
): ServiceAddress[] {
  const addresses: ServiceAddress[] = [];
  for (const svc of manifests.ofKind('Service')) {
    const spec = (svc.spec ?? {}) as { selector?: Record<string, string>; ports?: ServicePort[] };
    const namespace = manifests.namespaceOf(svc);
    const name = svc.metadata?.name;
    if (!name || !spec.selector) continue;
    const target = workloads.find(
      (w) => w.namespace === namespace && labelsMatch(spec.selector!, w.template.metadata?.labels),
    );
    const container = target?.template.spec?.containers?.[0];
    if (!target || !container) {
      warnings.push(`Service ${name} selects no workload the local runner knows; it is not reachable locally`);
      continue;
    }
    for (const sp of spec.ports ?? []) {
      const targetPort = resolveTargetPort(container, sp);
      const adminPort = targetPort === containerAdminPort(container) ? adminPortOf(target) : undefined;
      if (targetPort === containerMainPort(container, isScaler(target))) {
        addresses.push({ service: name, namespace, port: sp.port, localPort: portOf(target) });
      } else if (targetPort !== undefined && adminPort !== undefined) {
        addresses.push({ service: name, namespace, port: sp.port, localPort: adminPort });
      } else if (!isNatsImage(container.image)) {
        // (The queue's cluster and monitoring ports have no local counterpart and need none.)
        warnings.push(
          `Service ${name} port ${sp.port} targets container port ${sp.targetPort}, which is not ${target.name}'s main port; not mapped locally`,
        );
      }
    }
  }
  return addresses;
}

type CommandChoice = { readonly command: string[]; readonly fromAnnotation: boolean } | { readonly skip: string };

const NODE_IMAGE = /^(?:(?:docker\.io|index\.docker\.io)\/)?(?:library\/)?node(?::([^@]+))?(?:@.+)?$/;

/** Major Node version of a `node:<tag>` image, when the tag says it. */
export function nodeImageMajor(image: string): number | undefined {
  const m = NODE_IMAGE.exec(image);
  const major = m?.[1] && /^(\d+)/.exec(m[1]);
  return major ? Number(major[1]) : undefined;
}

function chooseCommand(w: Workload, c: Container): CommandChoice {
  // On the Deployment, not its pod template: pods in a cluster never carry it (older manifests did).
  const annotation =
    w.annotations?.[LOCAL_COMMAND_ANNOTATION] ?? w.template.metadata?.annotations?.[LOCAL_COMMAND_ANNOTATION];
  if (annotation !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(annotation);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((s) => typeof s === 'string')) {
      throw new LocalConfigError(
        `${w.name}: annotation ${LOCAL_COMMAND_ANNOTATION} must be a non-empty JSON array of strings, got ${annotation}`,
      );
    }
    return { command: parsed as string[], fromAnnotation: true };
  }
  const image = c.image ?? '';
  if (NODE_IMAGE.test(image)) {
    const command = [...(c.command ?? []), ...(c.args ?? [])];
    // The node image's entrypoint runs `node <args>` when given a script and no command.
    if (!c.command && c.args?.length) command.unshift('node');
    if (command[0] === 'node') return { command, fromAnnotation: false };
  }
  if (isPythonImage(image)) {
    // PythonFunction pods run `python3 <runtime>` (the python image has no entrypoint of its own).
    const command = [...(c.command ?? []), ...(c.args ?? [])];
    if (isPythonCommand(command[0])) return { command, fromAnnotation: false };
  }
  return {
    skip:
      `image ${image || '(none)'} needs a container runtime, which the local runner does not use; ` +
      `give the function a local command (ContainerFunction prop local: { command: [...] }, recorded as the ${LOCAL_COMMAND_ANNOTATION} pod annotation)`,
  };
}

/** The readiness probe, on the local admin port when the pod probes its admin port (the router). */
function readinessOf(c: Container, localAdminPort: number | undefined): Readiness {
  const probe = c.readinessProbe;
  if (probe?.httpGet) {
    const path = probe.httpGet.path ?? '/';
    const port = probe.httpGet.port;
    const onAdmin =
      localAdminPort !== undefined &&
      (port === ADMIN_PORT_NAME || (port !== undefined && Number(port) === containerAdminPort(c)));
    return onAdmin ? { kind: 'http', path, port: localAdminPort, host: LOOPBACK } : { kind: 'http', path };
  }
  if (probe?.tcpSocket) return { kind: 'tcp' };
  return { kind: 'none' };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Rewrites Service addresses in text values; leaves binary values alone. */
function rewriteBuffer(buf: Buffer, rewrite: (s: string) => string): Buffer {
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    return buf;
  }
  const rewritten = rewrite(text);
  return rewritten === text ? buf : Buffer.from(rewritten, 'utf8');
}

/** The files of a ConfigMap or Secret volume: key → bytes, honouring `items`. */
function volumeFiles(
  w: Workload,
  v: Volume,
  manifests: Manifests,
  rewriteServices: (s: string) => string,
): Map<string, Buffer> | undefined {
  const kind = v.configMap ? 'ConfigMap' : 'Secret';
  const src = v.configMap ?? v.secret!;
  const refName = v.configMap ? v.configMap.name : v.secret?.secretName;
  const obj = refName ? manifests.find(kind, w.namespace, refName) : undefined;
  if (!obj) {
    if (src.optional) return new Map();
    throw new LocalConfigError(
      `${w.name}: volume "${v.name}" mounts ${kind} "${refName}", which is not in the synthesized manifests` +
        (kind === 'Secret' ? '; the local runner can only mount Secrets the app defines' : ''),
    );
  }
  const raw = new Map<string, Buffer>();
  for (const [key, value] of Object.entries((obj.data ?? {}) as Record<string, string>)) {
    raw.set(key, Buffer.from(String(value), kind === 'Secret' ? 'base64' : 'utf8'));
  }
  const extra = kind === 'Secret' ? ((obj.stringData ?? {}) as Record<string, string>) : {};
  for (const [key, value] of Object.entries(extra)) raw.set(key, Buffer.from(String(value), 'utf8'));
  if (kind === 'ConfigMap') {
    for (const [key, value] of Object.entries((obj.binaryData ?? {}) as Record<string, string>))
      raw.set(key, Buffer.from(String(value), 'base64'));
  }
  const files = new Map<string, Buffer>();
  const items = src.items ?? [...raw.keys()].map((key) => ({ key, path: key }));
  for (const item of items) {
    const content = raw.get(item.key);
    if (content === undefined) {
      if (src.optional) continue;
      throw new LocalConfigError(
        `${w.name}: volume "${v.name}" wants key "${item.key}" of ${kind} "${refName}", which has no such key`,
      );
    }
    if (path.isAbsolute(item.path) || item.path.split('/').includes('..')) {
      throw new LocalConfigError(`${w.name}: volume "${v.name}" item path ${item.path} must be relative`);
    }
    files.set(item.path, rewriteBuffer(content, rewriteServices));
  }
  return files;
}

function findRoutes(
  manifests: Manifests,
  rewriteServices: (s: string) => string,
  warnings: string[],
): RouteTable | undefined {
  for (const cm of manifests.ofKind('ConfigMap')) {
    const text = (cm.data as Record<string, string> | undefined)?.[Paths.routesFile];
    if (text === undefined) continue;
    try {
      return JSON.parse(rewriteServices(text)) as RouteTable;
    } catch (err) {
      warnings.push(
        `ConfigMap ${cm.metadata?.name}: ${Paths.routesFile} is not valid JSON (${(err as Error).message})`,
      );
    }
  }
  return undefined;
}

/**
 * Locally, a callback receiver runs on the developer's machine, so the platform's callback prefixes
 * may point at loopback (in a cluster, loopback is always refused: it is the pod itself).
 */
function allowLoopbackCallbacks(env: Record<string, string>): void {
  const raw = env[QueueEnv.CALLBACK_POLICY];
  if (raw === undefined) return;
  try {
    env[QueueEnv.CALLBACK_POLICY] = JSON.stringify({ ...(JSON.parse(raw) as object), allowLoopback: true });
  } catch {
    // Left as it is: the runtime names the variable when it cannot parse it.
  }
}

export function baseEnv(developerEnv: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of BASE_ENV_NAMES) {
    const v = developerEnv[name];
    if (v !== undefined) env[name] = v;
  }
  return env;
}

/** Translates manifests into local processes (see the module comment). Throws LocalConfigError. */
export function planLocalRun(manifests: Manifests, opts: PlanOptions): LocalPlan {
  const warnings: string[] = [];
  const workloads = findWorkloads(manifests);
  const routers = workloads.filter(isRouter);
  if (routers.length > 1)
    warnings.push(`${routers.length} routers found; only ${routers[0].name} gets port ${opts.routerPort}`);
  const portOf = (w: Workload): number => {
    if (w === routers[0]) return opts.routerPort;
    const port = opts.ports.get(w.name);
    if (port === undefined) throw new Error(`no local port allocated for ${w.name}`);
    return port;
  };
  // The router always opens its admin listener, declared or not: locally it must never bind its
  // default port, which a second runner (or anything else) may hold. So does the scaler.
  const scalers = workloads.filter(isScaler);
  const adminPortOf = (w: Workload): number | undefined =>
    w === routers[0] ? opts.routerAdminPort : w === scalers[0] ? opts.scalerAdminPort : undefined;
  const services = mapServices(manifests, workloads, portOf, adminPortOf, warnings);
  const rewriteServices = serviceAddressRewriter(services, clusterDomainOf(manifests));
  const processes: ProcessPlan[] = [];
  const skipped: SkippedWorkload[] = [];
  const errors: string[] = [];
  const versionMismatches = new Map<string, string[]>();
  for (const w of workloads) {
    try {
      const planned = planWorkload(
        w,
        manifests,
        opts,
        { main: portOf(w), admin: adminPortOf(w) },
        rewriteServices,
        warnings,
        w === routers[0],
        versionMismatches,
      );
      if ('skip' in planned) skipped.push({ name: w.name, reason: planned.skip });
      else processes.push(planned);
    } catch (err) {
      if (!(err instanceof LocalConfigError)) throw err;
      errors.push(err.message);
    }
  }
  if (errors.length > 0) throw new LocalConfigError(errors.join('\n'));
  for (const [image, names] of versionMismatches) {
    warnings.push(
      `image ${image} runs Node ${nodeImageMajor(image)} but the local node is ${process.versions.node} (${names.join(', ')}); behaviour may differ`,
    );
  }
  const cronJobs = planCronJobs(manifests, opts, rewriteServices, warnings);
  for (const p of [...processes, ...cronJobs.map((c) => c.process)]) warnUnknownClusterAddresses(p, warnings);
  return { processes, skipped, warnings, services, routes: findRoutes(manifests, rewriteServices, warnings), cronJobs };
}

/** Every CronJob, planned like a workload whose pod runs once per tick. */
function planCronJobs(
  manifests: Manifests,
  opts: PlanOptions,
  rewriteServices: (s: string) => string,
  warnings: string[],
): CronJobPlan[] {
  const plans: CronJobPlan[] = [];
  const errors: string[] = [];
  for (const obj of manifests.ofKind('CronJob')) {
    const spec = (obj.spec ?? {}) as {
      schedule?: string;
      timeZone?: string;
      concurrencyPolicy?: string;
      suspend?: boolean;
      jobTemplate?: { spec?: { template?: PodTemplate } };
    };
    const name = obj.metadata?.name ?? 'unnamed';
    const w: Workload = {
      kind: 'CronJob',
      name,
      namespace: manifests.namespaceOf(obj),
      template: spec.jobTemplate?.spec?.template ?? {},
    };
    try {
      const planned = planWorkload(w, manifests, opts, {}, rewriteServices, warnings, false, new Map());
      if ('skip' in planned) {
        warnings.push(`CronJob ${name} is not run locally: ${planned.skip}`);
        continue;
      }
      const policy =
        spec.concurrencyPolicy === 'Forbid' || spec.concurrencyPolicy === 'Replace' ? spec.concurrencyPolicy : 'Allow';
      plans.push({
        name,
        namespace: w.namespace,
        schedule: String(spec.schedule ?? ''),
        ...(spec.timeZone ? { timeZone: spec.timeZone } : {}),
        concurrencyPolicy: policy,
        suspend: spec.suspend === true,
        ...(planned.env[CronEnv.FUNCTION] ? { function: planned.env[CronEnv.FUNCTION] } : {}),
        ...(planned.env[CronEnv.TRIGGER] ? { trigger: planned.env[CronEnv.TRIGGER] } : {}),
        process: planned,
      });
    } catch (err) {
      if (!(err instanceof LocalConfigError)) throw err;
      errors.push(err.message);
    }
  }
  if (errors.length > 0) throw new LocalConfigError(errors.join('\n'));
  return plans;
}

function planWorkload(
  w: Workload,
  manifests: Manifests,
  opts: PlanOptions,
  /** Local ports; none for a job (CronJob pod): it serves nothing, so it gets no PORT. */
  ports: { readonly main?: number; readonly admin?: number },
  rewriteServices: (s: string) => string,
  warnings: string[],
  router: boolean,
  versionMismatches: Map<string, string[]>,
): ProcessPlan | { skip: string } {
  const pod = w.template.spec ?? {};
  const containers = pod.containers ?? [];
  const container = containers[0];
  if (!container) return { skip: 'its pod template has no containers' };
  if (containers.length > 1)
    warnings.push(
      `${w.name}: runs only its first container (${container.name}) locally; ${containers.length - 1} more ignored`,
    );
  const installer = findInstallContainer(pod.initContainers);
  const otherInits = (pod.initContainers ?? []).filter((c) => c !== installer);
  if (otherInits.length > 0)
    warnings.push(
      `${w.name}: init containers are not run locally (${otherInits.map((c) => c.name ?? 'unnamed').join(', ')})`,
    );
  const port = ports.main;
  if (isNatsImage(container.image) && port !== undefined) return planQueue(w, container, manifests, opts, port);
  const choice = chooseCommand(w, container);
  if ('skip' in choice) return choice;
  const major = nodeImageMajor(container.image ?? '');
  if (!choice.fromAnnotation && major !== undefined && major !== Number(process.versions.node.split('.')[0])) {
    versionMismatches.set(container.image!, [...(versionMismatches.get(container.image!) ?? []), w.name]);
  }

  const processDir = processDirOf(w, opts);
  const volumes: PlannedVolume[] = [];
  const volumeDirs = new Map<string, string>();
  for (const v of pod.volumes ?? []) {
    const dir = path.join(processDir, 'volumes', v.name);
    volumeDirs.set(v.name, dir);
    if (v.configMap || v.secret) {
      volumes.push({ name: v.name, dir, files: volumeFiles(w, v, manifests, rewriteServices) });
    } else {
      if (!v.emptyDir)
        warnings.push(
          `${w.name}: volume "${v.name}" is not a ConfigMap, Secret or emptyDir; it is an empty directory locally`,
        );
      volumes.push({ name: v.name, dir });
    }
  }
  let install: DependencyInstall | undefined;
  if (installer) {
    const python = localPython(opts.developerEnv);
    if (python.version !== undefined) {
      install = planInstall(installer, {
        workload: w.name,
        namespace: w.namespace,
        manifests,
        volumes,
        processDir,
        developerEnv: opts.developerEnv,
        python,
        overrideEnv: (env) => applyEnvOverrides(w.name, env, opts.envOverrides),
        rewriteServices,
        baseEnv: baseEnv(opts.developerEnv),
      });
      // The deps volume is the install's cache directory, not an empty directory of this run.
      const deps = installer.volumeMounts!.find((m) => m.mountPath === PythonPaths.installDir)!.name;
      volumeDirs.set(deps, install.dir);
      const at = volumes.findIndex((v) => v.name === deps);
      if (at >= 0) volumes[at] = { name: deps, dir: install.dir };
    }
  }
  const mappings: PathMapping[] = [];
  for (const m of container.volumeMounts ?? []) {
    const dir = volumeDirs.get(m.name);
    if (!dir)
      throw new LocalConfigError(
        `${w.name}: volumeMount ${m.mountPath} refers to volume "${m.name}", which the pod does not define`,
      );
    mappings.push({ containerPath: m.mountPath, localPath: m.subPath ? path.join(dir, m.subPath) : dir });
  }
  const rewritePaths = pathRewriter(mappings);
  const rewrite = (s: string): string => rewritePaths(rewriteServices(s));

  const env = resolveEnv(withoutNatsCredentials(container), {
    manifests,
    namespace: w.namespace,
    workload: w.name,
    developerEnv: opts.developerEnv,
    rewrite,
  });
  // Loopback unless the developer shares the router: a laptop's functions are not for the LAN.
  const host = router ? (opts.routerHost ?? LOOPBACK) : LOOPBACK;
  if (port !== undefined) env[Env.BIND_HOST] = host;
  // The runner pushes the functions' ready endpoints to the router (no EndpointSlices on a laptop).
  if (router) env[ActivatorEnv.ENDPOINTS] = EndpointSources.push;
  const scaler = isScaler(w) && port !== undefined && ports.admin !== undefined;
  if (scaler) {
    env[ScalerEnv.ROUTERS] = `${LOOPBACK}:${opts.routerAdminPort}`;
    env[ScalerEnv.GRPC_PORT] = String(port);
    env[ScalerEnv.ADMIN_PORT] = String(ports.admin);
  }
  applyEnvOverrides(w.name, env, opts.envOverrides);
  allowLoopbackCallbacks(env);
  if (port !== undefined) env[Env.PORT] = String(port);
  if (router && ports.admin !== undefined) {
    env[ActivatorEnv.ADMIN_PORT] = String(ports.admin);
    // Sharing the router (--host) shares its public listener only.
    env[Env.ADMIN_BIND_HOST] = LOOPBACK;
  }
  // No endpoints or load balancers to drain locally: a reload or stop closes the listener at once.
  if (env[Env.DRAIN_DELAY_MS] !== undefined) env[Env.DRAIN_DELAY_MS] = '0';
  const tmp = mappings.find((m) => m.containerPath.replace(/\/+$/, '') === Paths.tmpDir);
  if (tmp && env.TMPDIR === undefined) env.TMPDIR = tmp.localPath;

  // A local command (the annotation) is a command for this machine, so its paths are host paths: only
  // variables and Service addresses are rewritten, not the pod's mount paths (a host path under /tmp
  // would otherwise be moved into the pod's /tmp volume).
  const rewriteArg = choice.fromAnnotation ? rewriteServices : rewrite;
  const command = choice.command.map((arg) => rewriteArg(expandVariables(arg, env)));
  if (command[0] === 'node') command[0] = process.execPath;
  if (!choice.fromAnnotation && isPythonImage(container.image ?? '') && isPythonCommand(command[0])) {
    const python = localPython(opts.developerEnv);
    if (python.version === undefined) {
      return {
        skip: `image ${container.image} runs Python, and ${python.path} cannot be run here: install the Debian package \`python3\` (or set KUBEFAAS_PYTHON)`,
      };
    }
    const imageVersion = pythonImageVersion(container.image ?? '');
    if (imageVersion !== undefined && imageVersion !== minorVersion(python.version)) {
      warnings.push(
        `${w.name}: image ${container.image} runs Python ${imageVersion} but the local ${python.path} is ${python.version}; behaviour may differ`,
      );
    }
    command[0] = python.path;
  }
  let cwd = choice.fromAnnotation ? opts.projectDir : processDir;
  if (!choice.fromAnnotation && container.workingDir) {
    const mapped = rewritePaths(container.workingDir);
    if (mapped !== container.workingDir) cwd = mapped;
  }
  const templateHash = sha256(w.template);
  const [file, ...args] = command;
  return {
    name: w.name,
    workload: `${w.kind}/${w.namespace}/${w.name}`,
    namespace: w.namespace,
    isRouter: router,
    ...(scaler ? { isScaler: true } : {}),
    command: file,
    args,
    cwd,
    env,
    processEnv: { ...baseEnv(opts.developerEnv), ...env },
    port: port ?? 0,
    ...(ports.admin !== undefined ? { adminPort: ports.admin } : {}),
    host,
    readiness: readinessOf(container, ports.admin),
    volumes,
    specHash: sha256({ file, args, cwd, env, templateHash, install: install?.key }),
    labels: { ...(w.template.metadata?.labels ?? {}) },
    ...(install ? { install } : {}),
  };
}

function processDirOf(w: Workload, opts: PlanOptions): string {
  return opts.processDirs?.get(w.name) ?? path.join(opts.runDir, w.name);
}

/** The local nats-server standing in for a `nats:*` workload (see nats.ts). */
function planQueue(
  w: Workload,
  container: Container,
  manifests: Manifests,
  opts: PlanOptions,
  port: number,
): ProcessPlan {
  const processDir = processDirOf(w, opts);
  const configMaps = (w.template.spec?.volumes ?? []).flatMap((v) => (v.configMap?.name ? [v.configMap.name] : []));
  const nats = planNatsServer({ workload: w.name, namespace: w.namespace, processDir, port, manifests, configMaps });
  return {
    name: w.name,
    workload: `${w.kind}/${w.namespace}/${w.name}`,
    namespace: w.namespace,
    isRouter: false,
    isQueue: true,
    command: nats.command,
    args: nats.args,
    cwd: processDir,
    env: {},
    processEnv: baseEnv(opts.developerEnv),
    port,
    host: LOOPBACK,
    // JetStream is up before the client port opens, so a TCP connect means ready.
    readiness: { kind: 'tcp' },
    volumes: nats.volumes,
    specHash: sha256({ nats: nats.args, port, image: container.image }),
    labels: { ...(w.template.metadata?.labels ?? {}) },
  };
}

const CLUSTER_ADDRESS =
  /\b[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\.svc(\.cluster\.local)?\b(:\d+)?/g;

/** In-cluster addresses left after rewriting name Services the manifests lack: they will not resolve on this machine. */
function warnUnknownClusterAddresses(p: ProcessPlan, warnings: string[]): void {
  for (const [name, value] of Object.entries(p.env)) {
    for (const match of value.match(CLUSTER_ADDRESS) ?? []) {
      warnings.push(
        `${p.name}: env ${name} points at ${match}, a Service that is not in the manifests; it will not resolve locally (set the value for local runs in the app)`,
      );
    }
  }
}
