import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import {
  Headers,
  INVOKE_TIMEOUT_HEADER,
  InvokeError,
  type InvokeAsyncOptions,
  type InvokeOptions,
  type InvokeTargets,
} from '../contract';
import { encodeData } from '../shared/payload';

/** What a call needs to know of the invocation that makes it. */
export interface Caller {
  readonly functionName: string;
  /** Epoch ms of the caller's own deadline: no call outlives it, and the callee is told the rest. */
  readonly deadline: number;
  /** The caller's trace, continued by the call (a new one when it has none). */
  readonly traceId: string | undefined;
  /** The caller's abort signal (timeout, client gone): aborts the call too. */
  readonly signal?: AbortSignal;
}

/** The async request `invokeAsync` hands to the queue (the shape `POST /async-function/<name>` stores). */
export interface QueuedCall {
  readonly method: 'POST';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
  readonly idempotencyKey?: string;
  readonly traceparent: string;
}

/** Stores an async call durably and resolves with its call id (the runtime's queue connection). */
export type CallEnqueuer = (functionName: string, call: QueuedCall) => Promise<string>;

/** `context.invoke` and `context.invokeAsync`, for every invocation of one runtime process. */
export interface FunctionCalls {
  invoke(target: string, input: unknown, options: InvokeOptions | undefined, caller: Caller): Promise<unknown>;
  invokeAsync(target: string, input: unknown, options: InvokeAsyncOptions | undefined, caller: Caller): Promise<string>;
}

/** At most this many attempts of an idempotent call (the first and two retries). */
const MAX_ATTEMPTS = 3;
/** Pause before the first retry, doubled before the next. */
const FIRST_BACKOFF_MS = 50;
/** Methods HTTP defines as idempotent: retried by default. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
/** Methods that carry no body here. */
const BODILESS = new Set(['GET', 'HEAD', 'DELETE']);
/** Statuses that mean "not served, try again" (a gateway in between, or a replica going away). */
const RETRYABLE_STATUS = new Set([502, 503]);

/**
 * Synchronous calls straight to the target's Service URL (from `Env.INVOKE_TARGETS`), over keep-alive
 * connections; async calls through the queue. The router is not on either path: it is the public
 * front door, with its policies and limits for clients, and a hop a call inside the platform does not need.
 */
export class HttpFunctionCalls implements FunctionCalls {
  private readonly agents = {
    // Idle sockets close before the callee's keep-alive timeout (node's default, 5 s) would close
    // them, so a call is never written to a connection the server is closing.
    http: new http.Agent({ keepAlive: true, timeout: 4_000, scheduling: 'lifo' }),
    https: new https.Agent({ keepAlive: true, timeout: 4_000, scheduling: 'lifo' }),
  };

  constructor(
    private readonly targets: InvokeTargets,
    private readonly enqueue?: CallEnqueuer,
  ) {}

