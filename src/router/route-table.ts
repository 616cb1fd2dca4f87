import { PolicyError, checkPlatformPolicies, checkRoutePolicies } from './policies/policy-table';
import {
  HTTP_METHODS,
  MAX_HOLD_QUEUE_LIMIT,
  isFunctionName,
  readCallbackUrlPolicy,
  isRouteHost,
  pathProblem,
  type HttpMethod,
  type PublicInvocation,
  type Route,
  type RouteScaling,
  type RouteTable,
  type RouteTarget,
} from '../contract';

/** A route table that cannot be served; the message names the offending entry. */
export class RouteTableError extends Error {
  override readonly name = 'RouteTableError';
}

/** Router timeouts beyond an hour are certainly a unit mistake (seconds given as ms * 1000). */
const MAX_TIMEOUT_MS = 3_600_000;

/**
 * Parses and checks a route table file, with the contract's rules for names, paths and hosts (the
 * ones the constructs applied at synth). Conflicts between routes
 * (two routes on the same method + path + host) are found when the matcher is built.
 */
export function parseRouteTable(text: string): RouteTable {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new RouteTableError(`not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new RouteTableError('must be a JSON object');
  if (doc.version !== 1) throw new RouteTableError(`unsupported version ${JSON.stringify(doc.version)} (expected 1)`);
  if (!isObject(doc.functions))
    throw new RouteTableError('"functions" must be an object of name -> { url, timeoutMs }');
  if (!Array.isArray(doc.routes)) throw new RouteTableError('"routes" must be an array');

  const functions: Record<string, RouteTarget> = {};
  for (const [name, target] of Object.entries(doc.functions)) {
    functions[name] = checkTarget(name, target);
  }
  const routes = doc.routes.map((route, index) => checkRoute(route, index, functions));
  const policies =
    doc.policies === undefined ? undefined : withPolicyErrors('policies', () => checkPlatformPolicies(doc.policies));
  let callbacks: RouteTable['callbacks'];
  if (doc.callbacks !== undefined) {
    const read = readCallbackUrlPolicy(doc.callbacks);
    if (typeof read === 'string') throw new RouteTableError(`callbacks: ${read}`);
    callbacks = read;
  }
  return {
    version: 1,
    functions,
    routes,
    ...(policies !== undefined ? { policies } : {}),
    ...(callbacks !== undefined ? { callbacks } : {}),
  };
}

function withPolicyErrors<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof PolicyError) throw new RouteTableError(`${where}: ${err.message}`);
    throw err;
  }
}

function checkTarget(name: string, target: unknown): RouteTarget {
  const where = `functions.${name}`;
  if (!isFunctionName(name)) throw new RouteTableError(`${where}: name must be a DNS-1035 label (a Service name)`);
  if (!isObject(target)) throw new RouteTableError(`${where}: must be an object { url, timeoutMs }`);
  const { url, timeoutMs, maxBodyBytes, scaling, invocation } = target;
  if (typeof url !== 'string') throw new RouteTableError(`${where}.url: must be a string`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RouteTableError(`${where}.url: ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'http:') throw new RouteTableError(`${where}.url: only http:// upstreams are supported`);
  if (parsed.pathname !== '/' || parsed.search !== '' || parsed.username !== '') {
    throw new RouteTableError(
      `${where}.url: must be an origin (scheme, host, port) without path, query or credentials`,
    );
  }
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new RouteTableError(`${where}.timeoutMs: must be an integer between 1 and ${MAX_TIMEOUT_MS}`);
  }
  if (
    maxBodyBytes !== undefined &&
    (typeof maxBodyBytes !== 'number' || !Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0)
  ) {
    throw new RouteTableError(`${where}.maxBodyBytes: must be a non-negative integer`);
  }
  const checkedInvocation = invocation === undefined ? undefined : checkInvocation(`${where}.invocation`, invocation);
  return {
    url: parsed.origin,
    timeoutMs,
    ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
    ...(scaling !== undefined ? { scaling: checkScaling(`${where}.scaling`, scaling) } : {}),
    ...(checkedInvocation !== undefined ? { invocation: checkedInvocation } : {}),
  };
}

function checkScaling(where: string, scaling: unknown): RouteScaling {
  if (!isObject(scaling))
    throw new RouteTableError(`${where}: must be an object { minReplicas, activationTimeoutMs, holdQueueLimit }`);
  const { minReplicas, activationTimeoutMs, holdQueueLimit } = scaling;
  if (!isIntegerIn(minReplicas, 0, Number.MAX_SAFE_INTEGER))
    throw new RouteTableError(`${where}.minReplicas: must be a non-negative integer`);
  if (!isIntegerIn(activationTimeoutMs, 1, MAX_TIMEOUT_MS))
    throw new RouteTableError(`${where}.activationTimeoutMs: must be an integer between 1 and ${MAX_TIMEOUT_MS}`);
  if (!isIntegerIn(holdQueueLimit, 1, MAX_HOLD_QUEUE_LIMIT))
    throw new RouteTableError(`${where}.holdQueueLimit: must be an integer between 1 and ${MAX_HOLD_QUEUE_LIMIT}`);
  return { minReplicas, activationTimeoutMs, holdQueueLimit };
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** `functions.<name>.invocation`: what of the function the public port serves besides its routes. */
function checkInvocation(where: string, invocation: unknown): PublicInvocation {
  if (!isObject(invocation)) throw new RouteTableError(`${where}: must be an object { byName?, async? }`);
  const { byName, async } = invocation;
  if (async !== undefined && typeof async !== 'boolean') throw new RouteTableError(`${where}.async: must be a boolean`);
  if (byName !== undefined) checkMethods(`${where}.byName`, byName);
  return {
    ...(byName !== undefined ? { byName: byName as HttpMethod[] } : {}),
    ...(async === true ? { async } : {}),
  };
}

/** A non-empty list of distinct known methods (a route's, or a function's by-name ones). */
function checkMethods(where: string, methods: unknown): void {
  if (!Array.isArray(methods) || methods.length === 0) throw new RouteTableError(`${where}: must be a non-empty array`);
  for (const method of methods) {
    if (!HTTP_METHODS.includes(method as HttpMethod)) {
      throw new RouteTableError(`${where}: ${JSON.stringify(method)} is not one of ${HTTP_METHODS.join(', ')}`);
    }
  }
  if (new Set(methods).size !== methods.length) throw new RouteTableError(`${where}: contains duplicates`);
}

function checkRoute(route: unknown, index: number, functions: Record<string, RouteTarget>): Route {
  const where = `routes[${index}]`;
  if (!isObject(route)) throw new RouteTableError(`${where}: must be an object { function, methods, path, host? }`);
  const { function: fn, methods, path, host } = route;
  const policies =
    route.policies === undefined
      ? undefined
      : withPolicyErrors(`${where}.policies`, () => checkRoutePolicies(route.policies));
  if (typeof fn !== 'string' || !Object.prototype.hasOwnProperty.call(functions, fn)) {
    throw new RouteTableError(`${where}.function: ${JSON.stringify(fn)} is not in "functions"`);
  }
  checkMethods(`${where}.methods`, methods);
  const problem = pathProblem(path);
  if (problem !== undefined) throw new RouteTableError(`${where}.path: ${problem}`);
  if (host !== undefined && !isRouteHost(host)) {
    throw new RouteTableError(`${where}.host: must be a lower-case host name without port`);
  }
  return {
    function: fn,
    methods: methods as HttpMethod[],
    path: path as string,
    ...(host !== undefined ? { host } : {}),
    ...(policies !== undefined ? { policies } : {}),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
