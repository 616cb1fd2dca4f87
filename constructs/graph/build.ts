import type { IConstruct } from 'constructs';
import {
  GraphIds,
  type GraphEdge,
  type GraphEdgeKind,
  type GraphNode,
  type HttpMethod,
  type PlatformGraph,
  type PublicInvocation,
} from '../../src/contract';
import type { CronEntry, QueueTriggerEntry, TopicDeclaration } from './registry';

/** A function as the graph sees it: its name and what it declared. */
export interface GraphFunction {
  readonly scope: IConstruct;
  readonly name: string;
  /** What the router's public port serves of it besides its routes (`invocation`); undefined = nothing. */
  readonly publicInvocation?: PublicInvocation;
  /** Topics named in `publishes`. */
  readonly publishes: readonly string[];
  /** Function names in `invokes`. */
  readonly invokes: readonly string[];
}

/** An HTTP route of the platform. */
export interface GraphRoute {
  readonly function: string;
  readonly methods: readonly HttpMethod[];
  readonly path: string;
  readonly host?: string;
}

/** Everything the graph is built from, collected by the Platform at synth. */
export interface GraphInput {
  readonly platform: string;
  readonly namespace: string;
  readonly functions: readonly GraphFunction[];
  readonly routes: readonly GraphRoute[];
  readonly cron: readonly CronEntry[];
  readonly queueTriggers: readonly QueueTriggerEntry[];
  readonly topics: readonly TopicDeclaration[];
}

/**
 * The graph of one platform. Node order is stable (routes, cron triggers and async entries in
 * declaration order, then functions in creation order, then topics by name) so the JSON and the
 * diagrams diff well. Edges to functions the platform does not have are left out (the function reports them).
 */
export function buildGraph(input: GraphInput): PlatformGraph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const seenNodes = new Set<string>();
  const seenEdges = new Set<string>();
  const addNode = (node: GraphNode) => {
    if (seenNodes.has(node.id)) return;
    seenNodes.add(node.id);
    nodes.push(node);
  };
  const addEdge = (from: string, to: string, kind: GraphEdgeKind) => {
    const key = `${from}\u0000${to}\u0000${kind}`;
    if (seenEdges.has(key)) return;
    seenEdges.add(key);
    edges.push({ from, to, kind });
  };
  const fn = GraphIds.function;
  const functionNames = new Set(input.functions.map((f) => f.name));

  for (const r of input.routes) {
    const id = GraphIds.route(r.methods, r.path, r.host);
    addNode({ id, kind: 'route', methods: [...r.methods], path: r.path, ...(r.host ? { host: r.host } : {}) });
    addEdge(id, fn(r.function), 'http');
  }
  for (const c of input.cron) {
    const id = GraphIds.cron(c.function.functionName, c.trigger);
    addNode({
      id,
      kind: 'cron',
      function: c.function.functionName,
      trigger: c.trigger,
      schedule: c.schedule,
      ...(c.timeZone ? { timeZone: c.timeZone } : {}),
    });
    addEdge(id, fn(c.function.functionName), 'cron');
  }
  for (const f of input.functions) {
    // Public by-name calls are an HTTP entry like a route; internal ones (the admin port) are not drawn.
    const byName = f.publicInvocation?.byName;
    if (byName !== undefined && byName.length > 0) {
      const path = `/function/${f.name}`;
      const id = GraphIds.route(byName, path);
      addNode({ id, kind: 'route', methods: [...byName], path });
      addEdge(id, fn(f.name), 'http');
    }
    if (f.publicInvocation?.async === true) {
      const id = GraphIds.async(f.name);
      addNode({ id, kind: 'async', function: f.name, path: `/async-function/${f.name}` });
      addEdge(id, fn(f.name), 'async');
    }
  }
  for (const f of input.functions) {
    addNode({ id: fn(f.name), kind: 'function', name: f.name, constructPath: f.scope.node.path });
  }

  const topics = new Set<string>(input.topics.map((t) => t.name));
  const topicEdges: Array<[string, string, GraphEdgeKind]> = [];
  for (const q of input.queueTriggers) {
    const name = q.function.functionName;
    topicEdges.push([GraphIds.topic(q.topic), fn(name), 'consumes']);
    if (q.responseTopic !== undefined) topicEdges.push([fn(name), GraphIds.topic(q.responseTopic), 'response']);
    topicEdges.push([fn(name), GraphIds.topic(q.errorTopic), 'dead-letter']);
    for (const t of [q.topic, q.responseTopic, q.errorTopic]) if (t !== undefined) topics.add(t);
  }
  for (const f of input.functions) {
    for (const t of f.publishes) {
      topics.add(t);
      topicEdges.push([fn(f.name), GraphIds.topic(t), 'publishes']);
    }
  }
  const declared = new Map(input.topics.map((t) => [t.name, t]));
  for (const name of [...topics].sort()) {
    const d = declared.get(name);
    addNode({
      id: GraphIds.topic(name),
      kind: 'topic',
      name,
      external: d?.external ?? false,
      allowCycle: d?.allowCycle ?? false,
    });
  }
  for (const [from, to, kind] of topicEdges) addEdge(from, to, kind);
  for (const f of input.functions)
    for (const target of f.invokes) if (functionNames.has(target)) addEdge(fn(f.name), fn(target), 'invokes');

  return { platform: input.platform, namespace: input.namespace, nodes, edges };
}

