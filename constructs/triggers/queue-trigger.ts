import { Duration } from 'cdk8s';
import { topicNameOf, topicSubject, type QueueSubscription, type TopicRef } from '../../src/contract';
import { ValidationError } from '../errors';
import type { FunctionBase, ITrigger } from '../function-base';
import { checkOptions, integerOption, resolvedOptions, TriggerProblem, type CheckedOptions } from './trigger-options';
import { durableNames } from '../queue/names';
import { recordQueueTrigger } from '../graph/registry';
import { ackWaitFor, addQueueSubscription, queueOf, runsKubefaasRuntime } from '../queue/registry';

export interface QueueTriggerProps {
  /**
   * Topic the function consumes: a `topic<T>()` reference from `kubefaas/refs` (the same value the
   * handlers publish to and `defineHandler` takes), or its name: letters, digits, `-` and `_`, with
   * `.` between tokens (`orders`, `orders.created`). Published with `context.publish(topic, data)` or
   * to the NATS subject `topics.<topic>`.
   */
  readonly topic: TopicRef | string;
  /**
   * Messages handled at once per replica (1..1000).
   * @default 16 (1 when ordered)
   */
  readonly maxInFlight?: number;
  /**
   * Deliveries after the first failed one before the message goes to the dead-letter topic (0..100).
   * The ack wait of every attempt is the function timeout plus 5 seconds.
   * @default 3
   */
  readonly maxRetries?: number;
  /**
   * Delay before each retry (the last one repeats); at most maxRetries entries, each ≤ 1 hour.
   * @default [Duration.seconds(1), Duration.seconds(5), Duration.seconds(30)]
   */
  readonly backoff?: readonly Duration[];
  /**
   * Topic the handler's result is published to (a pipeline's next stage): a reference or a name.
   * @default - results are not published
   */
  readonly responseTopic?: TopicRef | string;
  /**
   * Dead-letter topic: after the last retry the message goes there with the error, the attempt
   * count and the function name (headers `Kubefaas-Error`, `Kubefaas-Attempts`, `Kubefaas-Function`).
   * A reference or a name.
   * @default 'dead-letter.<function name>'
   */
  readonly errorTopic?: TopicRef | string;
  /**
   * Handle one message at a time, in publish order (maxInFlight becomes 1).
   * @default false
   */
  readonly ordered?: boolean;
}

/** Defaults of QueueTrigger, in one place (documented in docs/events.md). */
export const QueueTriggerDefaults = {
  maxInFlight: 16,
  maxRetries: 3,
  backoff: [Duration.seconds(1), Duration.seconds(5), Duration.seconds(30)] as readonly Duration[],
  deadLetterTopic: (fn: string): string => `dead-letter.${fn}`,
} as const;

interface Resolved {
  readonly topic: string;
  readonly maxInFlight: number;
  readonly maxRetries: number;
  readonly backoffMs: readonly number[];
  readonly responseTopic?: string;
  readonly errorTopic?: string;
  readonly ordered: boolean;
}

const MAX_BACKOFF_MS = 3_600_000;

/**
 * Runs the function for every message published to a topic: a durable JetStream pull consumer
 * (per function and topic) in the function's runtime, at-least-once, acked only after the handler
 * succeeds, retried with backoff, dead-lettered after the last retry.
 *
 * Options are checked when the trigger is created; problems are reported when it is bound, with
 * the function's construct path.
 */
export class QueueTrigger implements ITrigger {
  private readonly checked: CheckedOptions<Resolved>;

  constructor(public readonly props: QueueTriggerProps) {
    this.checked = checkOptions(() => resolve(props ?? ({} as QueueTriggerProps)));
  }

