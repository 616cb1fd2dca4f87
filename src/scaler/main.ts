/**
 * kubefaas scaler: KEDA's external scaler (gRPC, `externalscaler.ExternalScaler`) for the functions'
 * ScaledObjects, fed by what the router replicas see (their counts and activate events). Stateless:
 * everything it answers is rebuilt from the routers within one poll interval of a (re)start.
 * Bundled into lib/pod/scaler.js.
 */
import type { AddressInfo } from 'node:net';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ActivityHub } from './activity';
import { createAdminServer } from './admin';
import { ConfigError, type ScalerConfig, ScalerDefaults, formatAddress, readScalerConfig } from './config';
import { DemandBook } from './demand';
import { RouterDiscovery } from './discovery';
import { ScalerLog } from './log';
import { ScalerMetrics } from './metrics';
import { RouterPool } from './router-pool';
import { ScalerService } from './service';

/** KEDA's messages are a few hundred bytes; anything near this is not KEDA. */
const MAX_MESSAGE_BYTES = 256 * 1024;

async function main(): Promise<void> {
  const log = new ScalerLog();
  let config: ScalerConfig;
  try {
    config = readScalerConfig(process.env);
  } catch (err) {
    log.log('error', (err as ConfigError).message);
    log.flush();
    process.exit(1);
  }

  const book = new DemandBook({ staleAfterMs: config.staleAfterMs, rateWindowMs: config.rateWindowMs });
  const hub = new ActivityHub();
  const metrics = new ScalerMetrics({ liveRouters: () => book.live().length, openStreams: () => hub.size });
  let started = false;
  let stopping = false;
  const routersText =
    config.routers.kind === 'dns'
      ? `dns:${formatAddress(config.routers)}`
      : config.routers.addresses.map(formatAddress).join(',');
  const unavailable = (): string | undefined => {
    if (!started) return 'the scaler is starting: the routers have not been polled yet';
    if (book.live().length === 0) {
      return `no router replica answered in the last ${config.staleAfterMs} ms (routers: ${routersText})`;
    }
    return undefined;
  };

  const pool = new RouterPool({
    book,
    pollIntervalMs: config.pollIntervalMs,
    log,
    metrics,
    onActivate: (fn) => {
      book.activate(fn);
      metrics.activations.inc({ function: fn });
      hub.activated(fn);
    },
  });
  const discovery = new RouterDiscovery(config.routers, config.discoveryIntervalMs, (a) => pool.update(a), log);
  const service = new ScalerService({ book, hub, metrics, log, unavailable });

  const grpc = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    // Ping idle KEDA connections so a vanished operator's streams are closed, not kept forever.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
  });
  grpc.addService(ScalerService.definition(), service.implementation());
  const admin = createAdminServer({
    metrics,
    notReady: () => (stopping ? 'shutting down' : started ? undefined : 'starting: first poll of the routers'),
    liveRouters: () => book.live().length,
  });

  let grpcPort: number;
  let adminPort: number;
  try {
    grpcPort = await bindGrpc(grpc, config.host, config.grpcPort);
    adminPort = await new Promise<number>((resolve, reject) => {
      admin.once('error', reject);
      admin.listen({ port: config.adminPort, host: config.host }, () => {
        admin.off('error', reject);
        resolve((admin.address() as AddressInfo).port);
      });
    });
  } catch (err) {
    log.log('error', 'cannot listen', { reason: (err as Error).message });
    log.flush();
    process.exit(1);
  }
  log.log('info', 'listening', { grpcPort, adminPort, host: config.host ?? '', routers: routersText });

  // Streams learn of changes the polls reveal (activate events push on their own, at once).
  const refresh = setInterval(() => {
    if (unavailable() !== undefined) return;
    const live = book.live();
    hub.refresh((fn) => book.reading(fn, live).active);
  }, config.pollIntervalMs);

  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.log('info', 'shutting down', { signal });
    clearInterval(refresh);
    discovery.stop();
    pool.stop();
    // Ending the streams lets KEDA reopen them at once, on another replica behind the Service.
    service.endStreams();
    const force = setTimeout(() => {
      grpc.forceShutdown();
      finish();
    }, ScalerDefaults.shutdownGraceMs);
    force.unref();
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      admin.close();
      admin.closeAllConnections();
      log.log('info', 'stopped');
      log.flush();
      process.exit(0);
    };
    grpc.tryShutdown(finish);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    // A bad router answer or call must not take the scaler down; log it and carry on.
    log.log('error', 'uncaught exception', { reason: err.stack ?? String(err) });
  });

  await discovery.start();
  if (stopping) return;
  started = true;
  log.log('info', 'ready', { routers: book.live().length });
}

/** Binds `host:port` (every interface when host is unset: IPv6 and IPv4, or IPv4 where IPv6 is off). */
async function bindGrpc(server: Server, host: string | undefined, port: number): Promise<number> {
  const bind = (address: string): Promise<number> =>
    new Promise((resolve, reject) =>
      server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
  if (host !== undefined) return bind(`${host.includes(':') ? `[${host}]` : host}:${port}`);
  try {
    return await bind(`[::]:${port}`);
  } catch {
    return bind(`0.0.0.0:${port}`);
  }
}

void main();
