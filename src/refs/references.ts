import { functionNameProblem, type FunctionRef, type TopicRef } from '../contract/refs';
import { assertTopicName } from '../contract/subjects';

/**
 * A reference to a queue topic whose messages are `T`. Give the same value to the platform
 * (`new QueueTrigger({ topic: rawReadings })`, `publishes: [rawReadings]`) and to the handlers
 * (`defineHandler(rawReadings, …)`, `context.publish(rawReadings, reading)`): the name is written once,
 * and the compiler checks the payload on both sides.
 *
 * The name follows the QueueTrigger's rules: letters, digits, `-` and `_`, with `.` between tokens.
 * Throws at once (when the module defining it loads) when it does not.
 */
export function topic<T = unknown>(name: string): TopicRef<T> {
  if (typeof name !== 'string') throw new TypeError(`topic(name): the name must be a string, got ${typeof name}`);
  assertTopicName(name);
  return Object.freeze({ kind: 'topic', name }) as TopicRef<T>;
}

/**
 * A reference to a function called with `In` that answers `Out`: `context.invoke(pricer, input)`
 * resolves with an `Out`, `defineHandler(pricer, …)` must take an `In` and return an `Out`, and the
 * platform declares the edge with `invokes: [pricer]`.
 *
 * The name is the function's `functionName`, with the constructs' rules (a DNS-1035 label: lower-case
 * letters, digits and `-`; not starting with `kubefaas-`). Throws at once when it does not fit.
 */
export function fn<In = unknown, Out = unknown>(name: string): FunctionRef<In, Out> {
  if (typeof name !== 'string') throw new TypeError(`fn(name): the name must be a string, got ${typeof name}`);
  const problem = functionNameProblem(name);
  if (problem !== undefined) throw new Error(problem);
  return Object.freeze({ kind: 'function', name }) as FunctionRef<In, Out>;
}
