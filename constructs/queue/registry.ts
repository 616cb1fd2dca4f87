import type { IConstruct } from 'constructs';
import { QueueEnv, asyncSubject, type QueueConfig, type QueueSubscription } from '../../src/contract';
import { ValidationError } from '../errors';
import { durableNames } from './names';
import { NatsUserNames, clientAuthEnv } from './nats-auth';

/**
 * What the rest of the platform knows about its queue once it is bound: where clients connect, the
 * stream configuration every component shares, and which pods are the NATS servers.
 *
 * Kept in WeakMaps keyed by the platform and the function rather than as fields on them, so the
 * queue stays an optional module: the Platform and FunctionBase only ask `queueOf` / `queueEnv`.
 */
export interface QueueBinding {
  /** NATS client URL of the queue, e.g. `nats://kubefaas-nats.faas.svc.cluster.local:4222`. */
  readonly url: string;
  /** Streams, limits and retention (QueueEnv.QUEUE_CONFIG). */
  readonly config: QueueConfig;
  /** Pod labels of the NATS servers (what NetworkPolicies select). */
  readonly podSelector: Readonly<Record<string, string>>;
  /** The construct holding the queue's objects. */
  readonly construct: IConstruct;
  /** Queue isolation: the Secret with one password per NATS user. @default - open queue */
  readonly auth?: { readonly secretName: string };
  /** TLS to the servers: the Secret whose `ca.crt` clients mount. @default - plain TCP */
  readonly tls?: { readonly secretName: string };
}

/** Where clients mount the queue's CA certificate. */
export const NATS_CLIENT_TLS_DIR = '/var/kubefaas/nats-tls';

/** Env of a client container that connects as `user`: credentials (unless the queue is open), the CA directory (with TLS). */
export function queueAuthEnv(queue: QueueBinding, user: string): Array<Record<string, unknown>> {
  return [
    ...(queue.auth ? clientAuthEnv(user, queue.auth.secretName) : []),
    ...(queue.tls ? [{ name: QueueEnv.NATS_TLS_DIR, value: NATS_CLIENT_TLS_DIR }] : []),
  ];
}

/** The volume a client pod mounts at NATS_CLIENT_TLS_DIR: only `ca.crt` of the TLS Secret, never the server's key. */
export function queueClientVolumes(
  queue: QueueBinding | undefined,
): Array<{ volume: string; source: Record<string, unknown>; mountPath: string }> {
  if (!queue?.tls) return [];
  // optional: the local runner (no TLS locally) mounts nothing; in a cluster a missing ca.crt stops the client at start, naming it.
  const secret = { secretName: queue.tls.secretName, items: [{ key: 'ca.crt', path: 'ca.crt' }], optional: true };
  return [{ volume: 'nats-tls', source: { secret }, mountPath: NATS_CLIENT_TLS_DIR }];
}

/**
 * What the queue needs to know of a function (FunctionBase has all of it). An interface rather
 * than the class: the function imports this module for its queue env, so this one must not import it.
 */
export interface QueueConsumer extends IConstruct {
  readonly functionName: string;
  readonly timeoutMillis: number;
  /** Whether the pods run a kubefaas runtime, Node or Python (the only things that consume JetStream). */
  readonly runsKubefaasRuntime: boolean;
  /** The platform the function belongs to (the key of its queue). */
  readonly platform: IConstruct;
  /** Topics the function declared in `publishes` (its NATS user may publish there). */
  readonly publishes: readonly string[];
  /** Functions it calls (`invokes`): its NATS user may queue async calls to them. */
  readonly invokes?: readonly string[];
}

const queues = new WeakMap<IConstruct, QueueBinding>();
const subscriptions = new WeakMap<QueueConsumer, QueueSubscription[]>();

/** Called by a Queue when it binds to a platform; a platform has at most one queue. */
export function registerQueue(platform: IConstruct, binding: QueueBinding): void {
  const existing = queues.get(platform);
  if (existing) {
    throw new ValidationError(
      platform,
      `the platform already has a queue (${existing.construct.node.path})`,
      'Give the platform one queue',
    );
  }
  queues.set(platform, binding);
}