/** A warning the platform reports (never fails synth). */
export interface GraphWarning {
  readonly scope: IConstruct | string;
  readonly rule: string;
  readonly message: string;
}

export const GraphRules = {
  noConsumer: 'graph/topic-without-consumer',
  noProducer: 'graph/topic-without-producer',
} as const;

/** What is wrong with a graph: errors fail synth, warnings are printed. */
export interface GraphProblems {
  readonly errors: readonly string[];
  readonly warnings: readonly GraphWarning[];
}

const PRODUCING: ReadonlySet<GraphEdgeKind> = new Set(['publishes', 'response', 'dead-letter']);

/**
 * The synth checks of the graph (an `invokes` naming no function of the platform is the function's
 * own error):
 * - a topic with producers and no consumer, or consumers and no producer, is a warning naming both
 *   ends, unless it is declared `external` (dead-letter topics need no consumer: their messages are
 *   kept for inspection and replay);
 * - a cycle through topics is an error unless one of its topics is declared `allowCycle`.
 */
export function checkGraph(graph: PlatformGraph, input: GraphInput): GraphProblems {
  const errors: string[] = [];
  const warnings: GraphWarning[] = [];
  const byName = new Map(input.functions.map((f) => [f.name, f]));
  const scopeOf = (id: string): IConstruct | string => byName.get(nameOf(id))?.scope ?? input.platform;
  const declared = new Map(input.topics.map((t) => [t.name, t]));

  for (const topic of graph.nodes) {
    if (topic.kind !== 'topic' || topic.external) continue;
    const into = graph.edges.filter((e) => e.to === topic.id && PRODUCING.has(e.kind));
    const out = graph.edges.filter((e) => e.from === topic.id && e.kind === 'consumes');
    const where = declared.get(topic.name);
    const external = `new Topic(platform, '${topic.name}', { external: true })`;
    if (into.length > 0 && out.length === 0 && into.some((e) => e.kind !== 'dead-letter')) {
      const producers = into.filter((e) => e.kind !== 'dead-letter');
      warnings.push({
        scope: where?.scope ?? scopeOf(producers[0].from),
        rule: GraphRules.noConsumer,
        message: `topic '${topic.name}' is published to by ${describeEnds(producers, 'from', byName)} but no function of the platform consumes it: add a QueueTrigger on '${topic.name}', or declare ${external} if it is read outside the platform`,
      });
    }
    if (out.length > 0 && into.length === 0) {
      warnings.push({
        scope: where?.scope ?? scopeOf(out[0].to),
        rule: GraphRules.noProducer,
        message: `topic '${topic.name}' is consumed by ${describeEnds(out, 'to', byName)} but no function of the platform publishes to it: add '${topic.name}' to the \`publishes\` of the function that sends it, or declare ${external} if programs outside the platform publish to it`,
      });
    }
  }

  for (const cycle of topicCycles(graph)) {
    const allowable = cycle.filter((id) => id.startsWith('topic:')).map(nameOf);
    errors.push(
      `a cycle through topics: ${[...cycle, cycle[0]].map(describeNode).join(' → ')}, so a message can go round forever. Break the loop, or declare one of its topics with new Topic(platform, '${allowable[0]}', { allowCycle: true }) if the loop ends by itself (e.g. a hop counter)`,
    );
  }
  return { errors, warnings };
}

