import { Construct } from 'constructs';
import { isTopicRef, topicNameOf, type TopicRef } from '../src/contract';
import { ValidationError } from './errors';
import { declareTopic, topicDeclaration } from './graph/registry';
import { Platform } from './platform';

export interface TopicProps {
  /**
   * The platform the topic belongs to. Needed only when the topic is not created inside the
   * platform's construct tree.
   * @default - the nearest Platform above the scope
   */
  readonly platform?: Platform;
  /**
   * Programs outside the platform publish to the topic or consume it (a bridge, a job reading
   * `topics.<name>` with its own NATS client): synth does not warn that no function of the platform
   * consumes it, or that none publishes to it.
   * @default false
   */
  readonly external?: boolean;
  /**
   * A cycle of the platform graph through this topic is intended (it ends by itself, e.g. the
   * message carries a hop counter). Without it, a cycle through topics fails synth.
   * @default false
   */
  readonly allowCycle?: boolean;
}

/**
 * Declares a topic of the platform's queue and what synth should know about it. Topics need no
 * declaration to be used (a QueueTrigger or a function's `publishes` names them); declare one to
 * mark it `external` or `allowCycle`. It creates no Kubernetes object: every topic lives in the
 * platform's topics stream.
 *
 * ```ts
 * new Topic(platform, pricedOrders, { external: true }); // a topic() reference (or its name), read by billing
 * ```
 */
export class Topic extends Construct {
  /** The topic's name (`orders.priced`), published on the NATS subject `topics.<name>`. */
  public readonly topicName: string;
  public readonly platform: Platform;
  public readonly external: boolean;
  public readonly allowCycle: boolean;

  constructor(scope: Construct, topic: TopicRef | string, props: TopicProps = {}) {
    const given = typeof topic === 'string' ? topic : isTopicRef(topic) ? topic.name : String(topic);
    // Before the construct exists: a second declaration in the same scope would otherwise fail on
    // the construct id, without saying where the first one is.
    const existing = topicDeclaration(props?.platform ?? Platform.find(scope), given);
    if (existing)
      throw new ValidationError(
        `${scope.node.path}/topic-${given}`,
        `topic '${given}' is already declared by ${existing.scope.node.path}`,
        'Declare each topic once per platform and share the construct',
      );
    super(scope, `topic-${given}`);
    props = props ?? {};
    const platform = props.platform ?? Platform.find(scope);
    if (!(platform instanceof Platform)) {
      throw new ValidationError(
        this,
        'the topic belongs to no platform',
        'Create it inside a Platform, or pass `platform` in its props',
      );
    }
    let topicName: string;
    try {
      topicName = topicNameOf(topic);
    } catch (err) {
      throw new ValidationError(
        this,
        (err as Error).message,
        'Give a topic("orders.created") reference from kubefaas/refs, or a name such as "orders.created"',
      );
    }
    if (platform.queue === undefined)
      throw new ValidationError(
        this,
        `platform ${platform.node.path} has no queue for topic '${topicName}'`,
        'Give the platform a queue: new Platform(app, "faas", { queue: Queue.nats() })',
      );
    for (const key of ['external', 'allowCycle'] as const)
      if (props[key] !== undefined && typeof props[key] !== 'boolean')
        throw new ValidationError(this, `\`${key}\` must be true or false`, `Set ${key}: true, or leave it out`);
    this.platform = platform;
    this.topicName = topicName;
    this.external = props.external === true;
    this.allowCycle = props.allowCycle === true;
    declareTopic(platform, { scope: this, name: topicName, external: this.external, allowCycle: this.allowCycle });
  }
}
