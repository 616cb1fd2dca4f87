import { ASYNC_FUNCTION_PATH_PREFIX, Endpoints, HTTP_METHODS } from '../contract';
import type { Downstream } from './downstream';
import { type InboundHeaders, hostWithoutPort, upstreamHeaders } from './forwarded-headers';
import { ProxyExchange } from './proxy';
import { errorBody } from './responses';
import type { RouteMatcher } from './route-matcher';
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
}

/**
 * True when only the node:http path serves `url` (the router's own endpoints) or the router cannot
 * route yet: the raw fast path hands such requests over.
 */
export function servedByNodePathOnly(state: RouterState, url: string): boolean {
  if (state.matcher === undefined) return true;
  const path = pathOf(url);
  return path === Endpoints.health || path === Endpoints.ready || path === Endpoints.metrics;
}

/**
 * Serves a request for a function: an async call (`/async-function/…`, when the platform has a
 * queue), or a match and a proxied request, or 404 / 405. Returns false when it answered without
 * using the body (a streamed body, if any, was not read).
 */
export function routeRequest(state: RouterState, matcher: RouteMatcher, request: RoutableRequest, client: Downstream): boolean {
  const asyncCalls = state.asyncCalls;
  if (asyncCalls !== undefined && request.url.startsWith(ASYNC_FUNCTION_PATH_PREFIX)) {
    const { method, url, requestId, receivedAt } = request;
    const traceparent = state.traceparents.keepOrCreate(request.inbound.traceparent);
    asyncCalls
      .handle({ method, url, rawHeaders: request.rawHeaders, body: client.body }, client, {
        requestId,
        traceparent,
        closeConnection: state.draining,
        hasFunction: (name) => matcher.hasFunction(name),
        maxBodyBytes: (name) => matcher.maxBodyBytes(name),
      })
      .then(
        (status) => state.accessLog.record({ requestId, method, url, status, fn: '', durationMs: performance.now() - receivedAt }),
        (err: Error) => rejectRequest(state, client, method, url, requestId, receivedAt, 500, `async call failed: ${err.message}`),
      );
    return true;
  }
  return proxyRequest(state, matcher, request, client);
}

/** Matches a request and proxies it to its function, or answers 404 / 405 (then returns false). */
function proxyRequest(state: RouterState, matcher: RouteMatcher, request: RoutableRequest, client: Downstream): boolean {
  const { method, url, inbound, requestId, receivedAt } = request;
  const host = hostWithoutPort(inbound.host);
  const match = matcher.match(method, url, host);
  if (match === null) {
    const path = pathOf(url);
    const allow = matcher.allowedMethods(url, host);
    if (allow.length === 0) {
      rejectRequest(state, client, method, url, requestId, receivedAt, 404, `no route for ${method} ${path}`);
    } else {
      rejectRequest(state, client, method, url, requestId, receivedAt, 405, `method ${method} not allowed for ${path}`, ['allow', allow.join(', ')]);
    }
    return false;
  }
  // --- body limit (issue 15 item 2): a Content-Length over the function's limit is refused before
  // anything is forwarded; the connection closes, since the unread body cannot be skipped cheaply.
  if (inbound.contentLength > match.entry.upstream.maxBodyBytes) {
    const limit = match.entry.upstream.maxBodyBytes;
    rejectRequest(state, client, method, url, requestId, receivedAt, 413, `request body exceeds the function's limit of ${limit} bytes`, undefined, true);
    return false;
  }
  // --- end body limit
  const headers = upstreamHeaders(inbound, {
    requestId,
    traceparent: state.traceparents.keepOrCreate(inbound.traceparent),
    clientAddress: request.clientAddress,
    functionName: match.entry.upstream.name,
    params: match.params,
  });
  const methodLabel = KNOWN_METHODS.has(method) ? method : 'OTHER';
  new ProxyExchange({ method, url, client, match, methodLabel, headers, requestId, receivedAt }, state).start();
  return true;
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

