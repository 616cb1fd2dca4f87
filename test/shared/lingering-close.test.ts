/**
 * The lingering close's bounds, on a real node:http server and raw sockets: after an early answer
 * the rest of a body is read and thrown away up to `maxBytes`, for at most `maxMs`; past either, the
 * connection is cut. And `discardBody`, for an answer that keeps the connection: a body is read
 * through (the connection serves on), one that goes on past `maxBytes` closes it lingering.
 */
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeLingering, discardBody, isLingering } from '../../src/shared/lingering-close';
import { RawClient } from '../router/raw-client';

/** Polls `test` every 50 ms until true or `ms` passed. */
async function within(ms: number, test: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await test()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

const BOUNDS = { maxBytes: 1024 * 1024, maxMs: 500 };

describe('closeLingering', () => {
  let server: http.Server;
  let port: number;
  const lingered: boolean[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      // Refuses at once, without reading the body.
      closeLingering(req, BOUNDS);
      lingered.push(isLingering(req.socket));
      res.writeHead(413, { 'content-length': '0', connection: 'close' });
      res.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  const refused = async (): Promise<{ client: RawClient; openedAt: number }> => {
    const client = await RawClient.open(port);
    const openedAt = Date.now();
    client.send(`POST / HTTP/1.1\r\nHost: linger\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`);
    expect((await client.read({ timeoutMs: 3000 })).status).toBe(413);
    return { client, openedAt };
  };

  test('reads and discards up to maxBytes after the answer, then cuts the connection', async () => {
    const { client } = await refused();
    const sent = await client.sendBody(32 * 1024 * 1024);
    await once(client.socket, 'close');
    // Cut after a little over maxBytes (plus what the kernel buffers on both sides), long before 32 MiB.
    expect(sent).toBeGreaterThanOrEqual(BOUNDS.maxBytes);
    expect(sent).toBeLessThan(24 * 1024 * 1024);
    expect(client.error).toBeDefined();
    expect(lingered.every(Boolean)).toBe(true);
  });

  test('a client that stops sending mid-body is closed after maxMs', async () => {
    const { client, openedAt } = await refused();
    // Still read and discarded while the connection lingers (the server half-closed it: FIN).
    expect(await client.sendBody(1000)).toBe(1000);
    expect(await client.closedWithin(1000)).toBe(true);
    // Gone after maxMs: what the client sends now is answered with a reset.
    const sent = await within(BOUNDS.maxMs + 3000, async () => (await client.sendBody(1000)) < 1000);
    const openFor = Date.now() - openedAt;
    expect(sent).toBe(true);
    expect(openFor).toBeGreaterThanOrEqual(BOUNDS.maxMs - 50);
  });

  test('a client that finishes its body and closes gets a clean close (no reset)', async () => {
    const { client } = await refused();
    // Within the byte bound but past the declared length: the declared 64 MiB are not needed for a
    // clean close, only that the client stops sending and closes.
    expect(await client.sendBody(512 * 1024)).toBe(512 * 1024);
    client.end();
    await once(client.socket, 'close');
    expect(client.error).toBeUndefined();
  });
});

describe('discardBody', () => {
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/next') {
        res.end('next');
        return;
      }
      // Answers at once, keeping the connection, then disposes of the body.
      res.writeHead(400, { 'content-length': '0' });
      res.end();
      discardBody(req, BOUNDS);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  test('a chunked body within maxBytes is read through: the connection serves the next request', async () => {
    const client = await RawClient.open(port);
    client.send('POST / HTTP/1.1\r\nHost: linger\r\nTransfer-Encoding: chunked\r\n\r\n');
    expect((await client.read({ timeoutMs: 3000 })).status).toBe(400);
    client.send(`80000\r\n`);
    expect(await client.sendBody(0x80000)).toBe(0x80000);
    client.send('\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: linger\r\n\r\n');
    expect((await client.read({ timeoutMs: 3000 })).body).toBe('next');
    client.close();
  });

  test('a chunked body going on past maxBytes: the connection closes (FIN), lingering, then is cut', async () => {
    const client = await RawClient.open(port);
    client.send('POST / HTTP/1.1\r\nHost: linger\r\nTransfer-Encoding: chunked\r\n\r\n');
    expect((await client.read({ timeoutMs: 3000 })).status).toBe(400);
    client.send(`${(64 * 1024 * 1024).toString(16)}\r\n`);
    const sent = await client.sendBody(32 * 1024 * 1024);
    expect(await client.closedWithin(3000)).toBe(true);
    // Discarded for maxBytes, then lingering for up to maxBytes more, then cut.
    expect(sent).toBeGreaterThanOrEqual(BOUNDS.maxBytes);
    expect(sent).toBeLessThan(24 * 1024 * 1024);
    client.close();
  });
});
