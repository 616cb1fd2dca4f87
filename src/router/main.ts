/**
 * kubefaas router: serves the route table (a ConfigMap file, reloaded when it changes) and proxies
 * each request to its function's Service over keep-alive pools. Bundled into lib/pod/router.js.
 */
import type { AddressInfo } from 'node:net';
import { ConfigError, readRouterConfig, type RouterConfig } from './config';
import { RouterLog } from './log';
import { RouteTableError, parseRouteTable } from './route-table';
import { createRouterServer } from './server';
import { combineAdminHandlers, createAdminServer, routerAdminHandlers } from './admin-server';
import { RouterState } from './state';
import { TableWatcher } from './table-watcher';
import { readQueueSettings } from '../queue/config';
import { AsyncEndpoint } from './async-endpoint';
import { installRouterShutdown } from './shutdown';
import { scalingHandlers } from './activator/scaling-endpoints';
import { ActivatorEnv, EndpointSources } from '../contract';

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
    routerId: config.routerId,
    endpointSource: config.endpointSource,
  });
  // Endpoints first: a table naming functions at zero holds their requests until the source spoke.
  const stopEndpoints = await startEndpointSource(config, state, log);
  const watcher = new TableWatcher(config.routesPath, {
    onText: (text) => {
      try {
        const table = parseRouteTable(text);
        const unsourced = state.applyTable(table);
        log.log('info', 'route table loaded', {
          path: config.routesPath,
          functions: Object.keys(table.functions).length,
          routes: table.routes.length,
        });
        if (unsourced.length > 0) {
          log.log(
            'warn',
            'functions scale to zero but the router has no endpoint source: their requests are not held',
            {
              functions: unsourced,
              fix: `set ${ActivatorEnv.ENDPOINTS} to ${Object.values(EndpointSources).join(' or ')}`,
            },
          );
        }
      } catch (err) {
        const reason = err instanceof RouteTableError ? err.message : String(err);
        log.log('error', state.matcher ? 'route table rejected, keeping the previous one' : 'route table rejected', {
          path: config.routesPath,
          reason,
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
  const adminServer = createAdminServer(
    state,
    combineAdminHandlers(routerAdminHandlers(state, timeouts), scalingHandlers(state.activator)),
  );
  for (const s of [server, adminServer]) {
    s.on('error', (err) => {
      log.log('error', 'server error', { reason: err.message, admin: s === adminServer });
      log.flush();
      process.exit(1);
    });
  }
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
    // After the public listener: readiness (served here) then implies the public port is open.
    adminServer.listen({ port: config.adminPort, host: config.adminHost }, () => {
      const admin = adminServer.address() as AddressInfo;
      log.log('info', 'admin listening', {
        port: admin.port,
        host: admin.address,
        endpoints: config.endpointSource ?? 'none',
      });
    });
  });

  const shutdown = installRouterShutdown({
    server,
    adminServer,
    state,
    config,
    stopBackground: () => {
      watcher.stop();
      stopEndpoints();
    },
    exit: (code) => process.exit(code),
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    // One bad request must not take the replica down; log it and carry on.
    log.log('error', 'uncaught exception', { reason: err.stack ?? String(err) });
  });
}

/** Starts the configured endpoint source; returns how to stop it. Exits when it cannot start. */
async function startEndpointSource(config: RouterConfig, state: RouterState, log: RouterLog): Promise<() => void> {
  if (config.endpointSource !== EndpointSources.kubernetes) return () => undefined;
  const { EndpointSliceWatch, inClusterAccess } = await import('./activator/endpoint-slices');
  let watch: InstanceType<typeof EndpointSliceWatch>;
  try {
    const access = inClusterAccess(process.env, config.serviceAccountDir, config.namespace);
    watch = new EndpointSliceWatch(access, {
      onReady: (service, ready) => state.activator.setReadyEndpoints(service, ready),
      onSynced: () => {
        state.activator.markSynced();
        log.log('info', 'endpoints synced', { namespace: access.namespace });
      },
      onProblem: (message, fields) => log.log('warn', message, fields),
    });
  } catch (err) {
    log.log('error', 'cannot watch EndpointSlices', {
      reason: (err as Error).message,
      fix: 'mount the service-account token (automountServiceAccountToken) and grant get/list/watch on endpointslices',
    });
    log.flush();
    process.exit(1);
  }
  watch.start();
  return () => watch.stop();
}

void main();
