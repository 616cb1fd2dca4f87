import { Endpoints } from '../src/contract';

/**
 * Rules for HTTP trigger paths (find-my-way syntax, restricted to what we can check): `/users/:id`,
 * `/files/*`. Returns a problem description, or undefined when the path is well-formed.
 */

/** Paths the router serves itself: `/function/<name>`, `/async-function/<name>` and its endpoints. */
const RESERVED_PREFIXES = ['/function', '/async-function'];
const RESERVED_EXACT: readonly string[] = [Endpoints.health, Endpoints.ready, Endpoints.metrics];

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// RFC 3986 pchar minus ':' (find-my-way reads it as a parameter) and '*' (wildcard).
const STATIC_SEGMENT = /^(?:[A-Za-z0-9\-._~!$&'()+,;=@]|%[0-9A-Fa-f]{2})+$/;

export const PATH_HINT = 'Paths start with "/", use `:name` for a whole-segment parameter and `*` only as the last segment, and contain no "?", "#", whitespace or "//"';

export function pathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'the path is empty';
  if (!path.startsWith('/')) return `path '${path}' does not start with "/"`;
  if (path.length > 2048) return `path is ${path.length} characters long (at most 2048)`;
  if (/[?#]/.test(path)) return `path '${path}' contains a query or fragment ("?" or "#")`;
  if (/\s/.test(path)) return `path '${JSON.stringify(path)}' contains whitespace`;
  if (path.includes('//')) return `path '${path}' contains an empty segment ("//")`;

  const segments = path.slice(1).split('/');
  const params = new Set<string>();
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    if (segment === '') continue; // only possible as the trailing slash (or the root path)
    if (segment === '.' || segment === '..') return `path '${path}' contains a "${segment}" segment`;
    if (segment === '*') {
      if (!last) return `path '${path}' has a wildcard "*" before the last segment`;
      continue;
    }
    if (segment.includes('*')) return `path '${path}' uses "*" inside a segment (only a whole last segment may be "*")`;
    if (segment.startsWith(':')) {
      const name = segment.slice(1);
      if (!PARAM_NAME.test(name)) return `path '${path}' has a malformed parameter '${segment}' (use :name with letters, digits and "_")`;
      if (params.has(name)) return `path '${path}' uses the parameter ':${name}' twice`;
      params.add(name);
      continue;
    }
    if (!STATIC_SEGMENT.test(segment)) return `path '${path}' has an invalid segment '${segment}' (":" only starts a parameter; escape other characters with %XX)`;
  }

  for (const prefix of RESERVED_PREFIXES) {
    if (path === prefix || path.startsWith(`${prefix}/`)) {
      return `path '${path}' is under '${prefix}/', which the router reserves for calling functions by name`;
    }
  }
  if (RESERVED_EXACT.includes(path.replace(/\/$/, ''))) return `path '${path}' is reserved for the router's own endpoint`;
  return undefined;
}

/**
 * The shape two routes must not share: parameter names are irrelevant to matching (`/a/:x` and
 * `/a/:y` match the same requests) and a trailing slash is treated as the same path.
 */
export function routeShape(path: string): string {
  const shape = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? ':' : segment))
    .join('/');
  return shape.length > 1 ? shape.replace(/\/$/, '') : shape;
}
