/**
 * The platform graph: what invokes each function (HTTP routes, cron triggers, async calls, topics) and
 * where each function sends work (topics it publishes to, its response and dead-letter topics, the
 * functions it invokes). Built at synth from the constructs (constructs/graph/), written next to the
 * manifests (GRAPH_FILES), printed by `kubefaas graph` and exported by the Pulumi component, so all
 * of them show the same picture. Pure data and pure functions.
 */
import { HTTP_METHODS } from './http';

/** File names written into the synth output directory (the cdk8s App's `outdir`). */
export const GRAPH_FILES = {
  /**
   * The graph as JSON (a GraphFile). `.jsonc`, not `.json`: `kubectl apply -f dist/`, Argo CD and the
   * local runner read every `.json` file of the directory as a manifest, and this one is not.
   */
  json: 'platform.graph.jsonc',
  /** The Mermaid diagram in a Markdown page (GitHub and most editors draw it). */
  markdown: 'platform.md',
} as const;

/** Format version of GraphFile; bumped on incompatible changes. */
export const GRAPH_VERSION = 1;

/** What GRAPH_FILES.json holds: one graph per Platform of the app, in construct-tree order. */
export interface GraphFile {
  readonly version: typeof GRAPH_VERSION;
  readonly platforms: readonly PlatformGraph[];
}

/** The graph of one Platform. */
export interface PlatformGraph {
  /** Construct path of the Platform (`kubefaas`). */
  readonly platform: string;
  readonly namespace: string;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
}

/**
 * A public HTTP entry of the router: an HttpTrigger's route, or `/function/<name>` when the function's
 * `invocation.byName` makes it public (the admin port's by-name path, for internal callers, is not drawn).
 */
export interface RouteNode {
  readonly id: string;
  readonly kind: 'route';
  readonly methods: readonly string[];
  readonly path: string;
  readonly host?: string;
}

/** A CronTrigger. */
export interface CronNode {
  readonly id: string;
  readonly kind: 'cron';
  readonly function: string;
  readonly trigger: string;
  readonly schedule: string;
  readonly timeZone?: string;
}

/** Public `POST /async-function/<function>` (the function's `invocation.async`). */
export interface AsyncNode {
  readonly id: string;
  readonly kind: 'async';
  readonly function: string;
  readonly path: string;
}

export interface FunctionNode {
  readonly id: string;
  readonly kind: 'function';
  readonly name: string;
  /** Construct path, for messages and tools. */
  readonly constructPath: string;
}

export interface TopicNode {
  readonly id: string;
  readonly kind: 'topic';
  readonly name: string;
  /** Declared `external`: programs outside the platform publish to it or consume it. */
  readonly external: boolean;
  /** Declared `allowCycle`: a cycle through this topic is intended. */
  readonly allowCycle: boolean;
}

export type GraphNode = RouteNode | CronNode | AsyncNode | FunctionNode | TopicNode;

/**
 * - `http`, `cron`, `async`: an entry point invokes a function;
 * - `consumes`: a topic's messages run a function (QueueTrigger);
 * - `publishes`: a function declared it publishes to a topic (`publishes`);
 * - `response`, `dead-letter`: a QueueTrigger's responseTopic / errorTopic;
 * - `invokes`: a function declared it calls another one (`invokes`).
 */
export type GraphEdgeKind =
  'http' | 'cron' | 'async' | 'consumes' | 'publishes' | 'response' | 'dead-letter' | 'invokes';

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: GraphEdgeKind;
}

/** Node ids: stable, readable, unique per platform. */
export const GraphIds = {
  function: (name: string): string => `function:${name}`,
  topic: (name: string): string => `topic:${name}`,
  cron: (fn: string, trigger: string): string => `cron:${fn}/${trigger}`,
  async: (fn: string): string => `async:${fn}`,
  route: (methods: readonly string[], path: string, host?: string): string =>
    `route:${methods.join(',')} ${host ?? ''}${path}`,
} as const;

/** A label for people: what the node shows in a diagram. */
export function graphNodeLabel(node: GraphNode): string {
  switch (node.kind) {
    case 'route':
      return `${node.methods.length === HTTP_METHODS.length ? 'ANY' : node.methods.join(', ')} ${node.host ?? ''}${node.path}`;
    case 'cron':
      return `cron ${node.trigger}: ${node.schedule}${node.timeZone ? ` (${node.timeZone})` : ''}`;
    case 'async':
      return `POST ${node.path}`;
    case 'function':
      return node.name;
    case 'topic':
      return node.external ? `${node.name} (external)` : node.name;
  }
}

/** Edge labels in diagrams (entry points and consumption speak for themselves). */
const EDGE_LABELS: Readonly<Record<GraphEdgeKind, string | undefined>> = {
  http: undefined,
  cron: undefined,
  async: undefined,
  consumes: undefined,
  publishes: 'publishes',
  response: 'response',
  'dead-letter': 'dead letter',
  invokes: 'invokes',
};

/** Mermaid node shapes per kind: route box, cron hexagon, async parallelogram, function stadium, topic cylinder. */
const MERMAID_SHAPES: Readonly<Record<GraphNode['kind'], readonly [string, string]>> = {
  route: ['[', ']'],
  cron: ['{{', '}}'],
  async: ['[/', '/]'],
  function: ['([', '])'],
  topic: ['[(', ')]'],
};

