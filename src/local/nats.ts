/**
 * The queue, locally: a StatefulSet/Deployment running the official `nats` image becomes one local
 * `nats-server` with JetStream, listening on 127.0.0.1 on the workload's local port, its store in
 * the run directory. Its Services map to that port like any other workload's, so every
 * `nats://kubefaas-nats.<ns>.svc.cluster.local:4222` in env and ConfigMaps points at it.
 *
 * The cluster's nats.conf is not used as is: it names pod DNS routes, a PVC path and a pid file
 * that do not exist on a laptop. The local config keeps what changes behaviour (max_payload).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { QueueEnv } from '../contract';
import type { Container, Manifests } from './manifests';
import { LocalConfigError } from './env';
import type { PlannedVolume } from './volume';

const NATS_IMAGE = /^(?:(?:docker\.io|index\.docker\.io)\/)?(?:library\/)?nats(?::[^@]+)?(?:@.+)?$/;

export const NATS_SERVER_COMMAND = 'nats-server';

export const NATS_INSTALL_HINT =
  'the app has a NATS queue, so the local runner needs nats-server on PATH: install it with `apt-get install nats-server` ' +
  '(Debian/Ubuntu), `brew install nats-server` (macOS), or a release binary from https://github.com/nats-io/nats-server/releases';

export function isNatsImage(image: string | undefined): boolean {
  return image !== undefined && NATS_IMAGE.test(image);
}

/** `max_payload` of the app's nats.conf, if a ConfigMap the workload mounts sets one. */
function maxPayloadOf(manifests: Manifests, namespace: string, configMaps: readonly string[]): string | undefined {
  for (const name of configMaps) {
    const data = (manifests.find('ConfigMap', namespace, name)?.data ?? {}) as Record<string, string>;
    for (const text of Object.values(data)) {
      const m = /^\s*max_payload\s*[:=]\s*([^\s#]+)/m.exec(String(text));
      if (m) return m[1];
    }
  }
  return undefined;
}

export interface NatsProcessParts {
  readonly command: string;
  readonly args: readonly string[];
  readonly volumes: readonly PlannedVolume[];
}

/** Command, config file and store directory of the local nats-server standing in for `workload`. */
export function planNatsServer(p: {
  readonly workload: string;
  readonly namespace: string;
  readonly processDir: string;
  readonly port: number;
  readonly manifests: Manifests;
  readonly configMaps: readonly string[];
}): NatsProcessParts {
  const configDir = path.join(p.processDir, 'volumes', 'local-config');
  const storeDir = path.join(p.processDir, 'volumes', 'jetstream');
  const maxPayload = maxPayloadOf(p.manifests, p.namespace, p.configMaps);
  const config = [
    `server_name: ${p.workload}-local`,
    // Loopback only: the queue is for the local processes, never for the LAN.
    `listen: 127.0.0.1:${p.port}`,
    ...(maxPayload ? [`max_payload: ${maxPayload}`] : []),
    'jetstream {',
    `  store_dir: ${JSON.stringify(storeDir)}`,
    '}',
    '',
  ].join('\n');
  return {
    command: NATS_SERVER_COMMAND,
    args: ['-c', path.join(configDir, 'nats.conf')],
    volumes: [
      { name: 'local-config', dir: configDir, files: new Map([['nats.conf', Buffer.from(config, 'utf8')]]) },
      { name: 'jetstream', dir: storeDir },
    ],
  };
}

/** Absolute path of `command` on PATH, if any. */
export function findOnPath(command: string, pathVar: string | undefined): string | undefined {
  if (command.includes('/')) return fs.existsSync(command) ? command : undefined;
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Throws a LocalConfigError with the install hint when nats-server is not on PATH. */
export function requireNatsServer(pathVar: string | undefined): void {
  if (!findOnPath(NATS_SERVER_COMMAND, pathVar)) throw new LocalConfigError(NATS_INSTALL_HINT);
}

/**
 * The local nats-server runs without auth and TLS (loopback only, one developer): clients drop the
 * NATS user, the password the cluster reads from the auth Secret and the TLS directory, so
 * `kubefaas dev` needs neither those Secrets nor per-user passwords in the developer's environment.
 */
export function withoutNatsCredentials(container: Container): Container {
  const local = new Set<string>([QueueEnv.NATS_USER, QueueEnv.NATS_PASSWORD, QueueEnv.NATS_TLS_DIR]);
  const env = container.env?.filter((e) => !local.has(e.name));
  return env === container.env ? container : { ...container, env };
}
