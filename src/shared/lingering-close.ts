/**
 * Lingering close, shared by the function runtime and the router's node:http path.
 *
 * A server that answers before it has read the request body (413, a timeout, an early answer of a
 * function) and then closes the connection leaves the client's unread bytes in its socket. The
 * kernel answers them, and every segment the client still sends, with a reset, and a reset often
 * destroys the answer in the client's receive buffer before the client has read it: the client sees
 * "connection reset" instead of the 413. So, as Apache and nginx do, close lingeringly: send the
 * answer, half-close (FIN), keep reading and throwing away what the client still sends, and close
 * for good when it stops — bounded in bytes and in time, after which the connection is cut anyway
 * (by then a client that reads while it sends has read the answer).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Most request-body bytes read and thrown away after an early answer. */
export const LINGER_MAX_BYTES = 16 * 1024 * 1024;
/** Longest a connection stays open after an early answer while the client goes on sending. */
export const LINGER_MAX_MS = 5_000;

export interface LingerBounds {
  /** @default LINGER_MAX_BYTES */
  readonly maxBytes?: number;
  /** @default LINGER_MAX_MS */
  readonly maxMs?: number;
}

/** Sockets closing lingeringly: what arrives on them is thrown away, never served. */
const lingering = new WeakSet<object>();

/** True while `socket` closes lingeringly: a request parsed from it now must not be served. */
export function isLingering(socket: Socket | null | undefined): boolean {
  return socket != null && lingering.has(socket);
}

/**
 * Closes `req`'s connection lingeringly once its response is finished. Call before the response is
 * finished; the response must carry `connection: close` (node ends the connection after such a
 * response, and that is where the lingering starts).
 *
 * The rest of `req`'s body is read (through node's parser, which keeps reading the socket) and
 * discarded; the connection closes when the client closes its side, or after `maxBytes` more body
 * bytes or `maxMs`, whichever comes first.
 */
export function closeLingering(req: IncomingMessage, bounds: LingerBounds = {}): void {
  const socket = req.socket as (Socket & { destroySoon?: () => void }) | null;
  if (socket === null || socket.destroyed || lingering.has(socket)) return;
  lingering.add(socket);
  const discard = discarding(req, socket, bounds.maxBytes ?? LINGER_MAX_BYTES);
  // node:http calls `socket.destroySoon()` (when the socket has one; else `end()`) once the last
  // response is finished: end our side, and destroy as soon as that is written. The destroy is what
  // resets the connection, so this socket does the first half only and destroys later.
  socket.destroySoon = () => {
    discard.start();
    linger(socket, bounds.maxMs ?? LINGER_MAX_MS);
  };
}

/**
 * After a response that keeps the connection (`req`'s body still arriving): reads the rest of the
 * body through and discards it, so the connection can carry the next request. A body that goes on
 * for more than `maxBytes` is not worth it: the connection then closes lingeringly from there.
 */
export function discardBody(req: IncomingMessage, bounds: LingerBounds = {}): void {
  if (req.readableEnded) return; // read to its end already (the common case)
  const socket = req.socket as Socket | null;
  if (socket === null || socket.destroyed || req.complete) {
    req.resume(); // a paused body with bytes still buffered holds the connection
    return;
  }
  if (lingering.has(socket)) return;
  const maxMs = bounds.maxMs ?? LINGER_MAX_MS;
  discarding(req, socket, bounds.maxBytes ?? LINGER_MAX_BYTES, () => {
    // The answer is out and said keep-alive; a server may close any connection between requests.
    lingering.add(socket);
    linger(socket, maxMs);
    return bounds.maxBytes ?? LINGER_MAX_BYTES;
  }).start();
}

/**
 * Reads `req`'s body from now on (so node does not dump it at the end of the response: a dumped
 * body's bytes are dropped by the parser where nothing could count them) and throws it away once
 * `start`ed. Past `maxBytes`: `over()` gives more room (returns how much), else the socket is cut.
 */
function discarding(req: IncomingMessage, socket: Socket, maxBytes: number, over?: () => number): { start(): void } {
  let started = false;
  let room = maxBytes;
  let extended = false;
  req.on('data', (chunk: Buffer) => {
    if (!started) return;
    room -= chunk.length;
    if (room >= 0) return;
    if (over !== undefined && !extended) {
      extended = true;
      room += over();
      if (room >= 0) return;
    }
    socket.destroy();
  });
  return {
    start() {
      started = true;
      req.resume();
    },
  };
}

/** Half-closes `socket` (FIN) and destroys it after `maxMs` unless the client closed first. */
function linger(socket: Socket, maxMs: number): void {
  if (socket.writable) socket.end();
  const timer = setTimeout(() => socket.destroy(), maxMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
