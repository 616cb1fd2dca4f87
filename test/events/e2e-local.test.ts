/**
 * End to end through the local runner, with a real nats-server: the events example
 * (examples/events/app.ts) synthesized, run as local processes, and driven over HTTP and NATS.
 * - publish → function → responseTopic (the order pipeline), and a poison message → dead letter;
 * - POST /async-function/<name> → 202 + call id → status endpoint → callback with the result;
 * - a cron tick fired on demand reaches its function through JetStream.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { connect, type Msg, type NatsConnection } from 'nats';
import { LocalPlatform } from '../../src/local';
import { LogCapture } from '../local/helpers';

jest.setTimeout(90_000);

const root = path.resolve(__dirname, '..', '..');

/**
 * Subscribes now (flushed, so the server knows before anything is published) and resolves with the
 * next message on `subject` that satisfies `test`.
 */
async function nextMessage(
  nc: NatsConnection,
  subject: string,
  test: (m: Msg) => boolean = () => true,
): Promise<{ readonly message: Promise<Msg> }> {
  const sub = nc.subscribe(subject);
  await nc.flush();
  // Wrapped: an async function returning a bare promise would wait for it.
  const message = (async () => {
    for await (const m of sub) {
      if (test(m)) {
        sub.unsubscribe();
        return m;
      }
    }
    throw new Error(`subscription to ${subject} ended`);
  })();
  return { message };
}

const json = (m: Msg): Record<string, any> => JSON.parse(Buffer.from(m.data).toString('utf8'));

describe('events end to end (local runner + nats-server)', () => {
  const log = new LogCapture();
  let platform: LocalPlatform;
  let nc: NatsConnection;
  let onCallback: (body: { headers: http.IncomingHttpHeaders; body: string }) => void = () => undefined;
  // The callback receiver listens before synth: its URL is the example's allowed callback prefix.
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.end('ok');
      onCallback({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    });
  });
  let receiverUrl: string;

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
    platform = await LocalPlatform.start({
      env: { ...process.env, EVENTS_CALLBACK_PREFIX: receiverUrl },
      app: path.join(root, 'examples/events/app.ts'),
      cwd: root,
      port: 0,
      log: log.sink,
      readyTimeoutMs: 60_000,
    });
    nc = await connect({ servers: `127.0.0.1:${platform.functions.get('kubefaas-nats')!.port}` });
  });

  afterAll(async () => {
    receiver.close();
    await nc?.close();
    await platform?.stop();
  });

  it('publish → queue-triggered function → responseTopic', async () => {
    const priced = await nextMessage(nc, 'topics.orders.priced', (m) => json(m).item === 'apple');
    const res = await fetch(`${platform.url}/orders`, {
      method: 'POST',
      body: JSON.stringify({ item: 'apple', quantity: 3 }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const result = json(await priced.message);
    expect(result).toMatchObject({ id, item: 'apple', quantity: 3, unitCents: 50, totalCents: 150 });
  });

  it('a message that keeps failing lands on the dead-letter topic with the error', async () => {
    const dead = await nextMessage(nc, 'topics.orders.failed');
    const res = await fetch(`${platform.url}/orders`, {
      method: 'POST',
      body: JSON.stringify({ item: 'durian', quantity: 1 }),
    });
    expect(res.status).toBe(202);
    const m = await dead.message;
    expect(json(m)).toMatchObject({ item: 'durian' });
    expect(m.headers?.get('Kubefaas-Error')).toContain("no price for item 'durian'");
    expect(m.headers?.get('Kubefaas-Function')).toBe('pricer');
    // maxRetries 2: three attempts in all.
    expect(m.headers?.get('Kubefaas-Attempts')).toBe('3');
  });

  it('POST /async-function/<name> → 202 + call id → status → callback with the result', async () => {
    const callback = new Promise<{ headers: http.IncomingHttpHeaders; body: string }>((r) => (onCallback = r));
    {
      // Outside the allowed prefix: refused by the router before anything is queued.
      const refused = await fetch(`${platform.url}/async-function/pricer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-callback-url': 'http://169.254.169.254/latest/meta-data' },
        body: '{}',
      });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: string }).error).toContain('PlatformProps.router.callbacks');
    }
    try {
      const callbackUrl = `${receiverUrl}done`;
      const res = await fetch(`${platform.url}/async-function/pricer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-callback-url': callbackUrl },
        body: JSON.stringify({ id: 'async-1', item: 'pear', quantity: 2 }),
      });
      expect(res.status).toBe(202);
      const callId = res.headers.get('x-call-id')!;
      expect(callId).toBeTruthy();

      const first = await fetch(`${platform.url}/async-function/pricer/${callId}`);
      expect(first.status).toBe(200);
      expect(['queued', 'running', 'succeeded']).toContain(((await first.json()) as { state: string }).state);

      const received = await callback;
      expect(received.headers['x-call-id']).toBe(callId);
      expect(JSON.parse(received.body)).toMatchObject({ id: 'async-1', totalCents: 130 });

      // The outcome is written once the POST was answered: poll for it (bounded).
      let final: unknown;
      for (let i = 0; i < 50; i++) {
        final = await (await fetch(`${platform.url}/async-function/pricer/${callId}`)).json();
        if ((final as { callback?: unknown }).callback !== undefined) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(final).toMatchObject({
        callId,
        state: 'succeeded',
        callback: { url: callbackUrl, delivered: true },
      });
    } finally {
      onCallback = () => undefined;
    }
  });

  it('a cron tick fired on demand reaches its function through JetStream', async () => {
    const report = await nextMessage(nc, 'topics.reports');
    const run = await platform.fireCron('hourly', 'report');
    expect(run).toMatchObject({ exitCode: 0, skipped: false });
    const body = json(await report.message);
    expect(body).toMatchObject({
      type: 'dev.kubefaas.cron.tick',
      trigger: 'hourly',
      data: { report: 'orders-per-hour' },
    });
  });
});
