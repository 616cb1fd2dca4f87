import {
  CORS_ROUTER_EXPOSED_HEADERS,
  CORS_SAFELISTED_REQUEST_HEADERS,
  type CorsPolicy,
  isHeaderName,
} from '../../contract';

/** What the router answers to a preflight. */
export type PreflightAnswer =
  | { readonly allowed: true; readonly headers: readonly string[] }
  | { readonly allowed: false; readonly message: string };

/** A subdomain pattern `https://*.example.com[:port]`, split where the subdomain goes. */
interface SubdomainPattern {
  /** `https://` */
  readonly prefix: string;
  /** `.example.com[:port]` */
  readonly suffix: string;
}

/** What may stand where a pattern has `*`: DNS labels (ASCII, as browsers serialize origins). */
const SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
/** Longest Origin worth looking at: a DNS name is at most 253 characters. */
const MAX_ORIGIN_LENGTH = 300;
const VARY_ORIGIN: readonly string[] = ['vary', 'Origin'];
const NO_HEADERS: readonly string[] = [];
const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

/**
 * One CORS policy, compiled: which origins match (a set lookup, then `*.` patterns), and the header
 * lists of its answers, made once. Origins are compared as browsers serialize them; an Origin is
 * only ever echoed when it matched a configured one, so what a client sends never reaches a
 * response header unchecked.
 */
export class Cors {
  private readonly any: boolean;
  private readonly exact: ReadonlySet<string>;
  private readonly patterns: readonly SubdomainPattern[];
  private readonly methods: ReadonlySet<string>;
  private readonly allowMethods: string;
  /** Undefined: any header the browser asks for. */
  private readonly allowHeaders: ReadonlySet<string> | undefined;
  /** Response headers of an actual response from an allowed origin, after the allow-origin pair. */
  private readonly actualTail: readonly string[];
  /** Preflight headers after the allow-origin pair (allow-headers are per request). */
  private readonly preflightTail: readonly string[];
  /** `*` without credentials: the same headers for every origin, no Vary. */
  private readonly anyOriginHeaders: readonly string[];

  constructor(readonly policy: CorsPolicy) {
    this.any = policy.origins.includes('*');
    this.exact = new Set(policy.origins.filter((o) => !o.includes('*')));
    this.patterns = policy.origins
      .filter((o) => o.includes('://*.'))
      .map((o) => {
        const star = o.indexOf('*');
        return { prefix: o.slice(0, star), suffix: o.slice(star + 1) };
      });
    this.methods = new Set(policy.methods);
    this.allowMethods = policy.methods.join(', ');
    this.allowHeaders =
      policy.headers === undefined ? undefined : new Set([...CORS_SAFELISTED_REQUEST_HEADERS, ...policy.headers]);
    const exposed = policy.exposeHeaders?.includes('*')
      ? '*'
      : [...new Set([...(policy.exposeHeaders ?? []), ...CORS_ROUTER_EXPOSED_HEADERS])].join(', ');
    const credentials = policy.credentials ? ['access-control-allow-credentials', 'true'] : [];
    this.actualTail = [...(this.any ? [] : VARY_ORIGIN), ...credentials, 'access-control-expose-headers', exposed];
    this.preflightTail = [
      'vary',
      PREFLIGHT_VARY,
      ...credentials,
      'access-control-allow-methods',
      this.allowMethods,
      'access-control-max-age',
      String(policy.maxAgeSeconds),
    ];
    this.anyOriginHeaders = ['access-control-allow-origin', '*', ...this.actualTail];
  }

  /**
   * Headers for an actual (non-preflight) response to a request with this `Origin` (undefined:
   * none sent). A disallowed origin gets no allow-origin (the browser then hides the response),
   * but still `Vary: Origin`, so a cache never hands one origin's answer to another.
   */
  responseHeaders(origin: string | undefined): readonly string[] {
    if (this.any) return origin === undefined ? NO_HEADERS : this.anyOriginHeaders;
    if (origin === undefined || !this.allows(origin)) return VARY_ORIGIN;
    return ['access-control-allow-origin', origin, ...this.actualTail];
  }

  /**
   * The answer to a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`).
   * @param served whether the route at this path serves `method` at all
   */
  preflight(origin: string, method: string, requestHeaders: string | undefined, served: boolean): PreflightAnswer {
    if (!this.any && !this.allows(origin)) return { allowed: false, message: 'origin not allowed by the CORS policy' };
    if (!served || !this.methods.has(method))
      return { allowed: false, message: 'method not allowed by the CORS policy for this route' };
    let allowHeaders: string | undefined;
    if (requestHeaders !== undefined && requestHeaders.trim() !== '') {
      const asked = requestHeaders.split(',').map((h) => h.trim().toLowerCase());
      const bad = asked.find((h) => !isHeaderName(h));
      if (bad !== undefined) return { allowed: false, message: 'malformed Access-Control-Request-Headers' };
      if (this.allowHeaders !== undefined) {
        const refused = asked.find((h) => !this.allowHeaders!.has(h));
        if (refused !== undefined)
          return { allowed: false, message: `request header ${refused} not allowed by the CORS policy` };
      }
      allowHeaders = [...new Set(asked)].join(', ');
    }
    // `*` never comes with credentials (refused at synth and by the route-table check).
    const allowOrigin = this.any ? '*' : origin;
    const headers = ['access-control-allow-origin', allowOrigin, ...this.preflightTail];
    if (allowHeaders !== undefined) headers.push('access-control-allow-headers', allowHeaders);
    return { allowed: true, headers };
  }

  private allows(origin: string): boolean {
    if (this.exact.has(origin)) return true;
    if (this.patterns.length === 0 || origin.length > MAX_ORIGIN_LENGTH) return false;
    for (const { prefix, suffix } of this.patterns) {
      if (origin.length <= prefix.length + suffix.length) continue;
      if (!origin.startsWith(prefix) || !origin.endsWith(suffix)) continue;
      if (SUBDOMAIN.test(origin.slice(prefix.length, origin.length - suffix.length))) return true;
    }
    return false;
  }
}
