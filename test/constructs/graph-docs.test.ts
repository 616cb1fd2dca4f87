/**
 * The diagram of the example platform in docs/composition.md is the one `kubefaas graph` draws for
 * it: regenerate it with UPDATE_DOCS=1 when the example changes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { buildEventsApp } from '../../examples/events/app';
import { renderMermaid } from '../../src/contract';

const doc = path.resolve(__dirname, '..', '..', 'docs', 'composition.md');
const MARKER = '<!-- graph:examples/events/app.ts (checked by test/constructs/graph-docs.test.ts) -->\n```mermaid\n';

test('docs/composition.md shows the graph of examples/events/app.ts', () => {
  const platform = buildEventsApp(Testing.app());
  Testing.synth(platform);
  const expected = renderMermaid([platform.graph()]);
  const text = fs.readFileSync(doc, 'utf8');
  const start = text.indexOf(MARKER);
  expect(start).toBeGreaterThanOrEqual(0);
  const bodyStart = start + MARKER.length;
  const end = text.indexOf('```\n', bodyStart);
  if (process.env.UPDATE_DOCS === '1') {
    fs.writeFileSync(doc, text.slice(0, bodyStart) + expected + text.slice(end));
    return;
  }
  expect(text.slice(bodyStart, end)).toBe(expected);
});
