/**
 * The metric names a PromQL expression selects. A small lexer, enough for the queries we write:
 * it drops strings, label matchers `{...}`, ranges `[...]`, grouping lists `by (...)` etc., and
 * function names (identifiers followed by `(`); what remains are metric names.
 */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

export function metricNames(expr: string): string[] {
  let rest = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  rest = rest.replace(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(/g, '(');
  const names = new Set<string>();
  for (const match of rest.matchAll(/(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (!KEYWORDS.has(match[0].toLowerCase())) names.add(match[0]);
  }
  return [...names];
}
