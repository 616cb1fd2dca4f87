/**
 * The duration histogram covers every function timeout (issue 13.7): the latency alert's threshold
 * always lies inside it, the Node and Python runtimes use the same buckets, and synth warns should a
 * threshold ever fall above the top bucket.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, Metrics, NodeFunction } from '../../constructs';
import { Limits } from '../../constructs/defaults';
import { latencyAlertBucketProblem } from '../../constructs/metrics/resolve';
import { DEFAULT_FUNCTION_ALERTS } from '../../constructs/metrics/generators';
import { clearWarnings, recordedWarnings } from '../../constructs/placement/warnings';
import { FUNCTION_DURATION_BUCKETS } from '../../src/contract';
import { INLINE, newPlatform, synth } from '../constructs/helpers';

describe('function duration buckets', () => {
  test('reach the longest timeout, so the default latency alert of any function can fire', () => {
    const top = FUNCTION_DURATION_BUCKETS[FUNCTION_DURATION_BUCKETS.length - 1];
    expect(top).toBeGreaterThanOrEqual(Limits.maxTimeout.toSeconds());
    const fraction = DEFAULT_FUNCTION_ALERTS.latencyNearTimeout
      ? DEFAULT_FUNCTION_ALERTS.latencyNearTimeout.timeoutFraction
      : 1;
    expect(latencyAlertBucketProblem(fraction * Limits.maxTimeout.toSeconds())).toBeUndefined();
    expect([...FUNCTION_DURATION_BUCKETS].sort((a, b) => a - b)).toEqual(FUNCTION_DURATION_BUCKETS);
  });

  test('the Python runtime declares exactly the contract buckets', () => {
    const source = readFileSync(join(__dirname, '../../src/runtime-python/kubefaas_metrics.py'), 'utf8');
    const tuple = /^DURATION_BUCKETS = \(([^)]*)\)/m.exec(source);
    expect(tuple).not.toBeNull();
    expect(tuple![1].split(',').map((s) => Number(s.trim()))).toEqual(FUNCTION_DURATION_BUCKETS);
  });

  test('a threshold above the top bucket is named as an alert that can never fire', () => {
    expect(latencyAlertBucketProblem(720, [0.1, 1, 10, 300])).toMatch(
      /threshold \(720 s\) is above the duration histogram's top bucket \(300 s\): it can never fire/,
    );
    expect(latencyAlertBucketProblem(240, [0.1, 1, 10, 300])).toBeUndefined();
  });

  test('synth of a 15-minute function with metrics warns about nothing', () => {
    clearWarnings();
    const platform = newPlatform({ metrics: Metrics.prometheus() });
    new NodeFunction(platform, 'batch', { code: INLINE, timeout: Duration.minutes(15) });
    synth(platform);
    expect(recordedWarnings().filter((w) => w.rule === 'metrics/latency-alert-above-buckets')).toEqual([]);
  });
});