  public bind(fn: FunctionBase): void {
    const what = `QueueTrigger on topic '${describeTopic(this.props?.topic)}'`;
    const r = resolvedOptions(fn, what, this.checked);
    const queue = queueOf(fn.platform);
    if (!queue) {
      throw new ValidationError(
        fn,
        `${what} needs a queue, but platform ${fn.platform.node.path} has none`,
        'Give the platform a queue: new Platform(app, "faas", { queue: Queue.nats() })',
      );
    }
    if (!runsKubefaasRuntime(fn)) {
      throw new ValidationError(
        fn,
        `${what}: only NodeFunctions and PythonFunctions consume queues (the kubefaas runtimes run the consumer; a ContainerFunction's image does not)`,
        'Use a NodeFunction or a PythonFunction for this trigger',
      );
    }
    const errorTopic = r.errorTopic ?? QueueTriggerDefaults.deadLetterTopic(fn.functionName);
    if (errorTopic === r.topic || r.responseTopic === r.topic) {
      throw new ValidationError(
        fn,
        `${what}: the ${errorTopic === r.topic ? 'errorTopic' : 'responseTopic'} is the consumed topic itself, which would loop forever`,
        'Publish results and failures to another topic',
      );
    }
    const subscription: QueueSubscription = {
      kind: 'topic',
      subject: topicSubject(queue.config, r.topic),
      durable: durableNames.topic(fn.functionName, r.topic),
      trigger: r.topic,
      maxInFlight: r.maxInFlight,
      ackWaitMs: ackWaitFor(fn),
      maxRetries: r.maxRetries,
      backoffMs: [...r.backoffMs],
      ...(r.responseTopic !== undefined ? { responseSubject: topicSubject(queue.config, r.responseTopic) } : {}),
      deadLetterSubject: topicSubject(queue.config, errorTopic),
      ordered: r.ordered,
    };
    addQueueSubscription(fn, subscription, what);
    recordQueueTrigger(fn.platform, {
      function: fn,
      topic: r.topic,
      ...(r.responseTopic !== undefined ? { responseTopic: r.responseTopic } : {}),
      errorTopic,
    });
  }
}

/** The topic's name for messages, whatever was passed. */
function describeTopic(value: unknown): string {
  return typeof value === 'object' && value !== null ? String((value as { name?: unknown }).name) : String(value);
}

function topic(what: string, value: unknown): string {
  try {
    return topicNameOf(value as TopicRef | string);
  } catch (err) {
    throw new TriggerProblem(
      `${what}: ${(err as Error).message}`,
      'Give a topic("orders") reference from kubefaas/refs or a topic name such as "orders" or "orders.created"',
    );
  }
}

function resolve(p: QueueTriggerProps): Resolved {
  const ordered = p.ordered ?? false;
  if (typeof ordered !== 'boolean')
    throw new TriggerProblem('ordered must be true or false', 'Set ordered: true for one-at-a-time processing');
  const main = topic('topic', p.topic);
  let maxInFlight = ordered ? 1 : QueueTriggerDefaults.maxInFlight;
  if (p.maxInFlight !== undefined) {
    maxInFlight = integerOption('maxInFlight', p.maxInFlight, 1, 1000);
    if (ordered && maxInFlight !== 1) {
      throw new TriggerProblem(
        `an ordered trigger handles one message at a time, but maxInFlight is ${maxInFlight}`,
        'Drop maxInFlight or set ordered: false',
      );
    }
  }
  const maxRetries =
    p.maxRetries === undefined ? QueueTriggerDefaults.maxRetries : integerOption('maxRetries', p.maxRetries, 0, 100);
  const backoff = p.backoff ?? QueueTriggerDefaults.backoff.slice(0, Math.max(1, maxRetries));
  if (!Array.isArray(backoff) || backoff.length === 0)
    throw new TriggerProblem(
      'backoff must list at least one delay',
      'Omit backoff, or give e.g. [Duration.seconds(1), Duration.seconds(10)]',
    );
  if (p.backoff !== undefined && backoff.length > Math.max(1, maxRetries)) {
    throw new TriggerProblem(
      `backoff has ${backoff.length} delays but maxRetries is ${maxRetries}`,
      'Give at most one delay per retry (the last one repeats)',
    );
  }
  const backoffMs = backoff.map((d, i) => {
    const ms = d instanceof Duration ? d.toMilliseconds({ integral: false }) : NaN;
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_BACKOFF_MS) {
      throw new TriggerProblem(
        `backoff[${i}] must be a whole number of milliseconds between 0 and 1 hour`,
        'Use e.g. Duration.seconds(5)',
      );
    }
    return ms;
  });
  return {
    topic: main,
    maxInFlight,
    maxRetries,
    backoffMs,
    ...(p.responseTopic !== undefined ? { responseTopic: topic('responseTopic', p.responseTopic) } : {}),
    ...(p.errorTopic !== undefined ? { errorTopic: topic('errorTopic', p.errorTopic) } : {}),
    ordered,
  };
}
