import type {
  CronTick,
  FunctionContext,
  FunctionEvent,
  FunctionRef,
  Handler,
  HandlerResult,
  TopicRef,
} from '../contract';

/** Compile-time only: the `data` type of a cron source (never set at run time). */
declare const cronData: unique symbol;

/** What an HTTP-triggered handler serves: the request itself (`defineHandler(http(), (event, ctx) => …)`). */
export interface HttpSource {
  readonly kind: 'http';
}

/** What a cron-triggered handler receives: the tick, whose `data` is the CronTrigger's `data` (`Data`). */
export interface CronSource<Data = unknown> {
  readonly kind: 'cron';
  /** Phantom (compile time only): carries `Data`, never present. */
  readonly [cronData]?: Data;
}

/** The event of a call of a function reference: `callId` is set when the call came asynchronously. */
export type CallEvent = FunctionEvent & {
  /** The async call's id (`context.invokeAsync`, `POST /async-function/<name>`); undefined for a sync call. */
  readonly callId?: string;
};

/** Anything `defineHandler` can type a handler by. */
export type HandlerSource = TopicRef<any> | FunctionRef<any, any> | CronSource<any> | HttpSource; // eslint-disable-line @typescript-eslint/no-explicit-any

type Result<T> = T | Promise<T>;

/** The handler `defineHandler(source, …)` takes, by the kind of its source. */
export type TypedHandler<S extends HandlerSource> =
  S extends TopicRef<infer T>
    ? (message: T, context: FunctionContext, event: FunctionEvent) => Result<HandlerResult>
    : S extends FunctionRef<infer In, infer Out>
      ? (input: In, context: FunctionContext, event: CallEvent) => Result<Out>
      : S extends CronSource<infer Data>
        ? (tick: CronTick<Data>, context: FunctionContext, event: FunctionEvent) => Result<HandlerResult>
        : (event: FunctionEvent, context: FunctionContext) => Result<HandlerResult>;

/** The HTTP request as it is (method, path, headers, body): `defineHandler(http(), (event, ctx) => …)`. */
export function http(): HttpSource {
  return HTTP;
}

/** A cron tick whose `data` is a `Data`: `defineHandler(cron<{ report: string }>(), (tick, ctx) => …)`. */
export function cron<Data = unknown>(): CronSource<Data> {
  return CRON as CronSource<Data>;
}

const HTTP: HttpSource = Object.freeze({ kind: 'http' });
const CRON: CronSource = Object.freeze({ kind: 'cron' });

/**
 * A handler typed by what triggers it, as the function's default export:
 *
 * - a topic reference → `(message: T, context, event)`: the message's payload, decoded;
 * - a function reference → `(input: In, context, event) => Out`: the call's body decoded (sync calls
 *   from `context.invoke` or `/function/<name>`, async ones from `invokeAsync` or `/async-function/<name>`),
 *   and the answer checked against `Out`;
 * - `cron<Data>()` → `(tick: CronTick<Data>, context, event)`;
 * - `http()` → `(event, context)`, the plain handler.
 *
 * A payload is decoded by its content type: `application/octet-stream` stays a Buffer, `text/*` is a
 * string, anything else is parsed as JSON (a body that is not JSON answers 400, and on a queue is
 * not retried); an empty body is undefined. The types are the compiler's: nothing checks the
 * decoded value at run time.
 */
export function defineHandler<S extends HandlerSource>(source: S, handler: TypedHandler<S>): Handler {
  const kind = (source as { kind?: unknown } | null)?.kind;
  if (typeof handler !== 'function')
    throw new TypeError('defineHandler(source, handler): the handler must be a function');
  const run = handler as (...args: unknown[]) => Result<HandlerResult>;
  switch (kind) {
    case 'topic':
    case 'function':
      return (event, context) => run(payloadOf(event), context, event);
    case 'cron':
      return (event, context) => run(event.body.length > 0 ? event.json() : {}, context, event);
    case 'http':
      return (event, context) => run(event, context);
    default:
      throw new TypeError(
        'defineHandler(source, handler): the source must be a topic() or fn() reference, http() or cron()',
      );
  }
}

/** The payload of a message or call, by its content type (see defineHandler). */
function payloadOf(event: FunctionEvent): unknown {
  if (event.body.length === 0) return undefined;
  const header = event.headers['content-type'];
  const type = (typeof header === 'string' ? header : '').toLowerCase();
  if (type.startsWith('application/octet-stream')) return event.body;
  if (type.startsWith('text/')) return event.text();
  return event.json();
}
