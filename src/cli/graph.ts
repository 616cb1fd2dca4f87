import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { GRAPH_FILES, renderDot, renderGraphMarkdown, renderMermaid, type GraphFile } from '../contract';
import { readGraphFile, resolveAppSource, synthesize } from '../local';
import { UsageError } from './dev';
import { GRAPH_USAGE } from './usage';

const FORMATS = ['mermaid', 'json', 'dot', 'markdown'] as const;
type Format = (typeof FORMATS)[number];

/** `kubefaas graph`: prints (or writes) the platform graph of an app, synthesized as `kubefaas dev` does. */
export async function graphCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      manifests: { type: 'string' },
      format: { type: 'string', short: 'f' },
      out: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(GRAPH_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`graph takes one app, got ${positionals.length}`, GRAPH_USAGE);
  const format = (values.format ?? 'mermaid') as Format;
  if (!FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got ${values.format}`, GRAPH_USAGE);

  let graph: GraphFile;
  try {
    graph = await loadGraph(positionals[0], values.manifests);
  } catch (err) {
    process.stderr.write(`kubefaas graph: ${(err as Error).message}\n`);
    return 1;
  }
  const text = render(graph, format);
  if (values.out === undefined) process.stdout.write(text);
  else {
    fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
    fs.writeFileSync(values.out, text);
    process.stderr.write(`kubefaas graph: wrote ${values.out}\n`);
  }
  return 0;
}

/** The graph of an app (synthesized now) or of a directory synthesized before. */
async function loadGraph(app: string | undefined, manifestsDir: string | undefined): Promise<GraphFile> {
  const source = resolveAppSource({ app, manifestsDir });
  if (source.kind === 'manifests') {
    const graph = readGraphFile(source.dir);
    if (!graph)
      throw new Error(
        `${source.dir} has no ${GRAPH_FILES.json}: synthesize the app again (cdk8s synth) or pass the app`,
      );
    return graph;
  }
  const result = await synthesize(source);
  // What the app printed (synth warnings about the graph among them) is worth seeing.
  if (result.output.trim() !== '')
    process.stderr.write(result.output.endsWith('\n') ? result.output : `${result.output}\n`);
  if (!result.graph) throw new Error('the app wrote no platform graph: does it create a kubefaas Platform?');
  return result.graph;
}

function render(graph: GraphFile, format: Format): string {
  switch (format) {
    case 'json':
      return JSON.stringify(graph, null, 2) + '\n';
    case 'mermaid':
      return renderMermaid(graph.platforms);
    case 'dot':
      return renderDot(graph.platforms);
    case 'markdown':
      return renderGraphMarkdown(graph);
  }
}
