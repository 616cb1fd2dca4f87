import type { Server } from 'node:http';
import type { RouterConfig } from './config';
import type { RouterState } from './state';

export interface RouterShutdownParts {
  /** The public listener's server. */
  readonly server: Server;
  /** The admin listener's: it keeps answering readiness (503) during the drain and closes with the public one. */
  readonly adminServer?: Server;
  readonly state: RouterState;
  readonly config: Pick<RouterConfig, 'drainDelayMs' | 'shutdownGraceMs'>;
  /** Stops whatever else runs (the route-table watcher). */
  readonly stopBackground: () => void;
  readonly exit: (code: number) => void;
}

/**
 * SIGTERM/SIGINT handling of the router (timing from the manifest, constructs/shutdown.ts):
 * readiness turns 503 and responses carry `Connection: close` at once, but the listener stays open
 * for the drain delay, so requests that load balancers and kube-proxy still send here while the
 * endpoints update are served rather than refused. Then the listener closes, idle keep-alive
 * connections (both HTTP paths) close, in-flight requests get the grace, and the process exits.
 */
export function installRouterShutdown(parts: RouterShutdownParts): (signal: string) => void {
  const { server, state, config } = parts;
  const log = state.log;
  let stopping = false;

  const closeListener = (): void => {
    log.log('info', 'closing the listener: finishing in-flight requests', { graceMs: config.shutdownGraceMs });
    const force = setTimeout(() => {
      log.log('warn', 'grace period over, exiting with requests still in flight');
      log.flush();
      parts.exit(0);
    }, config.shutdownGraceMs);
    force.unref();
    parts.stopBackground();
    state.stopListening();
    const servers = parts.adminServer ? [server, parts.adminServer] : [server];
    void Promise.all(servers.map((s) => new Promise<void>((closed) => s.close(() => closed())))).then(() =>
      Promise.all([state.closeUpstreams(1000), state.asyncCalls?.close(1000)]).then(() => {
        log.log('info', 'stopped');
        log.flush();
        parts.exit(0);
      }),
    );
    // Idle keep-alive connections would hold close() open; busy ones close after their response.
    for (const s of servers) s.closeIdleConnections();
  };

  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    // Readiness turns 503 and responses carry `Connection: close` from here on.
    state.startDraining();
    log.log('info', 'shutting down: draining, then finishing in-flight requests', {
      signal,
      drainDelayMs: config.drainDelayMs,
      graceMs: config.shutdownGraceMs,
    });
    if (config.drainDelayMs > 0) setTimeout(closeListener, config.drainDelayMs);
    else closeListener();
  };
  return shutdown;
}
