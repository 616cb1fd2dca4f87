import type { QueueConfig, QueueSubscription } from '../../src/contract';
import { QueueEnv } from '../../src/contract';
import {
  asyncSubject,
  bucketStreamName,
  callbackDurable,
  callbackSubject,
  inboxPrefixFor,
  streamOf,
  topicSubject,
} from '../../src/contract';

/**
 * Queue isolation (issue 13): every component connects as its own NATS user whose permissions name
 * exactly the subjects it needs, so a pod that reaches NATS (a ContainerFunction image, Prometheus,
 * anything labelled part-of kubefaas) can neither read other functions' messages, nor purge or
 * reconfigure streams, nor inject into subjects that are not its own.
 *
 * No secret value is ever synthesized. nats.conf (a ConfigMap) refers to each password as an
 * environment variable (`password: $KUBEFAAS_NATS_PASSWORD_ROUTER`), which nats-server resolves
 * from its own environment at start; the StatefulSet fills those variables from keys of one Secret
 * the user creates (`kubectl create secret generic kubefaas-nats-auth --from-literal=router=…`),
 * and every client reads its own key of the same Secret into `KUBEFAAS_NATS_PASSWORD`. The key of
 * a user is its name: `router`, `cron`, `fn-<function>`.
 */

/** One NATS user: who, which Secret key holds its password, and what it may do. */
export interface NatsUser {
  /** NATS user name, also the Secret key of its password. */
  readonly name: string;
  /** Variable nats.conf reads the password from (set on the NATS server container). */
  readonly passwordVariable: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

export const NatsUserNames = {
  router: 'router',
  cron: 'cron',
  fn: (functionName: string): string => `fn-${functionName}`,
} as const;

/** A function whose pods consume the queue, with what they consume and the topics it declared it publishes to. */
export interface QueueClientFunction {
  readonly functionName: string;
  readonly subscriptions: readonly QueueSubscription[];
  readonly publishes: readonly string[];
  /** The functions it declared in `invokes` (context.invokeAsync queues calls to them). @default none */
  readonly invokes?: readonly string[];
}

/** Every user of the queue, in a stable order (router, cron if any cron tick goes through the queue, functions by name). */
export function natsUsers(config: QueueConfig, functions: readonly QueueClientFunction[]): NatsUser[] {
  const consuming = functions
    .filter((f) => f.subscriptions.length > 0)
    .sort((a, b) => a.functionName.localeCompare(b.functionName));
  const users: NatsUser[] = [
    user(NatsUserNames.router, [
      // POST /async-function/<name>: the call is published, its state created in the bucket.
      `${config.asyncPrefix}.>`,
      ...callStateAccess(config),
      // The router creates the streams at start and updates them when their limits change.
      ...streamManagement(config, true),
    ]),
  ];
  if (consuming.some((f) => f.subscriptions.some((s) => s.kind === 'cron'))) {
    // The cron sender publishes ticks (`<cronPrefix>.<function>.<trigger>`) and nothing else.
    users.push(user(NatsUserNames.cron, [`${config.cronPrefix}.>`, ...streamManagement(config, false)]));
  }
  for (const f of consuming) {
    users.push(
      user(NatsUserNames.fn(f.functionName), [
        ...f.subscriptions.flatMap((s) => consumerAccess(config, s)),
        // Async calls with X-Callback-Url: the runtime stores a callback job on the function's own
        // callback subject and delivers it from a second durable consumer (src/queue/callback-queue.ts).
        ...f.subscriptions
          .filter((s) => s.kind === 'async')
          .flatMap((s) => [
            callbackSubject(config, f.functionName),
            ...consumerAccess(config, { ...s, durable: callbackDurable(s.durable) }),
          ]),
        // Least privilege from the platform graph: the topics the function declared in `publishes`
        // (context.publish) and its triggers' response and dead-letter topics, nothing else.
        ...publishedSubjects(config, f),
        // context.invokeAsync: calls to the functions it declared in `invokes`, and no other.
        ...(f.invokes ?? []).map((target) => asyncSubject(config, target)),
        // Async calls: the runtime records running/succeeded/failed in the call-state bucket.
        ...callStateAccess(config),
        ...streamManagement(config, false),
      ]),
    );
  }
  return users;
}

/** Topic subjects a function's pods publish to: declared `publishes`, then responses and dead letters. */
function publishedSubjects(config: QueueConfig, f: QueueClientFunction): string[] {
  return [
    ...f.publishes.map((topic) => topicSubject(config, topic)),
    ...f.subscriptions.flatMap((s) => [s.responseSubject, s.deadLetterSubject]).filter((s): s is string => !!s),
  ];
}

function user(name: string, publish: readonly string[]): NatsUser {
  return {
    name,
    passwordVariable: `KUBEFAAS_NATS_PASSWORD_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`,
    // `$JS.API.INFO`: nats.js checks the JetStream API when a manager is created.
    publish: ['$JS.API.INFO', ...new Set(publish)],
    // Replies (PubAcks, API answers, pulled messages) arrive only under the user's own inbox prefix.
    subscribe: [`${inboxPrefixFor(name)}.>`],
  };
}

/** Stream info (and create; update only for the router) of the three kubefaas streams. Never purge or delete. */
function streamManagement(config: QueueConfig, update: boolean): string[] {
  const streams = [config.topicsStream, config.callsStream, bucketStreamName(config.callsBucket)];
  return streams.flatMap((s) => [
    `$JS.API.STREAM.INFO.${s}`,
    `$JS.API.STREAM.CREATE.${s}`,
    ...(update ? [`$JS.API.STREAM.UPDATE.${s}`] : []),
  ]);
}

/** Reads and writes of the async-call state bucket (KV puts are publishes to `$KV.<bucket>.<key>`). */
function callStateAccess(config: QueueConfig): string[] {
  const stream = bucketStreamName(config.callsBucket);
  return [
    `$KV.${config.callsBucket}.>`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
  ];
}

/** One durable consumer: create/update and inspect it, pull from it, acknowledge its messages. */
function consumerAccess(config: QueueConfig, sub: QueueSubscription): string[] {
  const stream = streamOf(config, sub.kind);
  const d = sub.durable;
  return [
    `$JS.API.CONSUMER.INFO.${stream}.${d}`,
    `$JS.API.CONSUMER.CREATE.${stream}.${d}`,
    `$JS.API.CONSUMER.CREATE.${stream}.${d}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${d}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${d}`,
    `$JS.ACK.${stream}.${d}.>`,
  ];
}

/** The `authorization` block of nats.conf: passwords are variable references, never values. */
export function renderAuthorization(users: readonly NatsUser[]): string[] {
  const list = (subjects: readonly string[]) => `[${subjects.map((s) => JSON.stringify(s)).join(', ')}]`;
  return [
    'authorization {',
    '  users: [',
    ...users.map(
      (u) =>
        `    { user: ${JSON.stringify(u.name)}, password: $${u.passwordVariable}, permissions: { ` +
        `publish: { allow: ${list(u.publish)} }, subscribe: { allow: ${list(u.subscribe)} } } }`,
    ),
    '  ]',
    '}',
  ];
}

/** Env of the NATS server container: each user's password variable from its Secret key. */
export function serverPasswordEnv(users: readonly NatsUser[], secretName: string): Array<Record<string, unknown>> {
  return users.map((u) => ({
    name: u.passwordVariable,
    valueFrom: { secretKeyRef: { name: secretName, key: u.name } },
  }));
}

/** Env of a client container: its user name and its password from the Secret. */
export function clientAuthEnv(userName: string, secretName: string): Array<Record<string, unknown>> {
  return [
    { name: QueueEnv.NATS_USER, value: userName },
    { name: QueueEnv.NATS_PASSWORD, valueFrom: { secretKeyRef: { name: secretName, key: userName } } },
  ];
}
