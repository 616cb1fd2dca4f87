/**
 * Pod Security Standards `restricted` (which includes `baseline`) on every pod template, plus the
 * pod defaults kubefaas promises on top (pinned images, no `Always` pulls, explicit requests).
 * Rules follow kubernetes/pod-security-admission (`policy/check_*.go`): checks that `restricted`
 * enforces on pods are mirrored here so a test fails before an admission controller would.
 */
import {
  asArray,
  asRecord,
  containersOf,
  ContainerRef,
  describeContainer,
  describeObject,
  K8sObject,
  podTemplateOf,
  PodTemplate,
} from './manifest';

export interface PodSecurityProblem {
  readonly object: string;
  readonly message: string;
}

/** Volume sources `restricted` allows (every other source, hostPath first, is refused). */
const ALLOWED_VOLUME_SOURCES = new Set([
  'configMap',
  'downwardAPI',
  'emptyDir',
  'projected',
  'secret',
  'csi',
  'persistentVolumeClaim',
  'ephemeral',
  'image',
]);

/** The only capability `restricted` lets a container add. */
const ALLOWED_ADDED_CAPABILITIES = new Set(['NET_BIND_SERVICE']);

/** Sysctls `baseline` considers safe. */
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);

/** SELinux types `baseline` allows. */
const ALLOWED_SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

/** Namespaces we create enforce `restricted`, so the cluster refuses what these checks refuse. */
const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

const SECCOMP_OK = new Set(['RuntimeDefault', 'Localhost']);

export function checkPodSecurity(objects: readonly K8sObject[]): PodSecurityProblem[] {
  const problems: PodSecurityProblem[] = [];
  for (const obj of objects) {
    if (obj.kind === 'Namespace' && obj.metadata?.labels?.[ENFORCE_LABEL] !== 'restricted') {
      problems.push({ object: describeObject(obj), message: `metadata.labels must set ${ENFORCE_LABEL}: restricted` });
    }
    const template = podTemplateOf(obj);
    if (!template) continue;
    const object = describeObject(obj);
    for (const message of checkTemplate(template)) problems.push({ object, message });
  }
  return problems;
}

function checkTemplate(template: PodTemplate): string[] {
  const out: string[] = [];
  const spec = template.spec;
  const podPath = template.path ? `${template.path}.spec` : 'spec';
  const podSc = asRecord(spec.securityContext);
  const containers = containersOf(spec);

  // Baseline: host namespaces and host paths.
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (spec[field] === true) out.push(`${podPath}.${field} must not be true`);
  }

  // Volumes: only the allowed sources.
  for (const volume of asArray(spec.volumes)) {
    const sources = Object.keys(asRecord(volume)).filter((k) => k !== 'name');
    for (const source of sources) {
      if (!ALLOWED_VOLUME_SOURCES.has(source)) {
        out.push(
          `${podPath}.volumes "${volume.name}" uses ${source}, which restricted pods may not use (allowed: ${[...ALLOWED_VOLUME_SOURCES].join(', ')})`,
        );
      }
    }
  }

  // Pod-level user and seccomp.
  if (podSc.runAsUser === 0) out.push(`${podPath}.securityContext.runAsUser must not be 0 (root)`);
  if (podSc.runAsNonRoot === false) out.push(`${podPath}.securityContext.runAsNonRoot must not be false`);
  const podSeccomp = asRecord(podSc.seccompProfile).type;
  if (podSeccomp !== undefined && !SECCOMP_OK.has(String(podSeccomp))) {
    out.push(`${podPath}.securityContext.seccompProfile.type must be RuntimeDefault or Localhost, not ${podSeccomp}`);
  }
  out.push(...checkSeLinuxAndAppArmor(podSc, `${podPath}.securityContext`));
  if (asRecord(podSc.windowsOptions).hostProcess === true)
    out.push(`${podPath}.securityContext.windowsOptions.hostProcess must not be true`);
  for (const sysctl of asArray(podSc.sysctls)) {
    if (!SAFE_SYSCTLS.has(String(sysctl.name)))
      out.push(`${podPath}.securityContext.sysctls: "${sysctl.name}" is not a safe sysctl`);
  }
  const hostUsersOff = spec.hostUsers === false;

  if (containers.length === 0) out.push(`${podPath} has no containers`);
  for (const ref of containers) out.push(...checkContainer(ref, template, podSc, hostUsersOff));
  return out;
}

