/**
 * Random alert settings either synthesize rules that promtool accepts (lint included) or fail with
 * a ValidationError naming the construct path: never an unhandled exception, never a broken file.
 */
import { Duration } from 'cdk8s';
import * as fc from 'fast-check';
import { Construct } from 'constructs';
import { Metrics, FunctionAlertOptions, validateFunctionAlerts } from '../../constructs/metrics';
import { ValidationError } from '../../constructs/errors';
import { find, run, synthMetrics, tempFiles } from './support';

// Mostly valid values, now and then an invalid one (fractional seconds, ratios outside (0, 1]).
const duration = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 7200 }).map((s) => Duration.seconds(s)), weight: 30 },
  { arbitrary: fc.constant(Duration.millis(1500)), weight: 1 },
);
const ratio = fc.oneof(
  { arbitrary: fc.double({ min: 0.001, max: 1, noNaN: true }), weight: 30 },
  { arbitrary: fc.constantFrom(0, -1, 1.5), weight: 1 },
);
const severity = fc.constantFrom('info' as const, 'warning' as const, 'critical' as const);
const orFalse = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.constant(false as const));

const overrides: fc.Arbitrary<FunctionAlertOptions> = fc.record(
  {
    errorRatio: orFalse(fc.record({ threshold: ratio, for: duration, severity }, { requiredKeys: [] })),
    latencyNearTimeout: orFalse(fc.record({ timeoutFraction: ratio, for: duration }, { requiredKeys: [] })),
    noReadyReplica: orFalse(fc.record({ for: duration, severity }, { requiredKeys: [] })),
    deadLetters: orFalse(
      fc.record({ threshold: fc.integer({ min: -1, max: 50 }), window: duration }, { requiredKeys: [] }),
    ),
    queueLag: orFalse(
      fc.record(
        { minMessages: fc.integer({ min: 0, max: 1000 }), window: duration, for: duration },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
);

const fnArb = fc.record({
  timeoutSeconds: fc.integer({ min: 1, max: 900 }),
  minReplicas: fc.constantFrom(0, 1, 2),
  alerts: fc.option(overrides, { nil: undefined }),
});

test('random alert settings: valid rules or a ValidationError', async () => {
  const samples = fc.sample(
    fc.record({
      defaults: fc.option(overrides, { nil: undefined }),
      byName: fc.option(overrides, { nil: undefined }),
      functions: fc.array(fnArb, { minLength: 1, maxLength: 6 }),
    }),
    { numRuns: 30, seed: 4242 },
  );
  let valid = 0;
  let rejected = 0;
  for (const sample of samples) {
    const functions = sample.functions.map((f, i) => ({
      name: `fn-${i}`,
      timeout: Duration.seconds(f.timeoutSeconds),
      minReplicas: f.minReplicas,
      alerts: f.alerts,
    }));
    let rules: string;
    try {
      // What a function construct does with its own `alerts` prop, at construction.
      const scope = new Construct(undefined as unknown as Construct, 'platform');
      functions.forEach((f) => validateFunctionAlerts(scope, `${f.name}.alerts`, f.alerts));
      const metrics = Metrics.prometheus({
        rules: { defaults: sample.defaults, functions: sample.byName ? { 'fn-0': sample.byName } : undefined },
      });
      rules = find(synthMetrics(metrics, functions), 'ConfigMap', 'kubefaas-prometheus-rules').data[
        'kubefaas.rules.yml'
      ];
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      rejected++;
      expect((err as Error).message).toMatch(/^\[platform(\/Metrics)?\] /);
      continue;
    }
    valid++;
    const files = tempFiles({ 'rules.yml': rules });
    try {
      const result = await run('promtool', ['check', 'rules', 'rules.yml'], files.dir);
      if (result.code !== 0)
        throw new Error(`promtool rejected rules for ${JSON.stringify(sample)}:\n${result.output}\n${rules}`);
    } finally {
      files.cleanup();
    }
  }
  // The generator must exercise the valid path, not only the error path.
  expect(valid).toBeGreaterThan(5);
  expect(rejected).toBeGreaterThan(0);
});
