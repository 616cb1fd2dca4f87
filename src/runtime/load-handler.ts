import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Handler } from '../contract';

/** The handler module could not be loaded; the message says what to fix. */
export class HandlerLoadError extends Error {
  override readonly name = 'HandlerLoadError';
}

/**
 * Loads the user's bundled handler in-process (no extra process hop) and picks the function to call:
 * `export default`, `module.exports = fn`, or a named `handler` export, in that order.
 */
export function loadHandler(handlerPath: string): Handler {
  const absolute = path.resolve(handlerPath);
  if (!fs.existsSync(absolute)) {
    throw new HandlerLoadError(`handler module ${absolute} does not exist`);
  }
  let exported: unknown;
  try {
    // The function bundle is CommonJS (esbuild output); a plain require keeps startup cheap.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads the user's bundle at run time
    exported = require(absolute);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new HandlerLoadError(`handler module ${absolute} failed to load: ${reason}`);
  }
  const handler = pickHandler(exported);
  if (!handler) {
    throw new HandlerLoadError(
      `handler module ${absolute} exports no function: use \`export default function handler(event, context)\`, ` +
        '`module.exports = fn` or a named `handler` export',
    );
  }
  return handler;
}

function pickHandler(exported: unknown): Handler | undefined {
  if (typeof exported === 'function') return exported as Handler;
  if (exported === null || typeof exported !== 'object') return undefined;
  const mod = exported as { default?: unknown; handler?: unknown };
  if (typeof mod.default === 'function') return mod.default as Handler;
  // esbuild wraps `export default` of an ESM module required from CJS one level deeper in some setups.
  const inner = mod.default as { default?: unknown; handler?: unknown } | undefined;
  if (inner && typeof inner === 'object') {
    if (typeof inner.default === 'function') return inner.default as Handler;
    if (typeof inner.handler === 'function') return inner.handler as Handler;
  }
  if (typeof mod.handler === 'function') return mod.handler as Handler;
  return undefined;
}
