import { createHash } from 'node:crypto';
import { ApiObject, Duration, Lazy, Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import { Annotations, DEFAULT_QUEUE_CONFIG, Labels, serviceHost, type QueueConfig } from '../../src/contract';
import { ValidationError } from '../errors';
import { validateImage } from '../image';
import { objectMeta, volumeClaimLabels } from '../metadata';
import { bytesQuantity, cpuMillis, durationMillis, isDns1123Subdomain, sizeBytes } from '../validation';
import { NatsPaths, renderNatsConfig } from './nats-config';
import { NATS_CONFIG_NAME, NATS_HEADLESS_NAME, NATS_NAME, NatsPorts } from './names';
import { queueOf, queueSubscriptions, registerQueue, type QueueBinding, type QueueConsumer } from './registry';
import { natsUsers, serverPasswordEnv } from './nats-auth';
import { restrictedContainerSecurity, restrictedPodSecurity } from '../pod-security';
import { spreadOverNodesAndZones } from '../placement/topology-spread';
import type { ResolvedNetwork } from '../network/network-policies';
import { networkPolicyObject } from '../network/policy-object';
import type { PeerSpec } from '../network/spec';

/** The platform a queue binds to: its namespace and construct tree. */
export interface QueueHost extends IConstruct {
  readonly namespace: string;
  /** DNS domain of the cluster, for the NATS URLs and cluster routes. */
  readonly clusterDomain: string;
  /** Read at synth: every function becomes a NATS user with its own permissions. */
  readonly functions: readonly QueueConsumer[];
  /** Where DNS is (the servers' egress). */
  readonly network: Pick<ResolvedNetwork, 'dns'>;
  /** Read at synth: the pods that connect to the queue (its NetworkPolicy admits them and no one else). */
  queueClients(): readonly PeerSpec[];
  /** Read at synth: the pods that read the monitoring port (KEDA's `nats-jetstream` triggers); empty = none. */
  queueMonitorClients(): readonly PeerSpec[];
}

/** Queue isolation: per-component NATS users whose passwords come from one Secret (constructs/queue/nats-auth.ts). */
export interface NatsQueueAuth {
  /**
   * Secret (in the platform namespace, created by you, never synthesized) with one key per NATS
   * user, whose value is that user's password: `router`, `cron` (when a CronTrigger delivers
   * through the queue) and `fn-<function>` for every function with queue subscriptions (every
   * NodeFunction and PythonFunction on a platform with a queue). Use long random alphanumeric values.
   * @default 'kubefaas-nats-auth'
   */
  readonly secretName?: string;
}

/** TLS between the clients and the NATS servers. */
export interface NatsQueueTls {
  /**
   * Secret (created by you or cert-manager) with `tls.crt` and `tls.key` for the servers, valid for
   * `kubefaas-nats.<namespace>.svc.cluster.local`, and `ca.crt`, the CA that signed it. Servers mount
   * all three; clients mount only `ca.crt`.
   */
  readonly secretName: string;
}

/** CPU request and memory request/limit of each NATS server. */
export interface QueueResources {
  /**
   * CPU request (no CPU limit, so bursts are not throttled).
   * @default Cpu.millis(100)
   */
  readonly cpu?: Cpu;
  /**
   * Memory request and limit; the server's Go memory limit (GOMEMLIMIT) is set to 90% of it.
   * @default Size.mebibytes(256)
   */
  readonly memory?: Size;
}

export interface NatsQueueOptions {
  /**
   * NATS servers: 1, or 3 for a JetStream cluster (streams are then replicated 3 times and the
   * queue survives the loss of one server).
   * @default 1
   */
  readonly replicas?: 1 | 3;
  /**
   * Persistent volume of each server (JetStream file store).
   * @default Size.gibibytes(10)
   */
  readonly storage?: Size;
  /**
   * StorageClass of the volumes.
   * @default - the cluster's default StorageClass
   */
  readonly storageClass?: string;
  /**
   * JetStream file store limit of each server (at most `storage`).
   * @default - 90% of `storage`, leaving room for the filesystem's own overhead
   */
  readonly maxFileStore?: Size;
  /**
   * JetStream memory store limit; kubefaas streams are file-backed, so none is needed.
   * @default Size.bytes(0) (memory store disabled)
   */
  readonly maxMemoryStore?: Size;
  /**
   * How long messages (topic messages, async calls, cron ticks) stay in the streams, consumed or
   * not (1 minute .. 365 days).
   * @default Duration.days(7)
   */
  readonly retention?: Duration;
  /**
   * How long the state of an async call (queued, running, succeeded with its result, failed with
   * its error) stays readable at `GET /async-function/<name>/<call-id>` (1 minute .. 30 days).
   * @default Duration.days(1)
   */
  readonly callStateRetention?: Duration;
  /**
   * Size limit of each stream; when reached, new messages are refused (never silently dropped).
   * @default - no limit other than maxFileStore
   */
  readonly maxStreamSize?: Size;
  /**
   * @default - see QueueResources
   */
  readonly resources?: QueueResources;
  /**
   * Who may use the queue. By default each component (router, cron sender, each function) is its
   * own NATS user allowed only its own subjects, with passwords from a Secret you create; `false`
   * leaves the queue open to any pod that can reach it (not recommended outside tests).
   * @default { secretName: 'kubefaas-nats-auth' }
   */
  readonly auth?: NatsQueueAuth | false;
  /**
   * TLS for client connections.
   * @default - plain TCP inside the cluster (NetworkPolicy-restricted)
   */
  readonly tls?: NatsQueueTls;
  /**
   * Official NATS image, pinned.
   * @default 'nats:2.14.2-alpine'
   */
  readonly image?: string;
}

/** Defaults of the NATS queue, in one place (documented in docs/events.md). */
export const NatsQueueDefaults = {
  image: 'nats:2.14.2-alpine',
  replicas: 1,
  storage: Size.gibibytes(10),
  fileStoreShare: 0.9,
  retention: Duration.days(7),
  callStateRetention: Duration.days(1),
  cpu: Cpu.millis(100),
  memory: Size.mebibytes(256),
  authSecretName: 'kubefaas-nats-auth',
  /** The NATS image runs as root by default; any non-root uid works for it. */
  uid: 1000,
} as const;

/**
 * The platform's durable queue. `Queue.nats()` is the one kind today; the Platform binds it
 * (`new Platform(app, 'faas', { queue: Queue.nats({ replicas: 3 }) })`).
 */
export abstract class Queue {
  /** A NATS JetStream queue run by the platform itself (StatefulSet with persistent volumes). */
  public static nats(options: NatsQueueOptions = {}): Queue {
    return new NatsQueue(options);
  }

  /** Creates the queue's objects under `platform` and registers it; called once by the Platform. */
  public abstract bind(platform: QueueHost): QueueBinding;
}

const MIN_MEMORY = 64 * 1024 * 1024;
const MAX_STORAGE = 64 * 1024 ** 4;

class NatsQueue extends Queue {
  constructor(private readonly options: NatsQueueOptions) {
    super();
  }

  public bind(platform: QueueHost): QueueBinding {
    const existing = queueOf(platform);
    if (existing) {
      throw new ValidationError(
        platform,
        `the platform already has a queue (${existing.construct.node.path})`,
        'Give the platform one queue',
      );
    }
    const scope = new Construct(platform, 'Queue');
    const o = this.options ?? {};
    const namespace = platform.namespace;

    const replicas = o.replicas ?? NatsQueueDefaults.replicas;
    if (replicas !== 1 && replicas !== 3) {
      throw new ValidationError(
        scope,
        `queue replicas must be 1 or 3, got ${String(replicas)}`,
        'Use 1 (single server) or 3 (JetStream cluster that tolerates the loss of one server)',
      );
    }
    const image = validateImage(scope, 'queue image', o.image ?? NatsQueueDefaults.image);
    const storageBytes = sizeBytes(
      scope,
      'queue storage',
      o.storage ?? NatsQueueDefaults.storage,
      64 * 1024 * 1024,
      MAX_STORAGE,
    );
    if (o.storageClass !== undefined && (typeof o.storageClass !== 'string' || !isDns1123Subdomain(o.storageClass))) {
      throw new ValidationError(
        scope,
        `queue storageClass '${String(o.storageClass)}' is not a valid StorageClass name`,
        'Use the name of a StorageClass of your cluster',
      );
    }
    const maxFileStoreBytes =
      o.maxFileStore === undefined
        ? Math.floor((storageBytes * NatsQueueDefaults.fileStoreShare) / (1024 * 1024)) * 1024 * 1024
        : sizeBytes(scope, 'queue maxFileStore', o.maxFileStore, 1024 * 1024, storageBytes);
    const maxMemoryStoreBytes =
      o.maxMemoryStore === undefined
        ? 0
        : sizeBytes(scope, 'queue maxMemoryStore', o.maxMemoryStore, 0, 64 * 1024 ** 3);
    const maxAgeMs = durationMillis(
      scope,
      'queue retention',
      o.retention ?? NatsQueueDefaults.retention,
      Duration.minutes(1),
      Duration.days(365),
    );
    const callStateTtlMs = durationMillis(
      scope,
      'queue callStateRetention',
      o.callStateRetention ?? NatsQueueDefaults.callStateRetention,
      Duration.minutes(1),
      Duration.days(30),
    );
    const maxBytes =
      o.maxStreamSize === undefined
        ? -1
        : sizeBytes(scope, 'queue maxStreamSize', o.maxStreamSize, 1024 * 1024, maxFileStoreBytes);
    const cpu = cpuMillis(scope, 'queue resources.cpu', o.resources?.cpu ?? NatsQueueDefaults.cpu, 10, 64_000);
    const memoryBytes = sizeBytes(
      scope,
      'queue resources.memory',
      o.resources?.memory ?? NatsQueueDefaults.memory,
      MIN_MEMORY,
      64 * 1024 ** 3,
    );

    const config: QueueConfig = { ...DEFAULT_QUEUE_CONFIG, maxAgeMs, callStateTtlMs, maxBytes, replicas };
    const authSecret = o.auth === false ? undefined : (o.auth?.secretName ?? NatsQueueDefaults.authSecretName);
    if (authSecret !== undefined && (typeof authSecret !== 'string' || !isDns1123Subdomain(authSecret))) {
      throw new ValidationError(
        scope,
        `queue auth.secretName '${String(authSecret)}' is not a valid Secret name`,
        'Use the name of a Secret in the platform namespace (DNS-1123 subdomain)',
      );
    }
    const tlsSecret = o.tls?.secretName;
    if (o.tls !== undefined && (typeof tlsSecret !== 'string' || !isDns1123Subdomain(tlsSecret))) {
      throw new ValidationError(
        scope,
        `queue tls.secretName '${String(tlsSecret)}' is not a valid Secret name`,
        'Name a Secret with tls.crt, tls.key and ca.crt in the platform namespace',
      );
    }
    // Users are known only once every function is bound: nats.conf and the server env render at synth.
    const users = () =>
      authSecret === undefined
        ? undefined
        : natsUsers(
            config,
            platform.functions.map((fn) => ({
              functionName: fn.functionName,
              subscriptions: queueSubscriptions(fn),
              publishes: fn.publishes,
              invokes: fn.invokes ?? [],
            })),
          );
    let rendered: string | undefined;
    const natsConf = () =>
      (rendered ??= renderNatsConfig({
        namespace,
        clusterDomain: platform.clusterDomain,
        replicas,
        maxFileStoreBytes,
        maxMemoryStoreBytes,
        users: users(),
        tls: tlsSecret !== undefined,
      }));
    const labels = { [Labels.name]: NATS_NAME, [Labels.component]: 'queue' };
    const selector = { [Labels.platformComponent]: 'nats' };

    new ApiObject(scope, 'Config', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: objectMeta(NATS_CONFIG_NAME, namespace, labels),
      data: { [NatsPaths.configFile]: Lazy.any({ produce: natsConf }) },
    });

    new ApiObject(scope, 'Service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: objectMeta(NATS_NAME, namespace, labels),
      spec: {
        selector,
        ports: [{ name: 'client', port: NatsPorts.client, targetPort: NatsPorts.client, protocol: 'TCP' }],
      },
    });

    new ApiObject(scope, 'HeadlessService', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: objectMeta(NATS_HEADLESS_NAME, namespace, labels),
      spec: {
        clusterIP: 'None',
        // Cluster routes must resolve before the servers are ready: they become ready by meeting.
        publishNotReadyAddresses: true,
        selector,
        ports: [
          { name: 'client', port: NatsPorts.client, targetPort: NatsPorts.client, protocol: 'TCP' },
          { name: 'cluster', port: NatsPorts.cluster, targetPort: NatsPorts.cluster, protocol: 'TCP' },
          { name: 'monitor', port: NatsPorts.monitor, targetPort: NatsPorts.monitor, protocol: 'TCP' },
        ],
      },
    });

    new ApiObject(scope, 'StatefulSet', {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: objectMeta(NATS_NAME, namespace, labels),
      spec: {
        serviceName: NATS_HEADLESS_NAME,
        replicas,
        // All servers start together so a 3-node cluster can form (OrderedReady would wait forever for pod 0).
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { ...selector } },
        template: {
          metadata: {
            labels: { ...objectMeta(NATS_NAME, namespace, labels).labels, ...selector },
            // A config change rolls the servers (nats.conf is read at start).
            annotations: {
              [Annotations.configHash]: Lazy.any({
                produce: () => createHash('sha256').update(natsConf()).digest('hex').slice(0, 16),
              }),
            },
          },
          spec: {
            ...natsPodSpec({
              image,
              cpu,
              memoryBytes,
              passwordEnv: () => (authSecret === undefined ? [] : serverPasswordEnv(users() ?? [], authSecret)),
              tlsSecret,
            }),
            // Two servers of a 3-server JetStream cluster on one node lose quorum with that node. The
            // queue never runs on Fargate (persistent storage), where the field would be refused.
            ...(replicas > 1 ? { topologySpreadConstraints: spreadOverNodesAndZones(selector) } : {}),
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data', labels: volumeClaimLabels(objectMeta(NATS_NAME, namespace, labels).labels) },
            spec: {
              accessModes: ['ReadWriteOnce'],
              resources: { requests: { storage: bytesQuantity(storageBytes) } },
              ...(o.storageClass ? { storageClassName: o.storageClass } : {}),
            },
          },
        ],
      },
    });

    if (replicas > 1) {
      new ApiObject(scope, 'PodDisruptionBudget', {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: objectMeta(NATS_NAME, namespace, labels),
        // One server at a time keeps the JetStream quorum (2 of 3).
        spec: { maxUnavailable: 1, selector: { matchLabels: { ...selector } } },
      });
    }

    const tcp = (port: number) => [{ protocol: 'TCP' as const, port }];
    const servers = { podSelector: { matchLabels: { ...selector } } };
    networkPolicyObject(scope, 'NetworkPolicy', {
      name: NATS_NAME,
      namespace,
      labels,
      podSelector: { matchLabels: { ...selector } },
      // Clients: the pods that use the queue (router, cron senders, functions), no one else. The
      // monitoring port is read by the kubelet's probes and, with KEDA, by KEDA's operator (the
      // functions' nats-jetstream triggers read consumer lag there).
      ingress: () => {
        const monitors = platform.queueMonitorClients();
        return [
          { from: platform.queueClients(), ports: tcp(NatsPorts.client) },
          ...(replicas > 1 ? [{ from: [servers], ports: tcp(NatsPorts.cluster) }] : []),
          ...(monitors.length > 0 ? [{ from: [...monitors], ports: tcp(NatsPorts.monitor) }] : []),
        ];
      },
      // Cluster routes are dialled by name (DNS) to the other servers.
      egress: () => [
        ...platform.network.dns,
        ...(replicas > 1 ? [{ to: [servers], ports: tcp(NatsPorts.cluster) }] : []),
      ],
    });

    const binding: QueueBinding = {
      url: `nats://${serviceHost(NATS_NAME, namespace, platform.clusterDomain)}:${NatsPorts.client}`,
      config,
      podSelector: selector,
      construct: scope,
      ...(authSecret !== undefined ? { auth: { secretName: authSecret } } : {}),
      ...(tlsSecret !== undefined ? { tls: { secretName: tlsSecret } } : {}),
    };
    registerQueue(platform, binding);
    return binding;
  }
}

