import { ASYNC_FUNCTION_PATH_PREFIX, HTTP_METHODS, Headers } from '../contract';
import { decodePathSegment } from './async-endpoint';
import type { Downstream } from './downstream';
import { type InboundHeaders, hostWithoutPort, upstreamHeaders } from './forwarded-headers';
import { ProxyExchange } from './proxy';
import { errorBody } from './responses';
import { isOwnEndpoint, type Listener, type RouteMatch, type RouteMatcher } from './route-matcher';
import type { Grant, Refusal, Verdict } from './policies/verdict';
import type { RouterPolicies } from './policies/router-policies';
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
 * True when a request declares a body longer than its function accepts, so it is refused (413)
 * whatever the body holds. The fast path, which reads a small body whole before serving, hands such
 * a request to node:http instead, which answers at once rather than after the body.
 */
export function declaredBodyOverLimit(
  state: RouterState,
  method: string,
  url: string,
  rawHeaders: readonly string[],
  length: number,
): boolean {
  const matcher = state.matcher;
  if (matcher === undefined) return false;
  if (state.asyncCalls !== undefined && url.startsWith(ASYNC_FUNCTION_PATH_PREFIX)) {
    const rest = pathOf(url).slice(ASYNC_FUNCTION_PATH_PREFIX.length);
    const slash = rest.indexOf('/');
    const name = decodePathSegment(slash === -1 ? rest : rest.slice(0, slash));
    return name !== undefined && length > matcher.maxBodyBytes(name);
  }
  let host: string | undefined;
  for (let i = 0; i < rawHeaders.length && host === undefined; i += 2)
    if (rawHeaders[i].length === 4 && rawHeaders[i].toLowerCase() === 'host') host = rawHeaders[i + 1];
  const match = matcher.match(method, url, hostWithoutPort(host), 'public');
  return match !== null && length > match.entry.upstream.maxBodyBytes;
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
  const isAsync = asyncCalls !== undefined && request.url.startsWith(ASYNC_FUNCTION_PATH_PREFIX);
  // The admin listener's callers are internal (cron, `kubefaas invoke`): no policies there, no CORS.
  if (isAsync && request.listener === 'admin') {
    callAsync(state, asyncCalls, matcher, request, client, undefined);
    return true;
  }
  const policies = state.policies;
  // CORS preflights are answered before auth: browsers send them without credentials.
  if (
    request.listener === 'public' &&
    policies !== undefined &&
    policies.hasCors &&
    request.method === 'OPTIONS' &&
    request.inbound.origin !== undefined &&
    request.inbound.corsRequestMethod !== undefined &&
    answerPreflight(state, policies, matcher, request, client, isAsync)
  ) {
    return false;
  }
  if (isAsync) {
    // Async calls are under the platform's policies (-1), like `/function/<name>`.
    const verdict = policies?.check(-1, request);
    if (verdict instanceof Promise) {
      verdict.then(
        (v) =>
          v.granted
            ? callAsync(state, asyncCalls, matcher, request, client, v)
            : refuseAndDrain(state, request, client, v),
        (err: Error) => refuseAndDrain(state, request, client, policyCheckFailed(err)),
      );
      return true;
    }
    if (verdict !== undefined && !verdict.granted) {
      refuse(state, request, client, verdict);
      return false;
    }
    callAsync(state, asyncCalls, matcher, request, client, verdict);
    return true;
  }
  if (request.listener === 'public' && isOwnEndpoint(request.url)) {
    const { method, url, requestId, receivedAt } = request;
    rejectRequest(state, client, method, url, requestId, receivedAt, 404, `no route for ${method} ${pathOf(url)}`);
    return false;
  }
  return proxyRequest(state, matcher, request, client);
}

/**
 * Answers a CORS preflight on a route (or `/function/…`, `/async-function/…`) with a CORS policy:
 * 204 with the allow headers, or 403. Returns false, answering nothing, when the route has no
 * CORS policy (the OPTIONS request then goes on as any other) or nothing is routed at the path.
 */