/** `function 'a' (path, publishes)`, for the functions at one end of some edges. */
function describeEnds(
  edges: readonly GraphEdge[],
  end: 'from' | 'to',
  byName: ReadonlyMap<string, GraphFunction>,
): string {
  const kinds: Record<GraphEdgeKind, string> = {
    publishes: '`publishes`',
    response: 'its QueueTrigger responseTopic',
    'dead-letter': 'its QueueTrigger errorTopic',
    consumes: 'a QueueTrigger',
    http: 'an HttpTrigger',
    cron: 'a CronTrigger',
    async: 'async calls',
    invokes: '`invokes`',
  };
  return edges
    .map((e) => {
      const name = nameOf(e[end]);
      const path = byName.get(name)?.scope.node.path;
      return `function '${name}' (${path ? `${path}, ` : ''}${kinds[e.kind]})`;
    })
    .join(', ');
}

function nameOf(id: string): string {
  return id.slice(id.indexOf(':') + 1);
}

function describeNode(id: string): string {
  return `${id.slice(0, id.indexOf(':'))} '${nameOf(id)}'`;
}

/** Edges along which a message (or the work it causes) travels between functions and topics. */
const FLOW: ReadonlySet<GraphEdgeKind> = new Set(['consumes', 'publishes', 'response', 'dead-letter', 'invokes']);

/**
 * One cycle (as node ids, starting at a topic) per strongly connected component that holds a topic,
 * once the topics declared `allowCycle` are taken out. Tarjan's algorithm, iterative.
 */
export function topicCycles(graph: PlatformGraph): string[][] {
  const allowed = new Set(graph.nodes.filter((n) => n.kind === 'topic' && n.allowCycle).map((n) => n.id));
  const next = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (!FLOW.has(e.kind) || allowed.has(e.from) || allowed.has(e.to)) continue;
    (next.get(e.from) ?? next.set(e.from, []).get(e.from)!).push(e.to);
  }
  const cycles: string[][] = [];
  for (const component of stronglyConnected(
    graph.nodes.map((n) => n.id),
    next,
  )) {
    const members = new Set(component);
    const start = component.filter((id) => id.startsWith('topic:')).sort()[0];
    if (start === undefined) continue;
    const selfLoop = (next.get(start) ?? []).includes(start);
    if (component.length === 1 && !selfLoop) continue;
    cycles.push(pathBack(start, members, next));
  }
  return cycles;
}

/** The shortest path from `start` back to itself inside `members` (breadth first). */
function pathBack(start: string, members: ReadonlySet<string>, next: ReadonlyMap<string, string[]>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const at = queue.shift()!;
    for (const to of next.get(at) ?? []) {
      if (!members.has(to)) continue;
      if (to === start) {
        const path = [at];
        while (path[0] !== start) path.unshift(parent.get(path[0])!);
        return path;
      }
      if (!parent.has(to)) {
        parent.set(to, at);
        queue.push(to);
      }
    }
  }
  return [start];
}

function stronglyConnected(ids: readonly string[], next: ReadonlyMap<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const root of ids) {
    if (index.has(root)) continue;
    const work: Array<{ id: string; i: number }> = [{ id: root, i: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const targets = next.get(frame.id) ?? [];
      if (frame.i < targets.length) {
        const to = targets[frame.i++];
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ id: to, i: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.id, Math.min(low.get(frame.id)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].id;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.id)!));
      }
      if (low.get(frame.id) === index.get(frame.id)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.id);
        components.push(component);
      }
    }
  }
  return components;
}