function natsPodSpec(p: {
  image: string;
  cpu: number;
  memoryBytes: number;
  passwordEnv: () => Array<Record<string, unknown>>;
  tlsSecret?: string;
}): Record<string, unknown> {
  const uid = NatsQueueDefaults.uid;
  const monitorProbe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: NatsPorts.monitor },
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold,
  });
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // Lame-duck mode (30 s) plus its grace period must finish before the kubelet kills the server.
    terminationGracePeriodSeconds: 60,
    securityContext: restrictedPodSecurity(uid),
    containers: [
      {
        name: 'nats',
        image: p.image,
        imagePullPolicy: 'IfNotPresent',
        args: ['--config', `${NatsPaths.configDir}/${NatsPaths.configFile}`],
        ports: [
          { name: 'client', containerPort: NatsPorts.client, protocol: 'TCP' },
          { name: 'cluster', containerPort: NatsPorts.cluster, protocol: 'TCP' },
          { name: 'monitor', containerPort: NatsPorts.monitor, protocol: 'TCP' },
        ],
        env: Lazy.any({
          produce: () => [
            { name: 'SERVER_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            // Go's soft memory limit below the container limit: the server collects garbage before the OOM killer acts.
            { name: 'GOMEMLIMIT', value: `${Math.floor((p.memoryBytes * 0.9) / (1024 * 1024))}MiB` },
            // Queue isolation: the passwords nats.conf refers to ($KUBEFAAS_NATS_PASSWORD_*), from the auth Secret.
            ...p.passwordEnv(),
          ],
        }),
        resources: {
          requests: { cpu: `${p.cpu}m`, memory: bytesQuantity(p.memoryBytes) },
          limits: { memory: bytesQuantity(p.memoryBytes) },
        },
        startupProbe: monitorProbe('/healthz', 5, 60),
        readinessProbe: monitorProbe('/healthz?js-server-only=true', 10, 3),
        livenessProbe: monitorProbe('/healthz?js-enabled-only=true', 30, 3),
        lifecycle: {
          // Lame-duck mode: clients are told to reconnect elsewhere before the server goes away.
          preStop: { exec: { command: ['nats-server', `-sl=ldm=${NatsPaths.pidFile}`] } },
        },
        securityContext: restrictedContainerSecurity(),
        volumeMounts: [
          { name: 'config', mountPath: NatsPaths.configDir, readOnly: true },
          { name: 'data', mountPath: NatsPaths.dataDir },
          { name: 'pid', mountPath: NatsPaths.pidDir },
          ...(p.tlsSecret ? [{ name: 'tls', mountPath: NatsPaths.tlsDir, readOnly: true }] : []),
        ],
      },
    ],
    volumes: [
      { name: 'config', configMap: { name: NATS_CONFIG_NAME } },
      { name: 'pid', emptyDir: { sizeLimit: '1Mi' } },
      ...(p.tlsSecret ? [{ name: 'tls', secret: { secretName: p.tlsSecret } }] : []),
    ],
  };
}
