import { ASYNC_FUNCTION_PATH_PREFIX, HTTP_METHODS } from '../contract';
import type { Downstream } from './downstream';
import { type InboundHeaders, hostWithoutPort, upstreamHeaders } from './forwarded-headers';
import { ProxyExchange } from './proxy';
import { errorBody } from './responses';
import { isOwnEndpoint, type Listener, type RouteMatch, type RouteMatcher } from './route-matcher';
import type { Refusal, Verdict } from './policies/verdict';
import type { RouterState } from './state';

const KNOWN_METHODS: ReadonlySet<string> = new Set(HTTP_METHODS);

/** A request on its way to a function, however it was parsed. */
export interface RoutableRequest {
  readonly method: string;
  /** Origin-form target (`/path?query`). */
  readonly url: string;
  /** As received (the async endpoint keeps them for the function). */
  readonly rawHeaders: readonly string[];
  readonly inbound: InboundHeaders;
  readonly requestId: string;
  /** `performance.now()` when the request arrived. */
  readonly receivedAt: number;
  readonly clientAddress: string | undefined;
  /**
   * The listener it came in on: `public` serves declared routes and opted-in by-name/async calls
   * under the router's policies; `admin` (internal callers) every function, without policies.
   */
  readonly listener: Listener;
}

/** True when the router cannot route yet: the raw fast path hands the request to node:http (503). */
export function servedByNodePathOnly(state: RouterState): boolean {
  return state.matcher === undefined;
}

/**
 * Serves a request for a function: an async call (`/async-function/…`, when the platform has a
 * queue), or a match and a proxied request, or 404 / 405. Returns false when it answered without
 * using the body (a streamed body, if any, was not read).
 */
export function routeRequest(
  state: RouterState,
  matcher: RouteMatcher,
  request: RoutableRequest,
  client: Downstream,
): boolean {
  const asyncCalls = state.asyncCalls;
  if (asyncCalls !== undefined && request.url.startsWith(ASYNC_FUNCTION_PATH_PREFIX)) {
    // The admin listener's callers are internal (cron, `kubefaas invoke`): no policies there.
    if (request.listener === 'admin') {
      callAsync(state, asyncCalls, matcher, request, client);
      return true;
    }
    // Async calls are under the platform's policies (-1), like `/function/<name>`.
    const verdict = state.policies?.check(-1, request);
    if (verdict instanceof Promise) {
      verdict.then(
        (v) =>
          v.granted
            ? callAsync(state, asyncCalls, matcher, request, client)
            : refuseAndDrain(state, request, client, v),
        (err: Error) => refuseAndDrain(state, request, client, policyCheckFailed(err)),
      );
      return true;
    }
    if (verdict !== undefined && !verdict.granted) {
      refuse(state, request, client, verdict);
      return false;
    }
    callAsync(state, asyncCalls, matcher, request, client);
    return true;
  }
  if (request.listener === 'public' && isOwnEndpoint(request.url)) {
    const { method, url, requestId, receivedAt } = request;
    rejectRequest(state, client, method, url, requestId, receivedAt, 404, `no route for ${method} ${pathOf(url)}`);
    return false;
  }
  return proxyRequest(state, matcher, request, client);
}

function callAsync(
  state: RouterState,
  asyncCalls: NonNullable<RouterState['asyncCalls']>,
  matcher: RouteMatcher,
  request: RoutableRequest,
  client: Downstream,
): void {
  {
    const { method, url, requestId, receivedAt } = request;
    const traceparent = state.traceparents.keepOrCreate(request.inbound.traceparent);
    asyncCalls
      .handle({ method, url, rawHeaders: request.rawHeaders, body: client.body }, client, {
        requestId,
        traceparent,
        closeConnection: state.draining,
        hasFunction: (name) => matcher.acceptsAsync(name, request.listener),
        maxBodyBytes: (name) => matcher.maxBodyBytes(name),
        callbacks: state.callbacks,
      })
      .then(
        (status) =>
          state.accessLog.record({
            requestId,
            method,
            url,
            status,
            fn: '',
            durationMs: performance.now() - receivedAt,
          }),
        (err: Error) =>
          rejectRequest(state, client, method, url, requestId, receivedAt, 500, `async call failed: ${err.message}`),
      );
  }
}