function answerPreflight(
  state: RouterState,
  policies: RouterPolicies,
  matcher: RouteMatcher,
  request: RoutableRequest,
  client: Downstream,
  isAsync: boolean,
): boolean {
  const { url, inbound, requestId, receivedAt } = request;
  const asked = inbound.corsRequestMethod!;
  let routeIndex = -1;
  let served: boolean;
  let entry: RouteMatch['entry'] | undefined;
  if (isAsync) {
    served = asked === 'POST' || asked === 'GET';
  } else {
    const host = hostWithoutPort(inbound.host);
    let match = KNOWN_METHODS.has(asked) ? matcher.match(asked, url, host, request.listener) : null;
    served = match !== null;
    // The method is not routed here: the policy of a route that is (for the 403) decides.
    if (match === null) {
      const other = matcher.allowedMethods(url, host, request.listener)[0];
      if (other === undefined) return false;
      match = matcher.match(other, url, host, request.listener);
      if (match === null) return false;
    }
    entry = match.entry;
    routeIndex = entry.routeIndex;
  }
  const cors = policies.cors(routeIndex);
  if (cors === undefined) return false;
  const answer = cors.preflight(inbound.origin!, asked, inbound.corsRequestHeaders, served);
  if (!answer.allowed) {
    rejectRequest(
      state,
      client,
      request.method,
      url,
      requestId,
      receivedAt,
      403,
      `CORS preflight refused: ${answer.message}`,
    );
    return true;
  }
  // No Content-Length: a 204 must not carry one (RFC 9110 §8.6).
  const headers = [...answer.headers, Headers.requestId, requestId];
  if (state.draining) headers.push('connection', 'close');
  client.writeHead(204, headers);
  client.end();
  (entry?.counter ?? state.unmatched).inc('OPTIONS', 204);
  state.accessLog.record({
    requestId,
    method: request.method,
    url,
    status: 204,
    fn: entry?.upstream.name ?? '',
    durationMs: performance.now() - receivedAt,
  });
  return true;
}

function callAsync(
  state: RouterState,
  asyncCalls: NonNullable<RouterState['asyncCalls']>,
  matcher: RouteMatcher,
  request: RoutableRequest,
  client: Downstream,
  grant: Grant | undefined,
): void {
  {
    const { method, url, requestId, receivedAt } = request;
    const traceparent = state.traceparents.keepOrCreate(request.inbound.traceparent);
    asyncCalls
      .handle(
        {
          method,
          url,
          rawHeaders: request.rawHeaders,
          body: client.body,
          contentLength: request.inbound.contentLength,
        },
        client,
        {
          requestId,
          traceparent,
          closeConnection: state.draining,
          hasFunction: (name) => matcher.acceptsAsync(name, request.listener),
          maxBodyBytes: (name) => matcher.maxBodyBytes(name),
          callbacks: state.callbacks,
          auth: grant?.authHeader,
          responseHeaders: grant?.responseHeaders,
          queued: (name) => state.activator.activityOf(name).asyncCallQueued(),
        },
      )
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
      state.policies?.corsHeaders(match.entry.routeIndex, request),
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
    forward(state, request, client, match, verdict);
    return true;
  }
  forward(state, request, client, match, undefined);
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
    forward(state, request, client, match, verdict);
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
  grant: Grant | undefined,
): void {
  const { method, url, inbound, requestId, receivedAt } = request;
  const headers = upstreamHeaders(inbound, {
    requestId,
    traceparent: state.traceparents.keepOrCreate(inbound.traceparent),
    clientAddress: request.clientAddress,
    functionName: match.entry.upstream.name,
    params: match.params,
    auth: grant?.authHeader,
  });
  const methodLabel = KNOWN_METHODS.has(method) ? method : 'OTHER';
  new ProxyExchange(
    {
      method,
      url,
      client,
      match,
      methodLabel,
      headers,
      requestId,
      receivedAt,
      responseHeaders: grant?.responseHeaders,
      ownsCors: grant?.ownsCors ?? false,
    },
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
