/**
 * The handler contract (ARCHITECTURE §4): what a function receives and may return. Implemented by
 * the runtime; exported from the package root so handlers can be typed:
 * `import type { Handler } from 'kubefaas'`.
 */
import type { AuthInfo } from './policies';
import type { FunctionRef, InvokeAsyncOptions, InvokeOptions, TopicRef } from './refs';

/** A CloudEvents 1.0-shaped event with the HTTP request (or message) that caused it. */
export interface FunctionEvent {
  /** CloudEvents `id`: the request id (or message id for queue deliveries). */
  readonly id: string;
  /** CloudEvents `source`, e.g. `/kubefaas/http/hello`. */
  readonly source: string;
  /** CloudEvents `type`, e.g. `dev.kubefaas.http.request`. */
  readonly type: string;
  /** CloudEvents `time` (RFC 3339). */
  readonly time: string;
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query: Readonly<Record<string, string | string[]>>;
  /** Path parameters matched by the router (`/users/:id` → `{ id }`), when routed by path. */
  readonly params: Readonly<Record<string, string>>;
  /**
   * Who the router's auth policy verified (API key id, basic user, JWT subject and claims);
   * undefined when the route has no auth. Set only by the router (`x-kubefaas-auth`).
   */
  readonly auth?: AuthInfo;
  /** Raw body (empty Buffer when there is none). */
  readonly body: Buffer;
  /** Body decoded as UTF-8. */
  text(): string;
  /** Body parsed as JSON; throws a 400-mapped error when it is not JSON. */
  json<T = unknown>(): T;
}

export interface FunctionLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface FunctionContext {
  readonly functionName: string;
  readonly requestId: string;
  /** Epoch milliseconds after which the runtime gives up on this invocation (504). */
  readonly deadline: number;
  /** Aborted when the invocation times out or the client goes away. Created on first access. */
  readonly signal: AbortSignal;
  /** One-line JSON logger that carries the request id. */
  readonly log: FunctionLogger;
  /**
   * Publishes a message to a queue topic (needs the platform queue); resolves once the stream stored
   * it. With a `topic<T>()` reference the data must be a `T` (checked at compile time).
   */
  publish<T>(topic: TopicRef<T>, data: NoInfer<T>): Promise<void>;
  publish(topic: string, data: unknown): Promise<void>;
  /**
   * Calls another function synchronously, straight to its Service (not through the router), and
   * resolves with its answer: parsed JSON, text, bytes, or undefined for an empty one. The callee
   * is told the caller's remaining time (it times out no later), the trace continues, and only
   * idempotent calls are retried. A non-2xx answer rejects with an `InvokeError` carrying the
   * callee's status and body. The target must be declared in the function's `invokes`.
   */
  invoke<Out>(target: FunctionRef<void, Out>, input?: undefined, options?: InvokeOptions): Promise<Out>;
  invoke<In, Out>(target: FunctionRef<In, Out>, input: NoInfer<In>, options?: InvokeOptions): Promise<Out>;
  invoke(target: string, input?: unknown, options?: InvokeOptions): Promise<unknown>;
  /**
   * Queues an asynchronous call of another function (as `POST /async-function/<name>` does) and
   * resolves with its call id once the queue stored it; its state is at
   * `GET /async-function/<name>/<call id>`. Needs the platform queue and the target in `invokes`.
   */
  invokeAsync(target: FunctionRef<void, unknown>, input?: undefined, options?: InvokeAsyncOptions): Promise<string>;
  invokeAsync<In>(target: FunctionRef<In, unknown>, input: NoInfer<In>, options?: InvokeAsyncOptions): Promise<string>;
  invokeAsync(target: string, input?: unknown, options?: InvokeAsyncOptions): Promise<string>;
}

/**
 * string | Buffer → 200; plain object/array → 200 JSON; a Fetch API `Response` → sent as is
 * (status, headers, body); undefined → 204. Throwing → 500 with a JSON error.
 */
export type HandlerResult = string | Buffer | Uint8Array | object | null | undefined | Response;

export type Handler = (event: FunctionEvent, context: FunctionContext) => HandlerResult | Promise<HandlerResult>;
