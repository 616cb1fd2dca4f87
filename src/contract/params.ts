/**
 * The `x-kubefaas-params` header (Headers.params): the path parameters of the matched route, as
 * URI-encoded JSON. The router encodes, the runtime decodes; both sides use these two functions.
 */

/** The header value of a route without parameters (`@__PURE__`: bundles that never encode drop it). */
export const EMPTY_PARAMS_HEADER = /* @__PURE__ */ encodeURIComponent('{}');

/** Header value for matched path parameters (undefined values are dropped by JSON). */
export function encodeParams(params: Readonly<Record<string, string | undefined>>): string {
  for (const _ in params) return encodeURIComponent(JSON.stringify(params));
  return EMPTY_PARAMS_HEADER;
}

/** Path parameters from the header; anything malformed yields no params (the header is ours, not the client's). */
export function decodeParams(header: string | string[] | undefined): Record<string, string> {
  if (typeof header !== 'string' || header === '') return {};
  try {
    const parsed: unknown = JSON.parse(decodeURIComponent(header));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed)) {
      if (typeof value !== 'string') continue;
      // An own `__proto__` key (a route parameter may be named so) must stay data, not set the prototype.
      if (key === '__proto__')
        Object.defineProperty(params, key, { value, enumerable: true, writable: true, configurable: true });
      else params[key] = value;
    }
    return params;
  } catch {
    return {};
  }
}
