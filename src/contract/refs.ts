/**
 * Typed references to topics and functions (issue 16): the values `kubefaas/refs` makes
 * (`topic<T>(name)`, `fn<In, Out>(name)`), which the constructs (`QueueTrigger({ topic })`, `publishes`,
 * `invokes`) and the handlers (`defineHandler`, `context.publish`, `context.invoke`) both take, so the two
 * sides agree by value, not by spelling. A reference is a plain object of a kind and a name; the type
 * parameters exist at compile time only (phantom properties that are never set).
 *
 * Also what a synchronous `context.invoke` needs on the wire: the header that carries the caller's
 * remaining time, the env variable naming where the invoked functions live, and the typed error.
 */
import { RESERVED_NAME_PREFIX } from './names';
import { FUNCTION_NAME_HINT, isFunctionName } from './routes';
import { assertTopicName } from './subjects';

/** Compile-time only: the payload type of a topic reference (never set at run time). */
declare const topicPayload: unique symbol;
/** Compile-time only: the input and output types of a function reference (never set at run time). */
declare const functionTypes: unique symbol;

/** A queue topic whose messages are `T` (`topic<T>('weather.raw')`). */
export interface TopicRef<T = unknown> {
  readonly kind: 'topic';
  /** The topic name, as a QueueTrigger and `context.publish` spell it. */
  readonly name: string;
  /** Phantom (compile time only): carries `T`, never present. */
  readonly [topicPayload]?: T;
}

/** A function called with `In` that answers `Out` (`fn<In, Out>('pricer')`). */
export interface FunctionRef<In = unknown, Out = unknown> {
  readonly kind: 'function';
  /** The function name (`functionName` of its construct: its Service and `/function/<name>`). */
  readonly name: string;
  /** Phantom (compile time only): carries `In` and `Out`, never present. */
  readonly [functionTypes]?: { readonly in: In; readonly out: Out };
}

/** True for a value made by `topic()` (or shaped like one). */
export function isTopicRef(value: unknown): value is TopicRef {
  return isRef(value, 'topic');
}

/** True for a value made by `fn()` (or shaped like one). */
export function isFunctionRef(value: unknown): value is FunctionRef {
  return isRef(value, 'function');
}

function isRef(value: unknown, kind: string): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === kind &&
    typeof (value as { name?: unknown }).name === 'string'
  );
}

/** The topic name of a reference or a string, checked (throws an Error naming the problem). */
export function topicNameOf(topic: TopicRef | string): string {
  const name = typeof topic === 'string' ? topic : isTopicRef(topic) ? topic.name : undefined;
  if (name === undefined)
    throw new TypeError(`expected a topic name or a topic() reference, got ${describeValue(topic)}`);
  assertTopicName(name);
  return name;
}

/** The function name of a reference or a string, checked (throws an Error naming the problem). */
export function functionNameOf(target: FunctionRef | string): string {
  const name = typeof target === 'string' ? target : isFunctionRef(target) ? target.name : undefined;
  if (name === undefined)
    throw new TypeError(`expected a function name or a fn() reference, got ${describeValue(target)}`);
  const problem = functionNameProblem(name);
  if (problem !== undefined) throw new Error(problem);
  return name;
}

/** Why `name` cannot be a function's name (the rules of the function constructs), or undefined. */
export function functionNameProblem(name: string): string | undefined {
  if (!isFunctionName(name)) return `invalid function name '${name}': ${FUNCTION_NAME_HINT}`;
  if (name.startsWith(RESERVED_NAME_PREFIX))
    return `invalid function name '${name}': the prefix '${RESERVED_NAME_PREFIX}' is reserved for the platform's components`;
  return undefined;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object with kind ${JSON.stringify((value as { kind?: unknown }).kind)}`;
  return typeof value;
}

/**
 * Request header of a function-to-function call (`context.invoke`): the caller's remaining time in
 * milliseconds. The callee's runtime answers 504 and aborts its `context.signal` after
 * min(its own timeout, this), and its `context.deadline` says so. The router drops it from client
 * requests: only an in-cluster caller sets it.
 */
export const INVOKE_TIMEOUT_HEADER = 'x-kubefaas-timeout-ms';

/**
 * `Env.INVOKE_TARGETS` (JSON): the functions this function declared in `invokes`, name → base URL of
 * the function's Service (`http://pricer.faas.svc.cluster.local:80`). `context.invoke` calls only
 * these; the local runner rewrites the URLs to the local processes like every other Service address.
 */
export type InvokeTargets = Readonly<Record<string, string>>;

/** Parses `Env.INVOKE_TARGETS`; a string describing the problem when it is not a name → http(s) URL object. */
export function readInvokeTargets(json: string): InvokeTargets | string {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'must be a JSON object of function name → URL';
  const targets: Record<string, string> = Object.create(null);
  for (const [name, url] of Object.entries(value)) {
    if (!isFunctionName(name)) return `'${name}' is not a function name`;
    if (typeof url !== 'string' || !/^https?:\/\/[^/?#]+$/.test(url))
      return `the URL of '${name}' must be http(s)://host[:port], got ${JSON.stringify(url)}`;
    targets[name] = url;
  }
  return targets;
}

/** Options of one `context.invoke`. */
export interface InvokeOptions {
  /**
   * HTTP method of the call. GET, HEAD and DELETE send no body (the input must be undefined).
   * @default 'POST'
   */
  readonly method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query the callee sees (`event.path`, `event.query`). @default '/' */
  readonly path?: string;
  /** Extra request headers. @default none */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Whether the call may be repeated: only then is it retried when the callee is unreachable or
   * answers 502/503 (at most 3 attempts, within the caller's deadline).
   * @default true for GET, HEAD, PUT and DELETE (idempotent by HTTP's definition), false otherwise
   */
  readonly idempotent?: boolean;
  /**
   * Longest wait for this call; it never outlives the caller's own deadline, which the callee is told.
   * @default the caller's remaining time
   */
  readonly timeoutMs?: number;
}

/** Options of one `context.invokeAsync`. */
export interface InvokeAsyncOptions {
  /**
   * Idempotency key: a second call with the same key to the same function returns the first call's
   * id and queues nothing (as `Idempotency-Key` on `POST /async-function/<name>`).
   * @default none: every call is a new one
   */
  readonly idempotencyKey?: string;
}

const INVOKE_ERROR = Symbol.for('kubefaas.InvokeError');

/**
 * A `context.invoke` that did not get a 2xx answer: the callee's status and body (JSON parsed, else
 * text), or 502 when it could not be reached and 504 when the deadline passed. `instanceof` works
 * across bundles (a handler's copy of kubefaas/refs and the runtime's), by a registered symbol.
 */
export class InvokeError extends Error {
  override readonly name = 'InvokeError';

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[INVOKE_ERROR] === true;
  }

  constructor(
    /** The function that was called. */
    readonly functionName: string,
    /** The callee's HTTP status; 502 = unreachable, 504 = the deadline passed. */
    readonly status: number,
    /** The callee's answer: parsed JSON, text, or undefined when there was none. */
    readonly body: unknown,
    message: string,
    /** The callee's `x-request-id`, to find its log lines. */
    readonly requestId?: string,
  ) {
    super(message);
    Object.defineProperty(this, INVOKE_ERROR, { value: true });
  }
}
