/**
 * Issue 16 part 6 for Pulumi: the KubefaasPlatform component exports the platform graph as an
 * output, the same JSON `cdk8s synth` writes to platform.graph.jsonc.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { KubefaasPlatform } from '../../stacks';
import { buildEventsApp } from '../../examples/events/app';
import { GRAPH_FILES, type GraphFile } from '../../src/contract';
import { installRecordingMocks, outputValue, settled } from './support/recording-mocks';

installRecordingMocks();

test('the component outputs the graph that cdk8s synth writes next to the manifests', async () => {
  const platform = new KubefaasPlatform('graph', { build: (app) => buildEventsApp(app) });
  await settled(platform);
  const graph = await outputValue(platform.graph);

  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubefaas-graph-synth-'));
  try {
    const app = new App({ outdir });
    buildEventsApp(app);
    app.synth();
    const written = JSON.parse(fs.readFileSync(path.join(outdir, GRAPH_FILES.json), 'utf8')) as GraphFile;
    expect(graph).toEqual(written);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
  expect(graph.platforms).toHaveLength(1);
  expect(graph.platforms[0].edges).toContainEqual({
    from: 'function:order-intake',
    to: 'topic:orders',
    kind: 'publishes',
  });
});

test('an app without a Platform outputs an empty graph', async () => {
  const platform = new KubefaasPlatform('plain', { build: (app) => void new Chart(app, 'c') });
  await settled(platform);
  expect(await outputValue(platform.graph)).toEqual({ version: 1, platforms: [] });
});
