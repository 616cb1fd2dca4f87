import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  ConfigMapDir,
  type RouterProcess,
  type Upstream,
  echoUpstream,
  killAllRouters,
  request,
  startRouter,
  startUpstream,
  table,
} from './harness';

/** A request as seen by the raw upstream: which connection (1, 2, …) carried it. */
interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly connection: number;
}

/** How the raw upstream answers: bytes to send, whether one byte per write, and whether to close after. */
interface Script {
  readonly bytes: string;
  readonly bytewise?: boolean;
  readonly then?: 'end' | 'destroy';
}

const SCRIPTS: Record<string, Script> = {
  'chunked-extensions-trailers': {
    bytes:
      'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n' +
      '5;name=value\r\nhello\r\n7 ; ext="quoted"\r\n, world\r\n0\r\nx-checksum: abc\r\n\r\n',
    bytewise: true,
  },
  'length-bytewise': {
    bytes: 'HTTP/1.1 200 OK\r\ncontent-length: 11\r\nx-custom: kept\r\n\r\nhello world',
    bytewise: true,
  },
  'length-zero': { bytes: 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n' },
  'early-hints': {
    bytes:
      'HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
  },
  head: { bytes: 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n' },
  'no-content': { bytes: 'HTTP/1.1 204 No Content\r\nx-note: empty\r\n\r\n' },
  'not-modified': { bytes: 'HTTP/1.1 304 Not Modified\r\netag: "v1"\r\n\r\n' },
  'connection-close': { bytes: 'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 4\r\n\r\nbye!', then: 'end' },
  'until-close': {
    bytes: 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nstreamed until the connection closes',
    bytewise: true,
    then: 'end',
  },
  'cut-body': { bytes: 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part of it', then: 'destroy' },
  'bad-chunk-size': {
    bytes: 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n',
  },
  // Malformed heads: the router must answer 502 and never relay them.
  'bad-status': { bytes: 'HTTP/1.1 2OO OK\r\ncontent-length: 0\r\n\r\n' },
  'not-http': { bytes: 'SSH-2.0-OpenSSH_9.6\r\n\r\n' },
  'both-lengths': { bytes: 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n' },
  'conflicting-lengths': { bytes: 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab' },
  'no-colon': { bytes: 'HTTP/1.1 200 OK\r\nbroken header line\r\ncontent-length: 0\r\n\r\n' },
  'folded-header': { bytes: 'HTTP/1.1 200 OK\r\nx-a: 1\r\n  folded: 2\r\ncontent-length: 0\r\n\r\n' },
  'switching-protocols': {
    bytes: 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
  },
};

/** A TCP server that reads bodiless requests and answers each with the script named by its path. */
async function rawUpstream(): Promise<{ url: string; requests: RawRequest[]; close(): Promise<void> }> {
  const requests: RawRequest[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    const id = ++connections;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setEncoding('latin1');
    let buffered = '';
    let answering = Promise.resolve();
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const [method, path] = buffered.slice(0, end).split(' ');
        buffered = buffered.slice(end + 4);
        requests.push({ method, path, connection: id });
        answering = answering.then(() => play(socket, SCRIPTS[path.slice('/raw/'.length)]));
      }
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  };
}

async function play(socket: net.Socket, script: Script | undefined): Promise<void> {
  if (script === undefined) {
    socket.destroy();
    return;
  }
  if (script.bytewise) {
    // One byte per write, each in its own event-loop turn: the router sees many small packets.
    for (const byte of script.bytes) {
      socket.write(byte, 'latin1');
      await new Promise((r) => setImmediate(r));
    }
  } else {
    socket.write(script.bytes, 'latin1');
  }
  if (script.then === 'end') socket.end();
  if (script.then === 'destroy') socket.destroy();
}

/** A GET whose response may be cut short: resolves with what arrived and whether it was complete. */
function fetchPartial(port: number, path: string): Promise<{ status: number; body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('latin1').on('data', (c: string) => (body += c));
        res.on('error', () => undefined);
        res.on('close', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete }));
      })
      .on('error', reject);
  });
}

