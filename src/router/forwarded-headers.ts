import { Headers, INVOKE_TIMEOUT_HEADER } from '../contract';

/** What the router does with an incoming request header. */
const enum Role {
  /** Hop-by-hop or router-owned without a value we need: never forwarded. */
  Drop = 1,
  Host,
  RequestId,
  Traceparent,
  ForwardedFor,
  ForwardedHost,
  ForwardedProto,
  ContentLength,
  TransferEncoding,
  Connection,
  /** Forwarded, and read by auth policies. */
  Authorization,
  ApiKey,
  /** Forwarded, and read by CORS policies. */
  Origin,
  CorsRequestMethod,
  CorsRequestHeaders,
}

/**
 * Request headers only the platform sets (names lower-case): a client's are dropped on every path into
 * a function. The router sets the first three; the caller's remaining time comes only from a function
 * calling another one directly (context.invoke), so a client cannot shorten a function's timeout.
 */
const ROUTER_OWNED: readonly string[] = [Headers.functionName, Headers.params, Headers.auth, INVOKE_TIMEOUT_HEADER];

/** True for a header only the router may set on a request to a function (`lowerName` lower-cased). */
export function isRouterOwnedHeader(lowerName: string): boolean {
  return ROUTER_OWNED.includes(lowerName);
}

const REQUEST_ROLES: ReadonlyMap<string, Role> = new Map<string, Role>([
  // Hop-by-hop (RFC 9110 §7.6.1) and headers the client must not be able to set for us.
  ['keep-alive', Role.Drop],
  ['proxy-connection', Role.Drop],
  ['proxy-authorization', Role.Drop],
  ['te', Role.Drop],
  ['trailer', Role.Drop],
  ['upgrade', Role.Drop],
  // The router answers `Expect: 100-continue` itself (node does); the function then never sends 100.
  ['expect', Role.Drop],
  // Only the router names the function, its parameters and (after an auth policy) the caller.
  ...ROUTER_OWNED.map((name): [string, Role] => [name, Role.Drop]),
  ['authorization', Role.Authorization],
  ['x-api-key', Role.ApiKey],
  ['origin', Role.Origin],
  ['access-control-request-method', Role.CorsRequestMethod],
  ['access-control-request-headers', Role.CorsRequestHeaders],
  ['connection', Role.Connection],
  ['transfer-encoding', Role.TransferEncoding],
  ['content-length', Role.ContentLength],
  ['host', Role.Host],
  [Headers.requestId, Role.RequestId],
  [Headers.traceparent, Role.Traceparent],
  ['x-forwarded-for', Role.ForwardedFor],
  ['x-forwarded-host', Role.ForwardedHost],
  ['x-forwarded-proto', Role.ForwardedProto],
]);

const CONNECTION_PLAIN = /^\s*(keep-alive|close)\s*$/i;

/** An incoming request's headers, split into what is forwarded as is and what the router rewrites. */
export interface InboundHeaders {
  /** Flat `[name, value, name, value, …]` list to forward; router-owned headers are appended later. */
  readonly forward: string[];
  readonly host: string | undefined;
  readonly requestId: string | undefined;
  readonly traceparent: string | undefined;
  readonly forwardedFor: string | undefined;
  readonly forwardedHost: string | undefined;
  readonly forwardedProto: string | undefined;
  /** The request announces a body (non-zero Content-Length or a Transfer-Encoding). */
  readonly hasBody: boolean;
  readonly authorization: string | undefined;
  /** `X-Api-Key`. */
  readonly apiKey: string | undefined;
  /** The announced Content-Length, or -1 when none (no body, or chunked). */
  readonly contentLength: number;
  /** `Origin` (the first one). */
  readonly origin: string | undefined;
  /** `Access-Control-Request-Method` of a CORS preflight. */
  readonly corsRequestMethod: string | undefined;
  /** `Access-Control-Request-Headers` of a CORS preflight (repeated headers joined with ", "). */
  readonly corsRequestHeaders: string | undefined;
}