/** Matches a request and proxies it to its function, or answers 404 / 405 (then returns false). */
function proxyRequest(
  state: RouterState,
  matcher: RouteMatcher,
  request: RoutableRequest,
  client: Downstream,
): boolean {
  const { method, url, inbound, requestId, receivedAt, listener } = request;
  const host = hostWithoutPort(inbound.host);
  const match = matcher.match(method, url, host, listener);
  if (match === null) {
    const path = pathOf(url);
    const allow = matcher.allowedMethods(url, host, listener);
    if (allow.length === 0) {
      rejectRequest(state, client, method, url, requestId, receivedAt, 404, `no route for ${method} ${path}`);
    } else {
      rejectRequest(
        state,
        client,
        method,
        url,
        requestId,
        receivedAt,
        405,
        `method ${method} not allowed for ${path}`,
        ['allow', allow.join(', ')],
      );
    }
    return false;
  }
  // --- body limit (issue 15 item 2): a Content-Length over the function's limit is refused before
  // anything is forwarded. The connection stays open: the fast path has read the (small) body
  // already, and node:http reads and discards the rest of a large one after the answer. Closing
  // instead would leave unread bytes in the socket, which the kernel answers with a reset that
  // often destroys the 413 before the client reads it.
  if (inbound.contentLength > match.entry.upstream.maxBodyBytes) {
    const limit = match.entry.upstream.maxBodyBytes;
    rejectRequest(
      state,
      client,
      method,
      url,
      requestId,
      receivedAt,
      413,
      `request body exceeds the function's limit of ${limit} bytes`,
    );
    return false;
  }
  // --- end body limit
  // Router policies (auth, rate limits): one step, skipped when the table has none, and on the
  // admin listener, whose callers are internal (never exposed; docs/security.md).
  const policies = listener === 'admin' ? undefined : state.policies;
  if (policies !== undefined) {
    const verdict = policies.check(match.entry.routeIndex, request);
    if (verdict instanceof Promise) {
      verdict.then(
        (v) => applyVerdict(state, request, client, match, v),
        (err: Error) => refuseAndDrain(state, request, client, policyCheckFailed(err)),
      );
      return true;
    }
    if (!verdict.granted) {
      refuse(state, request, client, verdict);
      return false;
    }
    forward(state, request, client, match, verdict.authHeader, verdict.responseHeaders);
    return true;
  }
  forward(state, request, client, match, undefined, undefined);
  return true;
}

/** After a policy check that had to wait (bcrypt, JWKS): forward, or refuse and drain the body. */
function applyVerdict(
  state: RouterState,
  request: RoutableRequest,
  client: Downstream,
  match: RouteMatch,
  verdict: Verdict,
): void {
  if (client.clientGone) return;
  if (verdict.granted) {
    forward(state, request, client, match, verdict.authHeader, verdict.responseHeaders);
    return;
  }
  refuseAndDrain(state, request, client, verdict);
}

/** Refuses after the body was left unread: drain it so the connection can be reused. */
function refuseAndDrain(
  state: RouterState,
  request: RoutableRequest,
  client: Downstream,
  verdict: Verdict & { granted: false },
): void {
  if (client.clientGone) return;
  refuse(state, request, client, verdict);
  const body = client.body;
  if (body !== null && !Buffer.isBuffer(body)) body.resume();
}

function refuse(
  state: RouterState,
  request: RoutableRequest,
  client: Downstream,
  verdict: Verdict & { granted: false },
): void {
  rejectRequest(
    state,
    client,
    request.method,
    request.url,
    request.requestId,
    request.receivedAt,
    verdict.status,
    verdict.message,
    verdict.headers,
  );
}

function forward(
  state: RouterState,
  request: RoutableRequest,
  client: Downstream,
  match: RouteMatch,
  auth: string | undefined,
  responseHeaders: readonly string[] | undefined,
): void {
  const { method, url, inbound, requestId, receivedAt } = request;
  const headers = upstreamHeaders(inbound, {
    requestId,
    traceparent: state.traceparents.keepOrCreate(inbound.traceparent),
    clientAddress: request.clientAddress,
    functionName: match.entry.upstream.name,
    params: match.params,
    auth,
  });
  const methodLabel = KNOWN_METHODS.has(method) ? method : 'OTHER';
  new ProxyExchange(
    { method, url, client, match, methodLabel, headers, requestId, receivedAt, responseHeaders },
    state,
  ).start();
}

/** Answers a request the router cannot route with a JSON error, and counts and logs it. */
export function rejectRequest(
  state: RouterState,
  client: Downstream,
  method: string,
  url: string,
  requestId: string,
  receivedAt: number,
  status: number,
  message: string,
  extra?: readonly string[],
  closeConnection = state.draining,
): void {
  client.sendJson(status, errorBody(message), requestId, closeConnection, extra);
  state.unmatched.inc(KNOWN_METHODS.has(method) ? method : 'OTHER', status);
  state.accessLog.record({ requestId, method, url, status, fn: '', durationMs: performance.now() - receivedAt });
}

export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The answer when a policy check that had to wait (bcrypt, JWKS) threw: a 500, the body drained. */
function policyCheckFailed(err: Error): Refusal {
  return { granted: false, status: 500, message: `policy check failed: ${err.message}`, headers: [] };
}
