import { renderAuthorization, type NatsUser } from './nats-auth';
import { serviceHost } from '../../src/contract';
import { NATS_HEADLESS_NAME, NATS_NAME, NatsPorts } from './names';

/** Where the StatefulSet mounts things (and what nats.conf refers to). */
export const NatsPaths = {
  configDir: '/etc/nats',
  configFile: 'nats.conf',
  dataDir: '/data',
  pidDir: '/var/run/nats',
  pidFile: '/var/run/nats/nats.pid',
  /** The TLS Secret (tls.crt, tls.key, ca.crt) when the queue has TLS. */
  tlsDir: '/etc/nats-tls',
} as const;

export interface NatsConfigInput {
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly replicas: number;
  readonly maxFileStoreBytes: number;
  readonly maxMemoryStoreBytes: number;
  /** Queue isolation: the users and their permissions (passwords are `$VARIABLE` references). @default - no auth */
  readonly users?: readonly NatsUser[];
  /** Client connections over TLS with the mounted Secret's certificate. @default false */
  readonly tls?: boolean;
}

/**
 * nats.conf, equivalent to what the official chart renders for JetStream: file store on the volume,
 * monitoring on 8222 (probes, KEDA's scaler and the exporter read it), lame-duck shutdown so clients
 * move to another server before this one stops, and with 3 replicas a cluster whose routes name
 * every pod through the headless Service. `$SERVER_NAME` comes from the pod name (env), which is
 * what JetStream clustering needs: stable, unique server names.
 */
export function renderNatsConfig(input: NatsConfigInput): string {
  const lines = [
    'server_name: $SERVER_NAME',
    `port: ${NatsPorts.client}`,
    `http_port: ${NatsPorts.monitor}`,
    `pid_file: "${NatsPaths.pidFile}"`,
    'lame_duck_grace_period: 10s',
    'lame_duck_duration: 30s',
    // Large async-call bodies (up to the router's limit) must fit in one message.
    'max_payload: 8MB',
    'jetstream {',
    `  store_dir: "${NatsPaths.dataDir}"`,
    `  max_file_store: ${input.maxFileStoreBytes}`,
    `  max_memory_store: ${input.maxMemoryStoreBytes}`,
    '}',
    ...(input.users ? renderAuthorization(input.users) : []),
    // Clients must use TLS; the monitoring port (probes, KEDA) and cluster routes (NetworkPolicy-protected) stay plain.
    ...(input.tls
      ? [
          'tls {',
          `  cert_file: "${NatsPaths.tlsDir}/tls.crt"`,
          `  key_file: "${NatsPaths.tlsDir}/tls.key"`,
          `  ca_file: "${NatsPaths.tlsDir}/ca.crt"`,
          '  timeout: 2',
          '}',
        ]
      : []),
  ];
  if (input.replicas > 1) {
    const routes = Array.from(
      { length: input.replicas },
      (_, i) =>
        `    nats://${NATS_NAME}-${i}.${serviceHost(NATS_HEADLESS_NAME, input.namespace, input.clusterDomain)}:${NatsPorts.cluster}`,
    );
    lines.push(
      'cluster {',
      '  name: kubefaas',
      `  port: ${NatsPorts.cluster}`,
      // Pods only reach each other through the routes above; advertising pod IPs to clients is useless.
      '  no_advertise: true',
      '  routes: [',
      ...routes,
      '  ]',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}
