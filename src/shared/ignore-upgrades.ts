/**
 * Protocol upgrades (`Connection: upgrade` + `Upgrade: websocket | h2c …`) are ignored, as RFC 9110
 * §7.8 lets a server do: the request is served as the plain HTTP/1.1 request it also is. Shared by
 * the function runtime and the router (neither serves an upgraded protocol).
 *
 * It takes more than not listening for 'upgrade': node:http then still calls the request handler,
 * but llhttp has switched to upgrade mode at the head. A malformed body is no longer rejected (the
 * request waits for a body that never completes: a 504 at the timeout instead of a 400), and any
 * request that follows on the connection is dropped. So the servers do listen for 'upgrade', and
 * give the connection back to node with the request's head rewritten without the upgrade, followed
 * by the bytes that came after the head: node parses the request again, now as an ordinary one.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Serves upgrade requests on `server` as ordinary requests (its connection listener parses them again). */
export function ignoreUpgrades(server: Server): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, rest: Buffer) => {
    socket.unshift(rest.length === 0 ? withoutUpgrade(req) : Buffer.concat([withoutUpgrade(req), rest]));
    // Whatever listens for connections (node's own listener, or the router's fast path in front of
    // it) starts on this socket as on a new one and reads the rewritten head first: once the
    // responses to requests pipelined before this one are out, which node's old state still writes.
    afterResponses(socket, () => server.emit('connection', socket));
  });
}

/**
 * Calls `then` once no response is in progress on `socket`. node:http keeps the response being
 * written on the socket's `_httpMessage` (and assigns the next pipelined one there when it
 * finishes); undocumented but what its own HTTP client and server have used for a decade.
 */
function afterResponses(socket: Duplex, then: () => void): void {
  if (socket.destroyed) return;
  const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (current == null) {
    then();
    return;
  }
  // 'close' follows a finished response too (after node moved the socket on to the next one).
  current.once('close', () => afterResponses(socket, then));
}

/** The request's head, as received (latin1: the bytes), minus `Upgrade` and the `upgrade` token of `Connection`. */
export function withoutUpgrade(req: IncomingMessage): Buffer {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    if (lower === 'upgrade') continue;
    let value = raw[i + 1];
    if (lower === 'connection') {
      value = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token !== '' && token.toLowerCase() !== 'upgrade')
        .join(', ');
      if (value === '') continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${head}\r\n`, 'latin1');
}
