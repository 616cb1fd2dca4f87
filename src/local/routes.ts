import type { RouteTable } from '../contract';

/** The route table as the developer wants to read it: method(s), URL (and host) → function. */
export function formatRoutes(table: RouteTable, baseUrl: string): string {
  const rows = table.routes.map((r) => [
    r.methods.join(','),
    `${baseUrl}${r.path}${r.host ? ` (host ${r.host})` : ''}`,
    r.function,
  ]);
  for (const name of Object.keys(table.functions).sort()) rows.push(['ANY', `${baseUrl}/function/${name}`, name]);
  if (rows.length === 0) return 'routes: none';
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)));
  return `routes:\n${rows.map((r) => `  ${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  -> ${r[2]}`).join('\n')}`;
}
