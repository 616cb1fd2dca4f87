import { ASYNC_FUNCTION_PATH_PREFIX, FUNCTION_PATH_PREFIX, type RouteTable } from '../contract';

/**
 * The route table as the developer wants to read it: method(s), URL (and host) → function. Public
 * URLs first (routes, and the by-name/async calls functions opted in to), then where every
 * function is callable by name regardless: the router's admin listener (`kubefaas invoke` uses it).
 */
export function formatRoutes(table: RouteTable, baseUrl: string, adminUrl?: string): string {
  const rows = table.routes.map((r) => [
    r.methods.join(','),
    `${baseUrl}${r.path}${r.host ? ` (host ${r.host})` : ''}`,
    r.function,
  ]);
  const names = Object.keys(table.functions).sort();
  for (const name of names) {
    const invocation = table.functions[name].invocation;
    if (invocation?.byName) rows.push([invocation.byName.join(','), `${baseUrl}${FUNCTION_PATH_PREFIX}${name}`, name]);
    if (invocation?.async) rows.push(['POST', `${baseUrl}${ASYNC_FUNCTION_PATH_PREFIX}${name}`, name]);
  }
  const admin =
    adminUrl !== undefined && names.length > 0
      ? `\nevery function by name (internal, not exposed): ${adminUrl}${FUNCTION_PATH_PREFIX}<name>, or kubefaas invoke <name>`
      : '';
  if (rows.length === 0) return `routes: none${admin}`;
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)));
  return `routes:\n${rows.map((r) => `  ${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  -> ${r[2]}`).join('\n')}${admin}`;
}
