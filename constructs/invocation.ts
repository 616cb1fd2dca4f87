/**
 * A function's public by-name and async invocation (issue 15 item 9): off by default, so only its
 * declared routes are public; `invocation: { byName, async }` opts in. Internal callers (the cron
 * sender, `kubefaas invoke`, tests) reach every function on the router's admin port regardless.
 */
import type { Construct } from 'constructs';
import { HTTP_METHODS, type HttpMethod, type PublicInvocation } from '../src/contract';
import { ValidationError, validationMessage } from './errors';
import { normalizeMethods } from './http-methods';

/** What of a function the router's public port serves besides its HttpTriggers' routes. */
export interface InvocationOptions {
  /**
   * Serve `/function/<name>` and `/function/<name>/<path>` on the public port, with the methods of
   * the function's HttpTriggers (GET also admits HEAD; other methods get 405) and the platform's
   * `router.auth` and rate limits. Off, by-name calls are 404 there.
   * @default false
   */
  readonly byName?: boolean;
  /**
   * The methods `/function/<name>` accepts on the public port, instead of the triggers' (needed for
   * a function without HttpTriggers). Only with `byName: true`.
   * @default - the methods of the function's HttpTriggers
   */
  readonly byNameMethods?: readonly (HttpMethod | Lowercase<HttpMethod>)[];
  /**
   * Accept `POST /async-function/<name>` (and status reads at `GET /async-function/<name>/<call-id>`)
   * on the public port, under the platform's `router.auth` and rate limits. Needs the platform's
   * queue and a function that runs the kubefaas runtime (NodeFunction). Off, async calls are 404 there.
   * @default false
   */
  readonly async?: boolean;
}

/** `InvocationOptions` checked at construction; what depends on triggers is resolved at synth. */
export interface ResolvedInvocation {
  readonly byName: boolean;
  /** Explicit by-name methods; undefined = the triggers'. */
  readonly byNameMethods?: readonly HttpMethod[];
  readonly async: boolean;
}

/** Checks the prop's shape (types and method names); throws a ValidationError naming the fix. */
export function resolveInvocation(scope: Construct, options: InvocationOptions | undefined): ResolvedInvocation {
  if (options === undefined) return { byName: false, async: false };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ValidationError(scope, '`invocation` must be an object', 'Use e.g. { byName: true, async: true }');
  }
  for (const key of ['byName', 'async'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean') {
      throw new ValidationError(scope, `invocation.${key} must be true or false`, `Write ${key}: true`);
    }
  }
  const byName = options.byName === true;
  if (options.byNameMethods !== undefined && !byName) {
    throw new ValidationError(
      scope,
      'invocation.byNameMethods is set but invocation.byName is not',
      'Add byName: true to make /function/<name> public, or remove byNameMethods',
    );
  }
  return {
    byName,
    ...(options.byNameMethods !== undefined
      ? { byNameMethods: normalizeMethods(scope, 'invocation.byNameMethods', options.byNameMethods) }
      : {}),
    async: options.async === true,
  };
}

/** What the function needs from its platform to resolve its invocation at synth. */
export interface InvocationContext {
  /** Methods of the function's HttpTriggers (all of them together). */
  readonly routeMethods: readonly HttpMethod[];
  readonly hasQueue: boolean;
  readonly runsKubefaasRuntime: boolean;
}

/** The route table's `invocation` entry for a function; undefined when nothing beyond its routes is public. */
export function publicInvocation(resolved: ResolvedInvocation, ctx: InvocationContext): PublicInvocation | undefined {
  const byName = resolved.byName ? byNameMethods(resolved, ctx) : undefined;
  if ((byName === undefined || byName.length === 0) && !resolved.async) return undefined;
  return {
    ...(byName !== undefined && byName.length > 0 ? { byName } : {}),
    ...(resolved.async ? { async: true } : {}),
  };
}

/** Problems only known once every trigger is bound (node.addValidation), as validation messages. */
export function invocationProblems(resolved: ResolvedInvocation, ctx: InvocationContext): string[] {
  const problems: string[] = [];
  if (resolved.byName && byNameMethods(resolved, ctx).length === 0) {
    problems.push(
      validationMessage(
        'invocation.byName is true but the function has no HttpTrigger, so /function/<name> would accept no method',
        "List the methods it accepts: invocation: { byName: true, byNameMethods: ['POST'] }",
      ),
    );
  }
  if (resolved.async && !ctx.hasQueue) {
    problems.push(
      validationMessage(
        'invocation.async needs the platform to have a queue (async calls are stored in it)',
        'Give the Platform `queue: Queue.nats()`, or remove invocation.async',
      ),
    );
  }
  if (resolved.async && !ctx.runsKubefaasRuntime) {
    problems.push(
      validationMessage(
        'invocation.async: only functions that run the kubefaas runtime consume async calls',
        'Use a NodeFunction for async calls, or remove invocation.async',
      ),
    );
  }
  return problems;
}

function byNameMethods(resolved: ResolvedInvocation, ctx: InvocationContext): HttpMethod[] {
  const wanted = new Set(resolved.byNameMethods ?? ctx.routeMethods);
  return HTTP_METHODS.filter((m) => wanted.has(m));
}
