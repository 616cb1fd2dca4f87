import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { type ClientTimeouts, DEFAULT_CLIENT_TIMEOUTS, deadlineCheckIntervalMs } from '../client-timeouts';
import type { RouterState } from '../state';
import { ClientConnection, type ConnectionHost } from './client-connection';
import { MAX_HEAD_BYTES, createHeadParser, type HeadParser } from './request-head-parser';

/**
 * The router's fast path: takes every new connection from the node:http server before node does,
 * serves bodiless requests itself (`ClientConnection`), and gives a connection to node:http — the
 * server's own `connection` listener, with the bytes not yet served — at the first request it does
 * not handle. Connections handed over are node's from then on, with all its limits and timeouts.
 *
 * Idle fast-path connections close after the same keep-alive timeout node uses, clients too slow to
 * send a head or body get 408 after the same client timeouts node:http applies — all checked by one
 * sweep over the connections (`deadlineCheckIntervalMs`) rather than with a timer per request — and
 * idle connections close at once when the router starts draining.
 */
export class FastPath implements ConnectionHost {
  private readonly connections = new Set<ClientConnection>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly idleSweepsAllowed: number;

  private constructor(
    private readonly server: Server,
    readonly state: RouterState,
    readonly parser: HeadParser,
    private readonly nodeConnectionListener: (this: Server, socket: Socket) => void,
    keepAliveTimeoutMs: number,
    private readonly timeouts: ClientTimeouts,
    /** Heads longer than this go to node:http (which answers 431 above the router's limit). */
    readonly maxHeadBytes: number,
  ) {
    const sweepMs = deadlineCheckIntervalMs(timeouts);
    this.idleSweepsAllowed = Math.max(1, Math.ceil(keepAliveTimeoutMs / sweepMs));
    this.sweeper = setInterval(this.sweep, sweepMs);
    this.sweeper.unref();
    server.on('connection', this.accept);
    server.on('close', () => clearInterval(this.sweeper));
    state.onDrain(() => {
      for (const connection of this.connections) connection.closeIfIdle();
    });
  }

  /**
   * Puts the fast path in front of `server` (a node:http server that is not listening yet).
   * Returns undefined, leaving the server as it was, when this node's HTTP parser is not usable.
   */
  static install(
    server: Server,
    state: RouterState,
    timeouts: ClientTimeouts = DEFAULT_CLIENT_TIMEOUTS,
    maxHeaderBytes: number = MAX_HEAD_BYTES,
  ): FastPath | undefined {
    const parser = createHeadParser();
    const listeners = server.listeners('connection');
    if (parser === undefined || listeners.length !== 1) return undefined;
    const nodeConnectionListener = listeners[0] as (this: Server, socket: Socket) => void;
    server.removeListener('connection', nodeConnectionListener);
    const maxHeadBytes = Math.min(MAX_HEAD_BYTES, maxHeaderBytes);
    return new FastPath(server, state, parser, nodeConnectionListener, server.keepAliveTimeout, timeouts, maxHeadBytes);
  }

  /** Connections currently served by the fast path. */
  get size(): number {
    return this.connections.size;
  }

  private readonly accept = (socket: Socket): void => {
    if (this.state.draining) {
      // A connection that slipped in while closing: node:http answers with `Connection: close`.
      this.handOver(socket, undefined);
      return;
    }
    this.connections.add(new ClientConnection(socket, this));
  };

  handOver(socket: Socket, unread: Buffer | undefined): void {
    if (unread !== undefined) socket.unshift(unread);
    this.nodeConnectionListener.call(this.server, socket);
  }

  released(connection: ClientConnection): void {
    this.connections.delete(connection);
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    for (const connection of this.connections) connection.sweep(now, this.timeouts, this.idleSweepsAllowed);
  };
}