function checkContainer(
  ref: ContainerRef,
  template: PodTemplate,
  podSc: Record<string, unknown>,
  hostUsersOff: boolean,
): string[] {
  const out: string[] = [];
  const where = describeContainer(ref, template);
  const c = ref.container;
  const sc = asRecord(c.securityContext);
  const caps = asRecord(sc.capabilities);

  if (sc.privileged === true) out.push(`${where}: securityContext.privileged must not be true`);
  if (sc.allowPrivilegeEscalation !== false)
    out.push(`${where}: securityContext.allowPrivilegeEscalation must be set to false`);
  const drop = asArray<string>(caps.drop);
  if (!drop.includes('ALL')) out.push(`${where}: securityContext.capabilities.drop must include "ALL"`);
  for (const cap of asArray<string>(caps.add)) {
    if (!ALLOWED_ADDED_CAPABILITIES.has(cap))
      out.push(`${where}: securityContext.capabilities.add may only contain NET_BIND_SERVICE, not ${cap}`);
  }
  if (sc.procMount !== undefined && sc.procMount !== 'Default')
    out.push(`${where}: securityContext.procMount must be unset or Default`);
  if (asRecord(sc.windowsOptions).hostProcess === true)
    out.push(`${where}: securityContext.windowsOptions.hostProcess must not be true`);
  out.push(...checkSeLinuxAndAppArmor(sc, `${where}: securityContext`));

  // Non-root: the pod or every container says so, and no level says otherwise.
  if (!hostUsersOff) {
    if (sc.runAsNonRoot === false) out.push(`${where}: securityContext.runAsNonRoot must not be false`);
    else if (sc.runAsNonRoot !== true && podSc.runAsNonRoot !== true) {
      out.push(`${where}: runAsNonRoot must be true (in the pod securityContext or the container's)`);
    }
    if (sc.runAsUser === 0) out.push(`${where}: securityContext.runAsUser must not be 0 (root)`);
  }

  // Seccomp: RuntimeDefault/Localhost at pod level or on the container; never Unconfined anywhere.
  const seccomp = asRecord(sc.seccompProfile).type;
  if (seccomp !== undefined && !SECCOMP_OK.has(String(seccomp))) {
    out.push(`${where}: securityContext.seccompProfile.type must be RuntimeDefault or Localhost, not ${seccomp}`);
  } else if (seccomp === undefined && !SECCOMP_OK.has(String(asRecord(podSc.seccompProfile).type))) {
    out.push(
      `${where}: seccompProfile.type must be RuntimeDefault or Localhost (in the pod securityContext or the container's)`,
    );
  }

  for (const port of asArray(c.ports)) {
    if (port.hostPort !== undefined && port.hostPort !== 0)
      out.push(`${where}: ports must not use hostPort (${port.hostPort})`);
  }

  // kubefaas' own defaults (ephemeral containers are debugging tools, not ours).
  if (ref.list !== 'ephemeralContainers') out.push(...checkOwnDefaults(c, where));
  return out;
}

function checkSeLinuxAndAppArmor(sc: Record<string, unknown>, where: string): string[] {
  const out: string[] = [];
  const se = asRecord(sc.seLinuxOptions);
  if (se.type !== undefined && !ALLOWED_SELINUX_TYPES.has(String(se.type)))
    out.push(`${where}.seLinuxOptions.type "${se.type}" is not allowed`);
  if (se.user !== undefined || se.role !== undefined) out.push(`${where}.seLinuxOptions must not set user or role`);
  const appArmor = asRecord(sc.appArmorProfile).type;
  if (appArmor === 'Unconfined') out.push(`${where}.appArmorProfile.type must not be Unconfined`);
  return out;
}

/**
 * Pinned image: a digest, or a tag other than `latest`. The tag is what follows the last `:` after
 * the last `/` (a registry host may carry a port: `registry:5000/app`).
 */
export function imageIsPinned(image: string): boolean {
  if (image.includes('@sha256:') || /@[a-z0-9]+:[a-f0-9]{32,}$/.test(image)) return true;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon < 0) return false;
  const tag = lastSegment.slice(colon + 1);
  return tag.length > 0 && tag !== 'latest';
}

function checkOwnDefaults(c: K8sObject, where: string): string[] {
  const out: string[] = [];
  if (c.imagePullPolicy === 'Always')
    out.push(`${where}: imagePullPolicy must not be Always (use IfNotPresent with a pinned image)`);
  if (typeof c.image !== 'string' || c.image === '') out.push(`${where}: has no image (a non-empty string)`);
  else if (!imageIsPinned(c.image))
    out.push(`${where}: image "${c.image}" is not pinned (give a version tag other than latest, or a digest)`);
  const requests = asRecord(asRecord(c.resources).requests);
  for (const resource of ['cpu', 'memory']) {
    if (requests[resource] === undefined) out.push(`${where}: resources.requests.${resource} must be set`);
  }
  return out;
}
