import type { IConstruct } from 'constructs';
import { ValidationError } from '../errors';

/**
 * What triggers and topic declarations tell the graph when they are bound. Kept in a WeakMap keyed
 * by the platform (like the queue registry), so the graph stays a module of its own: triggers record
 * here, the Platform reads it at synth, and neither imports the other's classes.
 */

/** The function an entry belongs to (FunctionBase has all of it). */
export interface GraphFunctionRef extends IConstruct {
  readonly functionName: string;
}

/** A CronTrigger bound to a function. */
export interface CronEntry {
  readonly function: GraphFunctionRef;
  readonly trigger: string;
  readonly schedule: string;
  readonly timeZone?: string;
}

/** A QueueTrigger bound to a function, with where its results and failures go. */
export interface QueueTriggerEntry {
  readonly function: GraphFunctionRef;
  readonly topic: string;
  readonly responseTopic?: string;
  readonly errorTopic: string;
}

/** A topic declared with `new Topic(...)`. */
export interface TopicDeclaration {
  readonly scope: IConstruct;
  readonly name: string;
  readonly external: boolean;
  readonly allowCycle: boolean;
}

interface Entries {
  readonly cron: CronEntry[];
  readonly queueTriggers: QueueTriggerEntry[];
  readonly topics: Map<string, TopicDeclaration>;
}

const registry = new WeakMap<IConstruct, Entries>();

function entriesOf(platform: IConstruct): Entries {
  let entries = registry.get(platform);
  if (!entries) {
    entries = { cron: [], queueTriggers: [], topics: new Map() };
    registry.set(platform, entries);
  }
  return entries;
}

/** Called by CronTrigger.bind. */
export function recordCronTrigger(platform: IConstruct, entry: CronEntry): void {
  entriesOf(platform).cron.push(entry);
}

/** Called by QueueTrigger.bind. */
export function recordQueueTrigger(platform: IConstruct, entry: QueueTriggerEntry): void {
  entriesOf(platform).queueTriggers.push(entry);
}

/** Called by the Topic construct; a topic is declared once per platform. */
export function declareTopic(platform: IConstruct, declaration: TopicDeclaration): void {
  const topics = entriesOf(platform).topics;
  const existing = topics.get(declaration.name);
  if (existing) {
    throw new ValidationError(
      declaration.scope,
      `topic '${declaration.name}' is already declared by ${existing.scope.node.path}`,
      'Declare each topic once per platform and share the construct',
    );
  }
  topics.set(declaration.name, declaration);
}

/** The declaration of `name` in `platform`, if there is one. */
export function topicDeclaration(platform: IConstruct | undefined, name: string): TopicDeclaration | undefined {
  return platform === undefined ? undefined : registry.get(platform)?.topics.get(name);
}

/** Everything recorded for `platform`, in recording order (topics by name). */
export function graphEntries(platform: IConstruct): {
  readonly cron: readonly CronEntry[];
  readonly queueTriggers: readonly QueueTriggerEntry[];
  readonly topics: readonly TopicDeclaration[];
} {
  const entries = entriesOf(platform);
  return {
    cron: [...entries.cron],
    queueTriggers: [...entries.queueTriggers],
    topics: [...entries.topics.values()].sort((a, b) => a.name.localeCompare(b.name)),
  };
}
