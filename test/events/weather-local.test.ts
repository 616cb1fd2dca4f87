/**
 * The weather example (examples/weather, typed references) under `kubefaas dev`: synthesized, run as
 * local processes with a real nats-server. One function invokes another synchronously
 * (`ctx.invoke(converter, …)`, the runner having rewritten the synthesized Service URL to the local
 * process), and a reading goes HTTP → weather.raw → to-celsius → converter → weather.celsius.
 */
import * as path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { LocalPlatform } from '../../src/local';
import { LogCapture } from '../local/helpers';

jest.setTimeout(90_000);

const root = path.resolve(__dirname, '..', '..');

describe('the weather example under kubefaas dev', () => {
  const log = new LogCapture();
  let platform: LocalPlatform;
  let nc: NatsConnection;

  beforeAll(async () => {
    platform = await LocalPlatform.start({
      env: process.env,
      app: path.join(root, 'examples/weather/app.ts'),
      cwd: root,
      port: 0,
      log: log.sink,
      readyTimeoutMs: 60_000,
    });
    nc = await connect({ servers: `127.0.0.1:${platform.functions.get('kubefaas-nats')!.port}` });
  });

  afterAll(async () => {
    await nc?.close();
    await platform?.stop();
  });

  it('GET /convert/<city> → convert → ctx.invoke(converter) → the typed answer', async () => {
    const res = await fetch(`${platform.url}/convert/oslo?tempF=50`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ city: 'oslo', tempC: 10 });
    const bad = await fetch(`${platform.url}/convert/oslo?tempF=warm`);
    expect(bad.status).toBe(400);
  });

  it('POST /readings → weather.raw → to-celsius (invokes converter) → weather.celsius', async () => {
    const sub = nc.subscribe('topics.weather.celsius');
    await nc.flush();
    const next = (async () => {
      for await (const m of sub) {
        const body = JSON.parse(Buffer.from(m.data).toString('utf8'));
        if (body.city === 'bergen') return { body, traceparent: m.headers?.get('traceparent') };
      }
      throw new Error('subscription ended');
    })();
    const res = await fetch(`${platform.url}/readings`, {
      method: 'POST',
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      body: JSON.stringify({ city: 'bergen', tempF: 41 }),
    });
    expect(res.status).toBe(202);
    const { body, traceparent } = await next;
    sub.unsubscribe();
    expect(body).toEqual({ city: 'bergen', tempC: 5 });
    // One trace from the HTTP request through the queue and the sync call to the published result.
    expect(traceparent?.split('-')[1]).toBe('0af7651916cd43dd8448eb211c80319c');
  });
});
