import { HTTP_METHODS, HttpMethod, PATH_HINT, isRouteHost, pathProblem } from '../../src/contract';
import { ValidationError } from '../errors';
import { normalizeMethods } from '../http-methods';
import type { FunctionBase, ITrigger } from '../function-base';
import type { CorsOptions } from '../router-policies/cors';
import type { RateLimit } from '../router-policies/rate-limit';
import type { RouterAuth } from '../router-policies/router-auth';

export interface HttpTriggerProps {
  /**
   * Request path: `/hello`, `/users/:id` (a whole-segment parameter), `/files/*` (wildcard, last
   * segment only). Must not be under `/function/` or `/async-function/`, nor `/healthz`,
   * `/readyz` or `/metrics`.
   */
  readonly path: string;
  /**
   * Methods routed to the function (case-insensitive).
   * @default - all of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS
   */
  readonly methods?: readonly (HttpMethod | Lowercase<HttpMethod>)[];
  /**
   * Exact host (no port) the route is limited to.
   * @default - any host
   */
  readonly host?: string;
  /**
   * Authentication of this route (over the platform's `router.auth`); `RouterAuth.none()` makes it public.
   * @default - the platform's
   */
  readonly auth?: RouterAuth;
  /**
   * This route's rate limits, in addition to the platform's.
   * @default - only the platform's
   */
  readonly rateLimit?: RateLimit | readonly RateLimit[];
  /**
   * Browser origins allowed to call this route (replaces the platform's `router.cors` for it;
   * `{ origins: [] }` refuses every cross-origin preflight). The router answers preflights itself.
   * @default - the platform's
   */
  readonly cors?: CorsOptions;
}

/** Routes HTTP requests matching method + path (+ host) through the router to a function. */
export class HttpTrigger implements ITrigger {
  constructor(public readonly props: HttpTriggerProps) {}

  public bind(fn: FunctionBase): void {
    const props = this.props ?? ({} as HttpTriggerProps);
    const problem = pathProblem(props.path);
    if (problem) throw new ValidationError(fn, `invalid HTTP trigger: ${problem}`, PATH_HINT);
    fn.platform.addHttpRoute({
      function: fn,
      methods: this.methods(fn, props.methods),
      path: props.path,
      ...(props.host !== undefined ? { host: this.host(fn, props.host) } : {}),
      ...(props.auth !== undefined ? { auth: props.auth } : {}),
      ...(props.rateLimit !== undefined ? { rateLimit: props.rateLimit } : {}),
      ...(props.cors !== undefined ? { cors: props.cors } : {}),
    });
  }

  private methods(fn: FunctionBase, methods: HttpTriggerProps['methods']): HttpMethod[] {
    if (methods === undefined) return [...HTTP_METHODS];
    return normalizeMethods(fn, `HTTP trigger on '${this.props.path}'`, methods);
  }

  private host(fn: FunctionBase, host: unknown): string {
    const lower = typeof host === 'string' ? host.toLowerCase() : '';
    if (!isRouteHost(lower)) {
      throw new ValidationError(
        fn,
        `HTTP trigger on '${this.props.path}' has an invalid host '${String(host)}'`,
        'Give an exact DNS name without port or scheme, e.g. api.example.com',
      );
    }
    return lower;
  }
}