describe('router: upstream HTTP/1.1 client', () => {
  let raw: Awaited<ReturnType<typeof rawUpstream>>;
  let echo: Upstream;
  let shortKeepAlive: Upstream;
  let routes: ConfigMapDir;
  let router: RouterProcess;

  beforeAll(async () => {
    raw = await rawUpstream();
    echo = await echoUpstream();
    shortKeepAlive = await startUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.end('fresh'));
    });
    // Closes idle keep-alive connections almost at once: the router must notice before reusing one.
    shortKeepAlive.server.keepAliveTimeout = 50;
    routes = new ConfigMapDir(
      table({ raw: raw.url, echo: echo.url, short: shortKeepAlive.url }, [
        { function: 'raw', methods: ['GET', 'HEAD'], path: '/raw/:case' },
        { function: 'echo', methods: ['POST'], path: '/echo' },
        { function: 'short', methods: ['POST'], path: '/short' },
      ]),
    );
    router = await startRouter(routes.file);
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await Promise.all([raw?.close(), echo?.close(), shortKeepAlive?.close()]);
    routes?.remove();
  });

  it('parses responses split into single bytes, chunk extensions, trailers, 1xx, HEAD, 204 and 304, keeping one connection', async () => {
    const before = raw.requests.length;
    const chunked = await request(router.port, { path: '/raw/chunked-extensions-trailers' });
    expect(chunked.status).toBe(200);
    expect(chunked.text()).toBe('hello, world');
    expect(chunked.headers['x-checksum']).toBeUndefined();

    const byLength = await request(router.port, { path: '/raw/length-bytewise' });
    expect([byLength.status, byLength.text(), byLength.headers['x-custom']]).toEqual([200, 'hello world', 'kept']);

    const empty = await request(router.port, { path: '/raw/length-zero' });
    expect([empty.status, empty.body.length, empty.headers['content-length']]).toEqual([200, 0, '0']);

    const hinted = await request(router.port, { path: '/raw/early-hints' });
    expect([hinted.status, hinted.text()]).toEqual([200, 'ok']);

    const head = await request(router.port, { method: 'HEAD', path: '/raw/head' });
    expect([head.status, head.body.length, head.headers['content-length']]).toEqual([200, 0, '5']);

    const noContent = await request(router.port, { path: '/raw/no-content' });
    expect([noContent.status, noContent.body.length, noContent.headers['x-note']]).toEqual([204, 0, 'empty']);

    const notModified = await request(router.port, { path: '/raw/not-modified' });
    expect([notModified.status, notModified.body.length, notModified.headers.etag]).toEqual([304, 0, '"v1"']);

    // Each response was framed exactly: the next request could reuse the same connection.
    const used = raw.requests.slice(before);
    expect(used).toHaveLength(7);
    expect(new Set(used.map((r) => r.connection)).size).toBe(1);
  });

  it('does not reuse a connection the function closes: Connection: close and close-delimited bodies', async () => {
    const closing = await request(router.port, { path: '/raw/connection-close' });
    expect([closing.status, closing.text()]).toEqual([200, 'bye!']);
    const untilClose = await request(router.port, { path: '/raw/until-close' });
    expect([untilClose.status, untilClose.text()]).toEqual([200, 'streamed until the connection closes']);
    const after = await request(router.port, { path: '/raw/length-zero' });
    expect(after.status).toBe(200);
    const [a, b, c] = raw.requests.slice(-3);
    expect(new Set([a.connection, b.connection, c.connection]).size).toBe(3);
  });

  it.each([
    'bad-status',
    'not-http',
    'both-lengths',
    'conflicting-lengths',
    'no-colon',
    'folded-header',
    'switching-protocols',
  ])('answers 502 to a malformed response head (%s) without retrying', async (name) => {
    const before = raw.requests.length;
    const reply = await request(router.port, { path: `/raw/${name}` });
    expect(reply.status).toBe(502);
    expect(reply.json().error).toMatch(/^function "raw" sent an invalid response: /);
    expect(raw.requests.length - before).toBe(1);
  });

  it('cuts the client response when the body breaks after the head was relayed', async () => {
    const cut = await fetchPartial(router.port, '/raw/cut-body');
    expect(cut).toEqual({ status: 200, body: 'only part of it', complete: false });
    const badChunk = await fetchPartial(router.port, '/raw/bad-chunk-size');
    expect(badChunk).toEqual({ status: 200, body: 'hello', complete: false });
  });

  it('streams a request body of unknown length with chunked encoding', async () => {
    const req = http.request({ host: '127.0.0.1', port: router.port, method: 'POST', path: '/echo', agent: false });
    const reply = new Promise<http.IncomingMessage>((resolve, reject) =>
      req.on('response', resolve).on('error', reject),
    );
    req.write('first part, ');
    req.write(Buffer.alloc(70_000, 'x'));
    req.end('last part');
    const res = await reply;
    let body = '';
    for await (const chunk of res) body += chunk;
    const echoed = JSON.parse(body);
    expect(echoed.bytes).toBe('first part, '.length + 70_000 + 'last part'.length);
    expect(echoed.headers['transfer-encoding']).toBe('chunked');
    expect(echoed.headers['content-length']).toBeUndefined();
  });

  it('sends a POST on a fresh connection after the function closed the idle one', async () => {
    const first = await request(router.port, { method: 'POST', path: '/short', body: 'one' });
    expect(first.status).toBe(200);
    const firstSocket = shortKeepAlive.received.at(-1)!.socket;
    if (!firstSocket.destroyed) await once(firstSocket, 'close');
    // Give the router's event loop a moment to see the FIN (this waits, it does not time anything).
    await new Promise((r) => setTimeout(r, 100));
    const second = await request(router.port, { method: 'POST', path: '/short', body: 'two' });
    expect([second.status, second.text()]).toEqual([200, 'fresh']);
    expect(shortKeepAlive.received.at(-1)!.socket).not.toBe(firstSocket);
  });

  it('logged no uncaught exceptions', () => {
    expect(router.logs.filter((l) => l.msg === 'uncaught exception')).toEqual([]);
  });
});
