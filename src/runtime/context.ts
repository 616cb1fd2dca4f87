import type { ServerResponse } from 'node:http';
import { JsonLogger, LogSink, jsonFragment } from './log';
import type { FunctionContext, FunctionLogger } from '../contract';

/** What `context.publish()` does; the platform queue plugs in here. `traceId` continues the caller's trace. */
export type Publisher = (topic: string, data: unknown, traceId?: string) => Promise<void>;

/** Used when the platform has no queue: fail loudly rather than drop the message. */
export const noQueuePublisher: Publisher = (topic) =>
  Promise.reject(
    new Error(
      `context.publish('${topic}'): no queue configured for this platform; add a queue to the Platform to publish messages`,
    ),
  );

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
  ) {
    this.#sink = sink;
    this.#publish = publish;
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

  publish(topic: string, data: unknown): Promise<void> {
    return this.#publish(topic, data, this.#traceId);
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