  async invoke(target: string, input: unknown, options: InvokeOptions = {}, caller: Caller): Promise<unknown> {
    const base = this.targetUrl('invoke', target, caller);
    const method = options.method ?? 'POST';
    if (BODILESS.has(method) && input !== undefined)
      throw new TypeError(`context.invoke('${target}'): a ${method} call carries no body; pass undefined as the input`);
    const path = options.path ?? '/';
    if (!path.startsWith('/')) throw new TypeError(`context.invoke('${target}'): path must start with '/'`);
    const idempotent = options.idempotent ?? IDEMPOTENT.has(method);
    const payload = BODILESS.has(method) ? undefined : encodeData(input);
    const deadline =
      options.timeoutMs === undefined ? caller.deadline : Math.min(caller.deadline, Date.now() + options.timeoutMs);
    const traceparent = childTraceparent(caller.traceId);

    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw timedOut(target, caller, attempt);
      const headers: Record<string, string> = {
        ...options.headers,
        [Headers.traceparent]: traceparent,
        [INVOKE_TIMEOUT_HEADER]: String(Math.ceil(remaining)),
      };
      if (payload) {
        headers['content-type'] = options.headers?.['content-type'] ?? payload.contentType;
        headers['content-length'] = String(payload.bytes.length);
      }
      let answer: Answer;
      try {
        // Appended, not resolved against the base: `//other.host/x` must stay a path on the callee.
        answer = await this.send(new URL(base + path), method, headers, payload?.bytes, remaining, caller.signal);
      } catch (err) {
        if (err === TIMED_OUT) throw timedOut(target, caller, attempt);
        if (caller.signal?.aborted) throw caller.signal.reason;
        // A header value node refuses: the caller's mistake, not the callee's state.
        if (err instanceof TypeError) throw err;
        if (idempotent && (await this.pauseBeforeRetry(attempt, deadline))) continue;
        const e = new InvokeError(
          target,
          502,
          undefined,
          `context.invoke('${target}'): unreachable (${(err as Error).message})${tries(attempt)}`,
        );
        (e as { cause?: unknown }).cause = err;
        throw e;
      }
      if (answer.status >= 200 && answer.status < 300) return decodeAnswer(target, answer);
      if (RETRYABLE_STATUS.has(answer.status) && idempotent && (await this.pauseBeforeRetry(attempt, deadline)))
        continue;
      const body = decodeLoosely(answer);
      throw new InvokeError(
        target,
        answer.status,
        body,
        `context.invoke('${target}'): answered ${answer.status}${errorText(body)}${tries(attempt)}`,
        answer.requestId,
      );
    }
  }

  async invokeAsync(target: string, input: unknown, options: InvokeAsyncOptions = {}, caller: Caller): Promise<string> {
    this.targetUrl('invokeAsync', target, caller);
    if (!this.enqueue)
      throw new Error(
        `context.invokeAsync('${target}'): the platform has no queue; give it one (Platform props \`queue: Queue.nats()\`) or use context.invoke`,
      );
    const { bytes, contentType } = encodeData(input);
    return this.enqueue(target, {
      method: 'POST',
      path: '/',
      headers: { 'content-type': contentType },
      body: bytes,
      ...(options.idempotencyKey !== undefined ? { idempotencyKey: options.idempotencyKey } : {}),
      traceparent: childTraceparent(caller.traceId),
    });
  }

  /** Closes the idle keep-alive connections (shutdown). */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private targetUrl(method: string, target: string, caller: Caller): string {
    const url = Object.prototype.hasOwnProperty.call(this.targets, target) ? this.targets[target] : undefined;
    if (url === undefined)
      throw new Error(
        `context.${method}('${target}'): function '${caller.functionName}' does not declare it; add it to the function's \`invokes\` (e.g. invokes: [fn('${target}')])`,
      );
    return url;
  }

  /** Waits before the next attempt; false when there is none (the last attempt, or no time left for one). */
  private async pauseBeforeRetry(attempt: number, deadline: number): Promise<boolean> {
    if (attempt >= MAX_ATTEMPTS) return false;
    const pause = FIRST_BACKOFF_MS * 2 ** (attempt - 1);
    if (Date.now() + pause >= deadline) return false;
    await new Promise((r) => setTimeout(r, pause));
    return true;
  }

  private send(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Answer> {
    const secure = url.protocol === 'https:';
    return new Promise<Answer>((resolve, reject) => {
      const req = (secure ? https : http).request(
        url,
        { method, headers, agent: secure ? this.agents.https : this.agents.http, signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            clearTimeout(timer);
            const id = res.headers[Headers.requestId];
            resolve({
              status: res.statusCode ?? 0,
              contentType: res.headers['content-type'],
              body: Buffer.concat(chunks),
              requestId: typeof id === 'string' ? id : undefined,
            });
          });
          res.on('error', fail);
          res.on('close', () => {
            if (!res.complete) fail(new Error('the connection closed before the whole answer arrived'));
          });
        },
      );
      const timer = setTimeout(() => req.destroy(TIMED_OUT), timeoutMs);
      function fail(err: Error): void {
        clearTimeout(timer);
        reject(err);
      }
      req.on('error', fail);
      req.end(body);
    });
  }
}

/** A response, read whole. */
interface Answer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
  readonly requestId: string | undefined;
}

/** The reason a call is destroyed with when its time is up (compared by identity). */
const TIMED_OUT = new Error('deadline passed');

function timedOut(target: string, caller: Caller, attempt: number): InvokeError {
  return new InvokeError(
    target,
    504,
    undefined,
    `context.invoke('${target}'): no answer within the time left to '${caller.functionName}'${tries(attempt)}`,
  );
}

function tries(attempt: number): string {
  return attempt > 1 ? ` (after ${attempt} attempts)` : '';
}

/** A 2xx answer as the caller gets it: JSON parsed, text as a string, other bytes as a Buffer, nothing as undefined. */
function decodeAnswer(target: string, answer: Answer): unknown {
  if (answer.body.length === 0) return undefined;
  const type = (answer.contentType ?? '').toLowerCase();
  if (isJson(type)) {
    try {
      return JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw new InvokeError(
        target,
        502,
        answer.body.toString('utf8'),
        `context.invoke('${target}'): the answer says JSON but is not`,
        answer.requestId,
      );
    }
  }
  if (type.startsWith('text/')) return answer.body.toString('utf8');
  return answer.body;
}

/** An error answer's body: JSON when it parses, else text; undefined when empty. */
function decodeLoosely(answer: Answer): unknown {
  if (answer.body.length === 0) return undefined;
  const text = answer.body.toString('utf8');
  if (isJson((answer.contentType ?? '').toLowerCase())) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function isJson(type: string): boolean {
  return type.startsWith('application/json') || /^[a-z]+\/[^;]*\+json/.test(type);
}

/** The kubefaas error shape (`{ "error": "…" }`) or a short text, for the message. */
function errorText(body: unknown): string {
  const message =
    typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string'
      ? (body as { error: string }).error
      : typeof body === 'string'
        ? body
        : undefined;
  return message === undefined ? '' : `: ${message.length > 200 ? `${message.slice(0, 200)}…` : message}`;
}

/** W3C trace context of a call: the caller's trace (or a new one) with a new span. */
function childTraceparent(traceId: string | undefined): string {
  return `00-${traceId ?? randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}
