import type { ServerResponse } from 'node:http';
import { JsonLogger, LogSink, jsonFragment } from './log';
import {
  functionNameOf,
  topicNameOf,
  type FunctionContext,
  type FunctionLogger,
  type FunctionRef,
  type InvokeAsyncOptions,
  type InvokeOptions,
  type TopicRef,
} from '../contract';
import type { Caller, FunctionCalls } from './invoke';

/** What `context.publish()` does; the platform queue plugs in here. `traceId` continues the caller's trace. */
export type Publisher = (topic: string, data: unknown, traceId?: string) => Promise<void>;

/** Used when the platform has no queue: fail loudly rather than drop the message. */
export const noQueuePublisher: Publisher = (topic) =>
  Promise.reject(
    new Error(
      `context.publish('${topic}'): no queue configured for this platform; add a queue to the Platform to publish messages`,
    ),
  );

/** Used when the function declares no `invokes`: every call names the declaration to add. */
export const noCalls: FunctionCalls = {
  invoke: (target, _input, _options, caller) => Promise.reject(undeclared('invoke', target, caller.functionName)),
  invokeAsync: (target, _input, _options, caller) =>
    Promise.reject(undeclared('invokeAsync', target, caller.functionName)),
};

function undeclared(method: string, target: string, functionName: string): Error {
  return new Error(
    `context.${method}('${target}'): function '${functionName}' does not declare it; add it to the function's \`invokes\` (e.g. invokes: [fn('${target}')])`,
  );
}

/** Why an invocation's signal was aborted; also its `reason`. */
export class InvocationAbortedError extends Error {
  override readonly name = 'AbortError';

  constructor(message: string) {
    // No stack: it would show the runtime's internals only, and until formatted V8 keeps every
    // captured frame's receiver alive — here the timed-out invocation with its request and response —
    // as long as the error lives, which for a handler that never settles (it holds the signal, the
    // signal its reason) is forever.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

/**
 * The context of one invocation. The AbortController and the logger are created on first access:
 * most handlers use neither, and an AbortController per request is a measurable cost.
 */
export class InvocationContext implements FunctionContext {
  readonly #sink: LogSink;
  #res: ServerResponse | undefined;
  readonly #traceId: string | undefined;
  readonly #publish: Publisher;
  readonly #calls: FunctionCalls;
  #controller?: AbortController;
  #abortReason?: InvocationAbortedError;
  #log?: FunctionLogger;

  constructor(
    readonly functionName: string,
    readonly requestId: string,
    readonly deadline: number,
    sink: LogSink,
    publish: Publisher,
    traceId: string | undefined,
    res: ServerResponse | undefined,
    calls: FunctionCalls = noCalls,
  ) {
    this.#sink = sink;
    this.#publish = publish;
    this.#calls = calls;
    this.#traceId = traceId;
    this.#res = res;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortReason) {
        this.#controller.abort(this.#abortReason);
      } else if (this.#res) {
        // Only now is it worth watching for the client going away.
        const res = this.#res;
        res.once('close', () => {
          if (!res.writableFinished) this.abort('client disconnected');
        });
      }
    }
    return this.#controller.signal;
  }

  get log(): FunctionLogger {
    if (!this.#log) {
      this.#log = new JsonLogger(
        this.#sink,
        jsonFragment({ function: this.functionName, requestId: this.requestId, traceId: this.#traceId }),
      );
    }
    return this.#log;
  }

  publish<T>(topic: TopicRef<T>, data: NoInfer<T>): Promise<void>;
  publish(topic: string, data: unknown): Promise<void>;
  async publish(topic: TopicRef | string, data: unknown): Promise<void> {
    // A reference travels as its name; a bad one is refused here, naming what was passed.
    return this.#publish(typeof topic === 'string' ? topic : topicNameOf(topic), data, this.#traceId);
  }

  invoke<Out>(target: FunctionRef<void, Out>, input?: undefined, options?: InvokeOptions): Promise<Out>;
  invoke<In, Out>(target: FunctionRef<In, Out>, input: NoInfer<In>, options?: InvokeOptions): Promise<Out>;
  invoke(target: string, input?: unknown, options?: InvokeOptions): Promise<unknown>;
  async invoke(target: FunctionRef | string, input?: unknown, options?: InvokeOptions): Promise<unknown> {
    return this.#calls.invoke(functionNameOf(target), input, options, this.caller());
  }

  invokeAsync(target: FunctionRef<void, unknown>, input?: undefined, options?: InvokeAsyncOptions): Promise<string>;
  invokeAsync<In>(target: FunctionRef<In, unknown>, input: NoInfer<In>, options?: InvokeAsyncOptions): Promise<string>;
  invokeAsync(target: string, input?: unknown, options?: InvokeAsyncOptions): Promise<string>;
  async invokeAsync(target: FunctionRef | string, input?: unknown, options?: InvokeAsyncOptions): Promise<string> {
    return this.#calls.invokeAsync(functionNameOf(target), input, options, this.caller());
  }

  private caller(): Caller {
    // The signal (made now if the handler has not asked for it) aborts a call when the invocation
    // times out or its client goes away.
    return { functionName: this.functionName, deadline: this.deadline, traceId: this.#traceId, signal: this.signal };
  }

  /** After a timeout (the response is sent): no more reference to the response, nor through it to the request. */
  releaseResponse(): void {
    this.#res = undefined;
  }

  /** Aborts the signal (now, or at creation if the handler has not asked for it yet). Idempotent. */
  abort(why: string): void {
    if (this.#abortReason) return;
    this.#abortReason = new InvocationAbortedError(`invocation ${this.requestId} aborted: ${why}`);
    this.#controller?.abort(this.#abortReason);
  }
}
