import type { Pool as UndiciPool } from 'undici';

/**
 * undici's `Pool` class on its own. The package index also pulls in fetch, WebSocket, caches and
 * mocks (~535 KB minified versus ~280 KB for the pool); the router ships inside a ConfigMap with a
 * 1 MiB limit, so we load the one class we use. undici 7 declares no `exports` map, so the path is
 * reachable; the type still comes from the public declarations.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const Pool: typeof UndiciPool = require('undici/lib/dispatcher/pool');
export type Pool = UndiciPool;