/** The queue of `platform`, if it has one. */
export function queueOf(platform: IConstruct): QueueBinding | undefined {
  return queues.get(platform);
}

/**
 * Whether the function's pods run a kubefaas runtime (Node or Python), which is what consumes JetStream.
 * A ContainerFunction runs the user's own image, which knows nothing about our subscriptions.
 */
export function runsKubefaasRuntime(fn: QueueConsumer): boolean {
  return fn.runsKubefaasRuntime;
}

/** Registers something the function's runtime consumes. Durable names are unique per function. */
export function addQueueSubscription(fn: QueueConsumer, sub: QueueSubscription, what: string): void {
  const list = subscriptions.get(fn) ?? [];
  const clash = list.find((s) => s.durable === sub.durable || s.subject === sub.subject);
  if (clash) {
    throw new ValidationError(
      fn,
      `${what} consumes ${sub.subject}, which the function already consumes (${clash.kind} '${clash.trigger}')`,
      'Bind each topic (and each cron trigger name) to a function once',
    );
  }
  list.push(sub);
  subscriptions.set(fn, list);
}

/** Ack wait: the function timeout plus time to publish the result and ack, so a running handler is never redelivered. */
export function ackWaitFor(fn: QueueConsumer): number {
  return fn.timeoutMillis + QueueDefaults.ackMarginMs;
}

/** Defaults of the subscriptions the platform creates on its own. */
export const QueueDefaults = {
  ackMarginMs: 5_000,
  /** Async calls: in flight per replica, retries after the first attempt and their delays. */
  asyncMaxInFlight: 16,
  asyncMaxRetries: 2,
  asyncBackoffMs: [1_000, 10_000] as readonly number[],
} as const;

/**
 * Everything the function's runtime consumes: its triggers' subscriptions plus, when the platform
 * has a queue and the function runs our runtime, its async invocations (`/async-function/<name>`).
 */
export function queueSubscriptions(fn: QueueConsumer): QueueSubscription[] {
  const queue = queueOf(fn.platform);
  const own = subscriptions.get(fn) ?? [];
  if (!queue || !runsKubefaasRuntime(fn)) return [...own];
  const asyncSub: QueueSubscription = {
    kind: 'async',
    subject: asyncSubject(queue.config, fn.functionName),
    durable: durableNames.async(fn.functionName),
    trigger: 'async',
    maxInFlight: QueueDefaults.asyncMaxInFlight,
    ackWaitMs: ackWaitFor(fn),
    maxRetries: QueueDefaults.asyncMaxRetries,
    backoffMs: [...QueueDefaults.asyncBackoffMs],
    ordered: false,
  };
  return [asyncSub, ...own];
}

/**
 * The queue env of a function's container (QueueEnv.*): empty when the function consumes nothing.
 * Rendered at synth, after every trigger is bound.
 */
export function queueEnv(fn: QueueConsumer): Array<Record<string, unknown>> {
  const queue = queueOf(fn.platform);
  const subs = queueSubscriptions(fn);
  if (!queue || subs.length === 0) return [];
  return [
    { name: QueueEnv.NATS_URL, value: queue.url },
    { name: QueueEnv.QUEUE_CONFIG, value: queueConfigJson(queue.config) },
    { name: QueueEnv.SUBSCRIPTIONS, value: JSON.stringify(subs) },
    // What `context.publish` may reach; the runtime refuses the rest, naming the declaration to add.
    { name: QueueEnv.PUBLISHES, value: JSON.stringify(fn.publishes) },
    ...queueAuthEnv(queue, NatsUserNames.fn(fn.functionName)),
  ];
}

/** JSON of the queue config, the same bytes in every pod (stable key order from the object literal). */
export function queueConfigJson(config: QueueConfig): string {
  return JSON.stringify(config);
}
