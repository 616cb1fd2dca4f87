/**
 * The request paths an exposure (Gateway API HTTPRoute, Ingress) sends to the router: what the
 * router's public listener serves, and nothing else (issue 15 item 9).
 *
 * - A route path without parameters is matched exactly (`/hello`); one with a parameter or a
 *   wildcard by the prefix before it (`/users/:id` → prefix `/users`, `/files/*` → `/files`): both
 *   kinds of exposure match prefixes by whole path segments, so this may admit a little more than
 *   the route (the router answers 404 for the rest) and never less. Host constraints of routes are
 *   the router's to enforce.
 * - `/function/` and `/async-function/` are prefixes, present only when some function opted in.
 *   Prefixes rather than one path per opted-in function: a constant two matches whatever the
 *   number of functions (an HTTPRoute holds at most 8 matches per rule and 16 rules), an edge
 *   object that does not change when a function opts in or out, and the router answers 404 for
 *   the names that did not opt in as it would behind a per-function match.
 * - The router's own endpoints (`/healthz`, `/readyz`, `/metrics`) are never among them: they are
 *   served on the admin listener, which no exposure reaches.
 */
import { ASYNC_FUNCTION_PATH_PREFIX, FUNCTION_PATH_PREFIX } from '../src/contract';

/** One path match, in the Gateway API's terms (`PathPrefix` is `Prefix` in an Ingress). */
export interface PublicPath {
  readonly type: 'Exact' | 'PathPrefix';
  readonly value: string;
}

/** What of the platform is public: its route paths and whether any function opted in to by-name / async calls. */
export interface PublicSurface {
  readonly routePaths: readonly string[];
  readonly byName: boolean;
  readonly async: boolean;
}

/** The smallest set of matches that admits every public request (sorted, none covered by another). */
export function publicPaths(surface: PublicSurface): PublicPath[] {
  const paths = surface.routePaths.map(routeMatch);
  if (surface.byName) paths.push(prefix(FUNCTION_PATH_PREFIX));
  if (surface.async) paths.push(prefix(ASYNC_FUNCTION_PATH_PREFIX));
  return minimal(paths);
}

/**
 * The same surface with every match widened to its first path segment (`/users/:id/posts` →
 * prefix `/users`): fewer matches for an exposure that cannot hold them all, still never less.
 */
export function coarsePublicPaths(paths: readonly PublicPath[]): PublicPath[] {
  return minimal(
    paths.map((p) => {
      const first = p.value.split('/')[1] ?? '';
      return first === '' || (p.type === 'Exact' && !p.value.slice(1).includes('/'))
        ? p
        : { type: 'PathPrefix', value: `/${first}` };
    }),
  );
}

/** The match for one route path (find-my-way syntax, already checked by `pathProblem`). */
function routeMatch(path: string): PublicPath {
  const segments = path.split('/');
  const dynamic = segments.findIndex((s) => s.startsWith(':') || s === '*');
  if (dynamic === -1) return { type: 'Exact', value: path };
  return { type: 'PathPrefix', value: segments.slice(0, dynamic).join('/') || '/' };
}

/** `/function/` → prefix `/function` (prefixes match whole segments, without the trailing slash). */
function prefix(pathPrefix: string): PublicPath {
  return { type: 'PathPrefix', value: pathPrefix.replace(/\/$/, '') };
}

function covers(prefixPath: string, value: string): boolean {
  return prefixPath === '/' || value === prefixPath || value.startsWith(`${prefixPath}/`);
}

function minimal(paths: readonly PublicPath[]): PublicPath[] {
  const prefixes = paths.filter((p) => p.type === 'PathPrefix').map((p) => p.value);
  const kept = new Map<string, PublicPath>();
  for (const p of paths) {
    const coveredBy = prefixes.some((q) => covers(q, p.value) && !(p.type === 'PathPrefix' && q === p.value));
    if (!coveredBy) kept.set(`${p.type} ${p.value}`, p);
  }
  return [...kept.values()].sort((a, b) =>
    a.value === b.value ? a.type.localeCompare(b.type) : a.value < b.value ? -1 : 1,
  );
}
