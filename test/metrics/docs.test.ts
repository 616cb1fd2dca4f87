/** docs/metrics.md documents every metric, recording rule and alert that exists, with its labels. */
import { readFileSync } from 'fs';
import { join } from 'path';
import { Alerts, METRIC_CATALOG, RecordingRules } from '../../constructs/metrics/generators';
import { MetricNames } from '../../src/contract';

const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');

/** The table row of a name: `| \`name\` | ... |`. */
function row(name: string): string | undefined {
  return doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
}

describe('docs/metrics.md', () => {
  test('every contract metric is in the catalog', () => {
    expect(METRIC_CATALOG.map((m) => m.name).sort()).toEqual(Object.values(MetricNames).sort());
  });

  test.each(METRIC_CATALOG.map((m) => [m.name, m] as const))(
    'documents %s with its type, labels and emitter',
    (name, metric) => {
      const line = row(name);
      expect(line).toBeDefined();
      const cells = line!.split('|').map((c) => c.trim());
      expect(cells[2]).toBe(metric.type);
      expect(cells[3]).toBe(metric.labels.join(', '));
      expect(cells[4]).toBe(metric.emittedBy);
    },
  );

  test('documents every recording rule and alert', () => {
    const missing = [...Object.values(RecordingRules), ...Object.values(Alerts)].filter((n) => row(n) === undefined);
    expect(missing).toEqual([]);
  });
});