/** One pass over the raw header list (no lazy `req.headers` object is built). */
export function readInboundHeaders(raw: readonly string[]): InboundHeaders {
  const forward: string[] = [];
  let host: string | undefined;
  let requestId: string | undefined;
  let traceparent: string | undefined;
  let forwardedFor: string | undefined;
  let forwardedHost: string | undefined;
  let forwardedProto: string | undefined;
  let hasBody = false;
  let authorization: string | undefined;
  let apiKey: string | undefined;
  let contentLength = -1;
  let origin: string | undefined;
  let corsRequestMethod: string | undefined;
  let corsRequestHeaders: string | undefined;
  let connectionTokens: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    const role = REQUEST_ROLES.get(name.toLowerCase());
    if (role === undefined) {
      forward.push(name, value);
      continue;
    }
    switch (role) {
      case Role.Host:
        host ??= value;
        break;
      case Role.RequestId:
        requestId ??= value;
        break;
      case Role.Traceparent:
        traceparent ??= value;
        break;
      case Role.ForwardedFor:
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case Role.ForwardedHost:
        forwardedHost ??= value;
        break;
      case Role.ForwardedProto:
        forwardedProto ??= value;
        break;
      case Role.ContentLength:
        if (value !== '0') {
          hasBody = true;
          contentLength = Number(value);
        } else contentLength = 0;
        forward.push(name, value);
        break;
      case Role.TransferEncoding:
        hasBody = true;
        break;
      case Role.Authorization:
        authorization ??= value;
        forward.push(name, value);
        break;
      case Role.ApiKey:
        apiKey ??= value;
        forward.push(name, value);
        break;
      case Role.Origin:
        origin ??= value;
        forward.push(name, value);
        break;
      case Role.CorsRequestMethod:
        corsRequestMethod ??= value;
        forward.push(name, value);
        break;
      case Role.CorsRequestHeaders:
        corsRequestHeaders = corsRequestHeaders === undefined ? value : `${corsRequestHeaders}, ${value}`;
        forward.push(name, value);
        break;
      case Role.Connection:
        // `keep-alive` / `close` (nearly every request) name no other header: skip the second pass.
        if (!CONNECTION_PLAIN.test(value)) connectionTokens = value;
        break;
      default:
        break;
    }
  }
  const filtered = connectionTokens === undefined ? forward : dropConnectionNamed(forward, connectionTokens);
  return {
    forward: filtered,
    host,
    requestId,
    traceparent,
    forwardedFor,
    forwardedHost,
    forwardedProto,
    hasBody,
    authorization,
    apiKey,
    contentLength,
    origin,
    corsRequestMethod,
    corsRequestHeaders,
  };
}

/** Headers named in `Connection` are hop-by-hop too (RFC 9110 §7.6.1). Rare, so done in a second pass. */
function dropConnectionNamed(forward: string[], tokens: string): string[] {
  const named = new Set(
    tokens
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== '' && t !== 'close' && t !== 'keep-alive'),
  );
  if (named.size === 0) return forward;
  const kept: string[] = [];
  for (let i = 0; i < forward.length; i += 2) {
    if (!named.has(forward[i].toLowerCase())) kept.push(forward[i], forward[i + 1]);
  }
  return kept;
}

/** The values the router adds to every proxied request. */
export interface ForwardingContext {
  readonly requestId: string;
  readonly traceparent: string;
  readonly clientAddress: string | undefined;
  readonly functionName: string;
  /** Already URI-encoded JSON of the matched path parameters. */
  readonly params: string;
  /** `Headers.auth` value when an auth policy verified the caller. */
  readonly auth?: string;
}

/** Completes `inbound.forward` (in place) with the router-owned headers. */
export function upstreamHeaders(inbound: InboundHeaders, ctx: ForwardingContext): string[] {
  const out = inbound.forward;
  const client = ctx.clientAddress === undefined ? undefined : plainAddress(ctx.clientAddress);
  const forwardedFor =
    client === undefined
      ? inbound.forwardedFor
      : inbound.forwardedFor === undefined
        ? client
        : `${inbound.forwardedFor}, ${client}`;
  if (forwardedFor !== undefined) out.push('x-forwarded-for', forwardedFor);
  const forwardedHost = inbound.forwardedHost ?? inbound.host;
  if (forwardedHost !== undefined) out.push('x-forwarded-host', forwardedHost);
  out.push(
    'x-forwarded-proto',
    inbound.forwardedProto ?? 'http',
    Headers.requestId,
    ctx.requestId,
    Headers.traceparent,
    ctx.traceparent,
    Headers.functionName,
    ctx.functionName,
    Headers.params,
    ctx.params,
  );
  if (ctx.auth !== undefined) out.push(Headers.auth, ctx.auth);
  return out;
}

/** `::ffff:10.0.0.1` (IPv4 on a dual-stack socket) → `10.0.0.1`. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** Lower-cased host name of a `Host` header without its port (`[::1]:80` → `[::1]`). */
export function hostWithoutPort(host: string | undefined): string {
  if (host === undefined || host === '') return '';
  if (host.charCodeAt(0) === 91 /* [ */) {
    const end = host.indexOf(']');
    return (end === -1 ? host : host.slice(0, end + 1)).toLowerCase();
  }
  const colon = host.indexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
}

const RESPONSE_DROP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  Headers.requestId,
]);
/** Lengths of the names in RESPONSE_DROP: any other name is kept without lower-casing it. */
const RESPONSE_DROP_LENGTHS: readonly boolean[] = (() => {
  const lengths: boolean[] = [];
  for (const name of RESPONSE_DROP) lengths[name.length] = true;
  return lengths;
})();

/**
 * The upstream's raw response headers (latin1 strings, so the bytes go out unchanged) minus
 * hop-by-hop ones, plus the request id; `Connection: close` while the router drains so clients
 * move to another replica.
 */
export function downstreamHeaders(raw: readonly string[], requestId: string, closeConnection: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (RESPONSE_DROP_LENGTHS[name.length] === true && RESPONSE_DROP.has(name.toLowerCase())) continue;
    out.push(name, raw[i + 1]);
  }
  out.push(Headers.requestId, requestId);
  if (closeConnection) out.push('connection', 'close');
  return out;
}