const MERMAID_ARROWS: Readonly<Record<GraphEdgeKind, string>> = {
  http: '-->',
  cron: '-->',
  async: '-->',
  consumes: '-->',
  publishes: '-->',
  response: '-->',
  'dead-letter': '-.->',
  invokes: '==>',
};

/** Mermaid (`flowchart LR`) of the graphs; several platforms become one subgraph each. */
export function renderMermaid(graphs: readonly PlatformGraph[]): string {
  const lines = ['flowchart LR'];
  const nested = graphs.length > 1;
  graphs.forEach((graph, g) => {
    const ids = localIds(graph, nested ? `p${g}_` : '');
    const indent = nested ? '    ' : '  ';
    if (nested) lines.push(`  subgraph p${g}["${mermaidText(`${graph.platform} (namespace ${graph.namespace})`)}"]`);
    for (const node of graph.nodes) {
      const [open, close] = MERMAID_SHAPES[node.kind];
      const css = node.kind === 'topic' && node.external ? 'external' : node.kind;
      lines.push(`${indent}${ids.get(node.id)}${open}"${mermaidText(graphNodeLabel(node))}"${close}:::${css}`);
    }
    for (const edge of graph.edges) {
      const label = EDGE_LABELS[edge.kind];
      const arrow = MERMAID_ARROWS[edge.kind];
      lines.push(
        `${indent}${ids.get(edge.from)} ${arrow}${label ? `|${label}|` : ''} ${ids.get(edge.to)}`.replace(/ +$/, ''),
      );
    }
    if (nested) lines.push('  end');
  });
  lines.push(
    '  classDef route fill:#e8f0fe,stroke:#4a6fa5',
    '  classDef cron fill:#fff4e0,stroke:#b7791f',
    '  classDef async fill:#fff4e0,stroke:#b7791f',
    '  classDef function fill:#e6f6ea,stroke:#2f855a',
    '  classDef topic fill:#f3e8fd,stroke:#6b46c1',
    '  classDef external fill:#f7f7f7,stroke:#6b46c1,stroke-dasharray:4 3',
  );
  return lines.join('\n') + '\n';
}

/** The Markdown page written as GRAPH_FILES.markdown: one Mermaid block per platform. */
export function renderGraphMarkdown(file: GraphFile): string {
  const parts = [
    '# Platform graph',
    '',
    '<!-- Written by kubefaas at synth from the constructs; do not edit. -->',
    '',
    'Routes, cron triggers and async calls invoke functions; functions publish to topics (declared',
    '`publishes`, a QueueTrigger response topic, dead letters) and invoke functions (declared `invokes`);',
    "topics' QueueTriggers run functions. Only public entry points are drawn (not the router's admin port).",
  ];
  for (const graph of file.platforms) {
    parts.push('', `## ${graph.platform} (namespace \`${graph.namespace}\`)`, '', '```mermaid');
    parts.push(renderMermaid([graph]).trimEnd(), '```');
  }
  return parts.join('\n') + '\n';
}

const DOT_SHAPES: Readonly<Record<GraphNode['kind'], string>> = {
  route: 'box',
  cron: 'hexagon',
  async: 'parallelogram',
  function: 'box, style="rounded,filled", fillcolor="#e6f6ea"',
  topic: 'cylinder',
};

/** Graphviz DOT of the graphs (`dot -Tsvg` draws it); several platforms become clusters. */
export function renderDot(graphs: readonly PlatformGraph[]): string {
  const lines = [
    'digraph platform {',
    '  rankdir=LR;',
    '  node [fontname="Helvetica"];',
    '  edge [fontname="Helvetica"];',
  ];
  const nested = graphs.length > 1;
  graphs.forEach((graph, g) => {
    const ids = localIds(graph, nested ? `p${g}_` : '');
    const indent = nested ? '    ' : '  ';
    if (nested)
      lines.push(`  subgraph cluster_${g} {`, `    label=${dotText(`${graph.platform} (${graph.namespace})`)};`);
    for (const node of graph.nodes) {
      const dashed = node.kind === 'topic' && node.external ? ', style=dashed' : '';
      lines.push(
        `${indent}${ids.get(node.id)} [label=${dotText(graphNodeLabel(node))}, shape=${DOT_SHAPES[node.kind]}${dashed}];`,
      );
    }
    for (const edge of graph.edges) {
      const label = EDGE_LABELS[edge.kind];
      const attrs = [
        ...(label ? [`label=${dotText(label)}`] : []),
        ...(edge.kind === 'dead-letter' ? ['style=dashed'] : []),
        ...(edge.kind === 'invokes' ? ['style=bold'] : []),
      ];
      lines.push(
        `${indent}${ids.get(edge.from)} -> ${ids.get(edge.to)}${attrs.length > 0 ? ` [${attrs.join(', ')}]` : ''};`,
      );
    }
    if (nested) lines.push('  }');
  });
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** Short identifiers (`n0`, `n1`, …) for a diagram: node ids hold characters diagram syntaxes do not allow. */
function localIds(graph: PlatformGraph, prefix: string): Map<string, string> {
  return new Map(graph.nodes.map((n, i) => [n.id, `${prefix}n${i}`]));
}

/** Text inside a quoted Mermaid label: quotes and the characters Mermaid reads as markup become entities. */
function mermaidText(text: string): string {
  return text.replace(/[#"<>]/g, (c) => `#${c.charCodeAt(0)};`);
}

/** A quoted DOT string. */
function dotText(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
