/**
 * Answers the runtime gives before it has read a request to its end, over real sockets: a 413 for a
 * body over the limit is followed by a lingering close (the client may go on sending the rest of its
 * body without being reset, and reads the 413 whatever it does), and an upgrade request is served
 * as the plain request it also is (its body parsed, malformed framing refused, the next request on
 * the connection served): issue 15 N2 and N4.
 */
import { once } from 'node:events';
import { RawClient } from '../router/raw-client';
import { RuntimeProcess, stopAll } from './process';

const HANDLER = `module.exports = (event) => ({
  method: event.method, bytes: event.body.length, upgrade: event.headers.upgrade ?? null,
  connection: event.headers.connection ?? null,
});`;

const LIMIT = 1024;

afterEach(stopAll);

/** Resolves when the client's socket is fully closed; rejects after `ms`. */
async function closed(client: RawClient, ms: number): Promise<void> {
  if (client.socket.destroyed) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      once(client.socket, 'close'),
      new Promise<void>((_, fail) => (timer = setTimeout(() => fail(new Error(`still open after ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a body over the limit: 413, then a lingering close', () => {
  test('the client sends the rest of its body after the 413 without a reset, then both sides close cleanly', async () => {
    const runtime = await RuntimeProcess.start(HANDLER, { KUBEFAAS_MAX_BODY_BYTES: String(LIMIT) });
    for (const framing of ['content-length', 'chunked'] as const) {
      const client = await RawClient.open(runtime.port);
      const total = 12 * 1024 * 1024; // more than the kernel buffers: a reset would show on the writes
      client.send(
        `POST /upload HTTP/1.1\r\nHost: runtime\r\n${
          framing === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${total}`
        }\r\n\r\n`,
      );
      // Chunked: one chunk of `total` bytes, its size line first.
      if (framing === 'chunked') client.send(`${total.toString(16)}\r\n`);
      await client.sendBody(64 * 1024);
      const answer = await client.read({ timeoutMs: 5000 });
      expect({ framing, status: answer.status, connection: answer.headers.connection }).toEqual({
        framing,
        status: 413,
        connection: 'close',
      });
      // Without a lingering close these writes meet a closed socket, and the kernel resets the connection.
      const sent = await client.sendBody(total - 64 * 1024);
      if (framing === 'chunked') client.send('\r\n0\r\n\r\n');
      client.end();
      await closed(client, 5000);
      expect({ framing, sent, error: client.error }).toEqual({ framing, sent: total - 64 * 1024, error: undefined });
    }
    // The runtime still serves, and served nothing for the refused requests.
    expect((await runtime.request('/ok', { method: 'POST', body: 'x'.repeat(LIMIT) })).json()).toMatchObject({
      bytes: LIMIT,
    });
  });

  test('a request pipelined after the refused body is not served (the connection is closing)', async () => {
    const runtime = await RuntimeProcess.start(HANDLER, { KUBEFAAS_MAX_BODY_BYTES: String(LIMIT) });
    const client = await RawClient.open(runtime.port);
    client.send(`POST /big HTTP/1.1\r\nHost: runtime\r\nContent-Length: ${LIMIT + 1}\r\n\r\n${'x'.repeat(LIMIT + 1)}`);
    client.send('GET /next HTTP/1.1\r\nHost: runtime\r\n\r\n');
    expect((await client.read({ timeoutMs: 5000 })).status).toBe(413);
    client.end();
    await closed(client, 5000);
    await expect(client.read({ timeoutMs: 100 })).rejects.toThrow(/closed before a complete response/);
    await runtime.waitForLog((l) => l.msg === 'request' && l.path === '/big');
    expect(runtime.logs.filter((l) => l.msg === 'request').map((l) => [l.path, l.status])).toEqual([['/big', 413]]);
  });
});

describe('upgrade requests are served as plain requests', () => {
  test('a malformed chunked body after Connection: Upgrade → 400, not a wait for the timeout', async () => {
    const runtime = await RuntimeProcess.start(HANDLER, { KUBEFAAS_TIMEOUT_MS: '30000' });
    const client = await RawClient.open(runtime.port);
    client.send(
      'POST / HTTP/1.1\r\nHost: runtime\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n',
    );
    expect((await client.read({ timeoutMs: 3000 })).status).toBe(400);
    client.close();
  });

  test('the body is read, the handler sees no upgrade, and the next request on the connection is served', async () => {
    const runtime = await RuntimeProcess.start(HANDLER);
    const client = await RawClient.open(runtime.port);
    client.send(
      'POST /a HTTP/1.1\r\nHost: runtime\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nContent-Length: 2\r\n\r\n{}' +
        'GET /b HTTP/1.1\r\nHost: runtime\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n' +
        'GET /c HTTP/1.1\r\nHost: runtime\r\n\r\n',
    );
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(JSON.parse((await client.read({ timeoutMs: 3000 })).body));
    client.close();
    expect(answers).toEqual([
      { method: 'POST', bytes: 2, upgrade: null, connection: 'keep-alive' },
      { method: 'GET', bytes: 0, upgrade: null, connection: 'HTTP2-Settings' },
      { method: 'GET', bytes: 0, upgrade: null, connection: null },
    ]);
  });
});
