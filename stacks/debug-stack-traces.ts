/**
 * Runs `register` with V8's stack-trace capture turned off (`Error.stackTraceLimit = 0`), then
 * restores the previous limit.
 *
 * Why: the Pulumi Node SDK wraps every promise it creates while registering a resource — about
 * thirty per resource: four per output property, plus URN, ID and the RPC itself — in
 * `debuggablePromise`, which captures and formats `new Error().stack` unconditionally. Those
 * stacks are read only when the program is run with `PULUMI_DEBUG_PROMISE_LEAKS` set, to explain
 * a promise left pending at exit; formatting them was the largest single cost of registering a
 * platform of thousands of objects. The source position Pulumi records for each resource is not
 * affected: the SDK raises the limit itself while it captures that (`Resource.callsites`).
 *
 * When `PULUMI_DEBUG_PROMISE_LEAKS` is set, stacks are captured as usual. `register` must be
 * synchronous: the limit is global, and restored before any other code gets to run.
 */
export function withoutDebugStackTraces<T>(register: () => T): T {
  if (process.env.PULUMI_DEBUG_PROMISE_LEAKS) return register();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return register();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
