/**
 * The diagrams of the example platforms in docs/composition.md are the ones `kubefaas graph` draws
 * for them: regenerate them with UPDATE_DOCS=1 when an example changes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Testing } from 'cdk8s';
import type { Platform } from '../../constructs';
import { buildEventsApp } from '../../examples/events/app';
import { buildWeatherApp } from '../../examples/weather/app';
import { renderMermaid } from '../../src/contract';

const doc = path.resolve(__dirname, '..', '..', 'docs', 'composition.md');

const EXAMPLES: ReadonlyArray<readonly [string, (app: App) => Platform]> = [
  ['examples/weather/app.ts', (app) => buildWeatherApp(app)],
  ['examples/events/app.ts', (app) => buildEventsApp(app)],
];

test.each(EXAMPLES)('docs/composition.md shows the graph of %s', (example, build) => {
  const platform = build(Testing.app());
  Testing.synth(platform);
  const expected = renderMermaid([platform.graph()]);
  const marker = `<!-- graph:${example} (checked by test/constructs/graph-docs.test.ts) -->\n\`\`\`mermaid\n`;
  const text = fs.readFileSync(doc, 'utf8');
  const start = text.indexOf(marker);
  expect(start).toBeGreaterThanOrEqual(0);
  const bodyStart = start + marker.length;
  const end = text.indexOf('```\n', bodyStart);
  if (process.env.UPDATE_DOCS === '1') {
    fs.writeFileSync(doc, text.slice(0, bodyStart) + expected + text.slice(end));
    return;
  }
  expect(text.slice(bodyStart, end)).toBe(expected);
});
