/**
 * The Python runtime cannot import src/contract/: check that the names it repeats (environment
 * variables, endpoints, metric names, the entry file) are the contract's.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Endpoints, Env, Headers, MetricNames, PythonEnv, PythonPaths } from '../../src/contract';

const dir = join(__dirname, '..', '..', 'src', 'runtime-python');
const source = readdirSync(dir)
  .filter((f) => f.endsWith('.py'))
  .map((f) => readFileSync(join(dir, f), 'utf8'))
  .join('\n');

it('reads the contract environment variables', () => {
  for (const name of [
    Env.PORT,
    Env.FUNCTION_NAME,
    Env.HANDLER_PATH,
    Env.TIMEOUT_MS,
    Env.MAX_CONCURRENCY,
    Env.MAX_BODY_BYTES,
    Env.SHUTDOWN_GRACE_MS,
    PythonEnv.CODE_DIR,
    PythonEnv.THREADS,
  ]) {
    expect(source).toContain(`"${name}"`);
  }
});

it('serves the contract endpoints and headers and exports the contract metric names', () => {
  for (const path of Object.values(Endpoints)) expect(source).toContain(`"${path}"`);
  expect(source).toContain(`"${Headers.requestId}"`);
  expect(source).toContain(`"${Headers.traceparent}"`);
  expect(source).toContain(`"${Headers.params}"`);
  expect(source).toContain(`"${Headers.auth}"`);
  for (const name of [
    MetricNames.functionInvocations,
    MetricNames.functionDuration,
    MetricNames.functionInFlight,
    MetricNames.functionColdStarts,
  ]) {
    expect(source).toContain(`"${name}"`);
  }
});

it('has the entry file and dependency directory the constructs name', () => {
  expect(readdirSync(dir)).toContain(PythonPaths.runtimeMain);
  expect(source).toContain(`"${PythonPaths.depsDir}"`);
});
