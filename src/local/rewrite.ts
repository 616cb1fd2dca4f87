/**
 * The three string rewrites that turn in-cluster values into local ones:
 * - Service addresses (`hello.faas.svc.cluster.local:80`) → `127.0.0.1:<local port>`;
 * - container paths under a volume mount (`/var/kubefaas/function/index.js`) → the materialized local dir;
 * - Kubernetes' `$(VAR)` references in env values, command and args → the variable's value.
 */

import { DEFAULT_CLUSTER_DOMAIN, serviceHost } from '../contract';

/** One Service port as seen from inside the cluster, and where it lives locally. */
export interface ServiceAddress {
  readonly service: string;
  readonly namespace: string;
  readonly port: number;
  readonly localPort: number;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Builds a function that rewrites every occurrence of `<svc>.<ns>.svc.<clusterDomain>:<port>`,
 * `<svc>.<ns>.svc:<port>`, `<svc>.<ns>:<port>` and `<svc>:<port>` (and `http://<svc>.<ns>.svc.cluster.local`
 * without a port, for Services on port 80) to `127.0.0.1:<local port>`. Host names only match as whole
 * names: `myhello:80` is not `hello:80`.
 */
export function serviceAddressRewriter(
  addresses: readonly ServiceAddress[],
  clusterDomain: string = DEFAULT_CLUSTER_DOMAIN,
): (text: string) => string {
  const replacements = new Map<string, string>();
  for (const a of addresses) {
    const local = `127.0.0.1:${a.localPort}`;
    const hosts = [
      serviceHost(a.service, a.namespace, clusterDomain),
      `${a.service}.${a.namespace}.svc`,
      `${a.service}.${a.namespace}`,
      a.service,
    ];
    for (const host of hosts) {
      replacements.set(`${host}:${a.port}`, local);
      if (a.port === 80) replacements.set(`http://${host}`, `http://${local}`);
    }
  }
  if (replacements.size === 0) return (text) => text;
  // Longest first so `hello.ns.svc.cluster.local:80` wins over `hello.ns:80`-style prefixes of it.
  const keys = [...replacements.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(`(?<![A-Za-z0-9.-])(?:${keys.join('|')})(?![A-Za-z0-9.:-])`, 'g');
  return (text) => text.replace(pattern, (match) => replacements.get(match) ?? match);
}

/** A container path prefix and the local directory (or file) it stands for. */
export interface PathMapping {
  readonly containerPath: string;
  readonly localPath: string;
}

/** Rewrites a value that starts with a mounted container path to the local path; other values pass. */
export function pathRewriter(mappings: readonly PathMapping[]): (value: string) => string {
  const sorted = [...mappings].sort((a, b) => b.containerPath.length - a.containerPath.length);
  return (value) => {
    for (const m of sorted) {
      const prefix = m.containerPath.replace(/\/+$/, '');
      if (value === prefix || value === `${prefix}/`) return m.localPath;
      if (value.startsWith(`${prefix}/`)) return m.localPath + value.slice(prefix.length);
    }
    return value;
  };
}

/**
 * Kubernetes' dependent variable expansion: `$(NAME)` becomes the value of NAME when defined (else stays
 * as written) and `$$(NAME)` is an escape for a literal `$(NAME)`.
 */
export function expandVariables(value: string, vars: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$\(|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$(';
    return Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : match;
  });
}
