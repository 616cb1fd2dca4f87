import { createHash } from 'node:crypto';

/**
 * A short digest of a route table file's text. The router logs it with every table it loads, so
 * whoever wrote the file (the local runner, switching a function to its new process on a reload)
 * can tell when the router serves that exact table.
 */
export function routeTableDigest(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
