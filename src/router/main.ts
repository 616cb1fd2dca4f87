/**
 * kubefaas router: serves the route table (a ConfigMap file, reloaded when it changes) and proxies
 * each request to its function's Service over keep-alive pools. Bundled into lib/pod/router.js.
 */
import type { AddressInfo } from 'node:net';
import { ConfigError, readRouterConfig, type RouterConfig } from './config';
import { RouterLog } from './log';
import { RouteTableError, parseRouteTable } from './route-table';
import { createRouterServer } from './server';
import { RouterState } from './state';
import { TableWatcher } from './table-watcher';
import { readQueueSettings } from '../queue/config';
import { AsyncEndpoint } from './async-endpoint';
import { installRouterShutdown } from './shutdown';
import { routeTableDigest } from '../shared/route-table-digest';

async function main(): Promise<void> {
  const log = new RouterLog();
  let config: RouterConfig;
  try {
    config = readRouterConfig(process.env);
  } catch (err) {
    log.log('error', (err as ConfigError).message);
    log.flush();
    process.exit(1);
  }

  const state = new RouterState({
    accessLogSample: config.accessLogSample,
    log,
    secretsDir: config.secretsDir,
    upstreamConnections: config.upstreamConnections,
  });
  const watcher = new TableWatcher(config.routesPath, {
    onText: (text) => {
      try {
        const table = parseRouteTable(text);
        state.applyTable(table);
        log.log('info', 'route table loaded', {
          path: config.routesPath,
          functions: Object.keys(table.functions).length,
          routes: table.routes.length,
          digest: routeTableDigest(text),
        });
      } catch (err) {
        const reason = err instanceof RouteTableError ? err.message : String(err);
        log.log('error', state.matcher ? 'route table rejected, keeping the previous one' : 'route table rejected', {
          path: config.routesPath,
          reason,
          digest: routeTableDigest(text),
        });
      }
    },
    onReadError: (err) => log.log('error', 'route table unreadable', { path: config.routesPath, reason: err.message }),
  });
  await watcher.start();

  // With a queue: /async-function/… (connects in the background; calls get 503 until connected).
  const queue = readQueueSettings(process.env);
  if (queue) {
    const connecting = import('../queue/client').then(({ QueueClient }) =>
      QueueClient.connect({
        servers: queue.servers,
        config: queue.config,
        name: 'router',
        registry: state.metrics.registry,
        auth: queue.auth,
        tls: queue.tls,
      }),
    );
    state.asyncCalls = new AsyncEndpoint(connecting, (err) =>
      log.log('error', 'queue connection failed', { reason: String(err) }),
    );
    connecting.then(
      () => log.log('info', 'queue connected', { servers: queue.servers }),
      () => undefined,
    );
  }

  const timeouts = { headersTimeoutMs: config.headersTimeoutMs, bodyTimeoutMs: config.bodyTimeoutMs };
  const server = createRouterServer(state, { fastPath: config.fastPath, timeouts });
  server.listen({ port: config.port, host: config.host }, () => {
    const { port, address } = server.address() as AddressInfo;
    log.log('info', 'listening', {
      port,
      host: address,
      routes: config.routesPath,
      accessLogSample: config.accessLogSample,
      fastPath: state.fastPathActive,
      ...timeouts,
    });
    if (config.fastPath && !state.fastPathActive) {
      log.log(
        'warn',
        "fast path unavailable: this node version's HTTP parser cannot be used that way; node:http serves every request",
      );
    }
  });
  server.on('error', (err) => {
    log.log('error', 'server error', { reason: err.message });
    log.flush();
    process.exit(1);
  });

  const shutdown = installRouterShutdown({
    server,
    state,
    config,
    stopBackground: () => watcher.stop(),
    exit: (code) => process.exit(code),
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    // One bad request must not take the replica down; log it and carry on.
    log.log('error', 'uncaught exception', { reason: err.stack ?? String(err) });
  });
}

void main();
