/**
 * The scaler as KEDA sees it: the real bundle as a process, gRPC from a client built from the .proto
 * (protobufjs, not the scaler's own codec), stand-in routers over real sockets.
 */
import { execFileSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { ScalerEnv } from '../../src/contract';
import { ExternalScalerClient } from '../../src/scaler/client';
import { type ScalerClient, ScalerProcess, StandInRouter, eventually, ref, stopScalers } from './harness';

/** Fast polls so tests do not wait long; stale after 3 polls. */
const POLL_MS = 200;
const WINDOW_MS = 1_000;

function env(routers: readonly StandInRouter[] | string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    [ScalerEnv.ROUTERS]: typeof routers === 'string' ? routers : routers.map((r) => `127.0.0.1:${r.port}`).join(','),
    [ScalerEnv.POLL_INTERVAL_MS]: String(POLL_MS),
    [ScalerEnv.RATE_WINDOW_MS]: String(WINDOW_MS),
    ...extra,
  };
}

async function concurrencyOf(client: ScalerClient, fn: string): Promise<number> {
  const [value] = await client.metrics(ref(fn), `kubefaas-${fn}-concurrency`);
  return value.metricValueFloat;
}

function codeOf(promise: Promise<unknown>): Promise<number> {
  return promise.then(
    () => grpc.status.OK,
    (err: grpc.ServiceError) => err.code,
  );
}

afterAll(stopScalers);

describe('three router replicas', () => {
  const routers = [new StandInRouter('router-a'), new StandInRouter('router-b'), new StandInRouter('router-c')];
  let scaler: ScalerProcess;
  let client: ScalerClient;

  beforeAll(async () => {
    await Promise.all(routers.map((r) => r.start()));
    scaler = await ScalerProcess.start(env(routers));
    await scaler.ready();
    client = scaler.client();
    await Promise.all(routers.map((r) => r.waitForWatchers(1)));
  });
  afterAll(async () => {
    client?.close();
    await scaler?.stop();
    await Promise.all(routers.map((r) => r.kill()));
  });

  test('GetMetricSpec: the per-replica target from the trigger metadata', async () => {
    expect(await client.metricSpec(ref('resize'))).toEqual([
      { metricName: 'kubefaas-resize-concurrency', targetSize: 100, targetSizeFloat: 100 },
    ]);
    expect(await client.metricSpec(ref('resize', { targetConcurrency: '7.5' }))).toEqual([
      { metricName: 'kubefaas-resize-concurrency', targetSize: 8, targetSizeFloat: 7.5 },
    ]);
    // targetRps wins when both are set (contract: ScalerMetadata.targetRps).
    expect(await client.metricSpec(ref('resize', { targetConcurrency: '10', targetRps: '0.5' }))).toEqual([
      { metricName: 'kubefaas-resize-rps', targetSize: 1, targetSizeFloat: 0.5 },
    ]);
  });

  test('GetMetrics: in-flight + waiting summed over every router replica', async () => {
    routers[0].set('sum', { inFlight: 3, waiting: 1 });
    routers[1].set('sum', { inFlight: 2 });
    routers[2].set('sum', { waiting: 4, readyEndpoints: -1 }); // -1: the router knows no endpoints yet
    await eventually(async () => expect(await concurrencyOf(client, 'sum')).toBe(10));
    const [value] = await client.metrics(ref('sum', { targetConcurrency: '5' }), 'kubefaas-sum-concurrency');
    expect(value).toEqual({ metricName: 'kubefaas-sum-concurrency', metricValue: 10, metricValueFloat: 10 });
    // A function no router lists has no demand (it is not an error: it is at zero and idle).
    expect(await concurrencyOf(client, 'unknown')).toBe(0);
    expect(await client.isActive(ref('unknown'))).toBe(false);
    expect(await client.isActive(ref('sum'))).toBe(true);
  });

  test('GetMetrics with targetRps: requests per second over the window, summed', async () => {
    routers[0].set('rate', { requestsTotal: 0 });
    routers[1].set('rate', { requestsTotal: 1_000 });
    const started = Date.now();
    // 100 req/s on router a, 50 req/s on b, counted by the "router" as time passes.
    const ticker = setInterval(() => {
      const seconds = (Date.now() - started) / 1000;
      routers[0].set('rate', { requestsTotal: Math.floor(100 * seconds) });
      routers[1].set('rate', { requestsTotal: 1_000 + Math.floor(50 * seconds) });
    }, 20);
    try {
      const rpsRef = ref('rate', { targetRps: '10' });
      await eventually(async () => {
        const [value] = await client.metrics(rpsRef, 'kubefaas-rate-rps');
        expect(value.metricValueFloat).toBeGreaterThan(120);
        expect(value.metricValueFloat).toBeLessThan(180);
        expect(value.metricValue).toBe(Math.round(value.metricValueFloat));
      });
      // Requests within the window make the function active even with nothing in flight right now.
      expect(await client.isActive(rpsRef)).toBe(true);
    } finally {
      clearInterval(ticker);
    }
    // No new requests: the rate falls to zero once the window has passed.
    await eventually(async () => {
      const [value] = await client.metrics(ref('rate', { targetRps: '10' }), 'kubefaas-rate-rps');
      expect(value.metricValueFloat).toBe(0);
    });
    expect(await client.isActive(ref('rate'))).toBe(false);
  });

  test('StreamIsActive: true within 50 ms of a router activate event (no poll in that path)', async () => {
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const fn = `cold-${i}`;
      const stream = client.stream(ref(fn));
      await stream.next(0, (active) => active === false); // told the current state on open
      const from = stream.messages.length;
      const written = routers[i % 3].activate(fn);
      const pushed = await stream.next(from, (active) => active === true);
      latencies.push(pushed.at - written);
      stream.cancel();
    }
    latencies.sort((a, b) => a - b);
    // The median of five, so one scheduling hiccup of this shared machine does not decide; a path
    // through the counts poll would take up to POLL_MS (200 ms) here, and 1 s by default.
    expect(latencies[2]).toBeLessThanOrEqual(50);
    expect(latencies[4]).toBeLessThan(POLL_MS);
  });

  test('StreamIsActive: an activation holds for the rate window, then polling pushes false', async () => {
    const stream = client.stream(ref('blip'));
    await stream.next(0, (active) => !active);
    const written = routers[1].activate('blip');
    await stream.next(1, (active) => active);
    const after = stream.messages.length;
    const dropped = await stream.next(after, (active) => !active, 5_000);
    expect(dropped.at - written).toBeGreaterThanOrEqual(WINDOW_MS - 50);
    stream.cancel();
  });

  test('StreamIsActive: demand the polls reveal is pushed, and its end', async () => {
    const stream = client.stream(ref('warm'));
    await stream.next(0, (active) => !active);
    routers[2].set('warm', { inFlight: 1, requestsTotal: 1 });
    const up = stream.messages.length;
    await stream.next(up, (active) => active, 5_000);
    routers[2].set('warm', { inFlight: 0, requestsTotal: 1 });
    await stream.next(up + 1, (active) => !active, 5_000);
    // One message per change, not one per poll.
    expect(stream.messages.map((m) => m.result)).toEqual([false, true, false]);
    stream.cancel();
  });

  test('bad ScaledObject metadata: INVALID_ARGUMENT naming the problem; unknown metric: NOT_FOUND', async () => {
    const noFunction = { name: 'so', namespace: 'faas', scalerMetadata: { scalerAddress: 'x' } };
    await expect(client.isActive(noFunction)).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining("no 'function'"),
    });
    const bads: Array<Record<string, string>> = [
      { function: 'Not_A_Name' },
      { function: 'ok', targetConcurrency: '0' },
      { function: 'ok', targetConcurrency: 'ten' },
      { function: 'ok', targetRps: '-1' },
      { function: 'ok', targetRps: '1e3' },
    ];
    for (const bad of bads) {
      const r = { name: 'so', namespace: 'faas', scalerMetadata: bad };
      expect(await codeOf(client.metricSpec(r))).toBe(grpc.status.INVALID_ARGUMENT);
      expect(await codeOf(client.metrics(r, ''))).toBe(grpc.status.INVALID_ARGUMENT);
    }
    await expect(client.metrics(ref('sum'), 'kubefaas-other-concurrency')).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    // After a switch of target kind KEDA may still ask for the old metric: answered.
    expect(await codeOf(client.metrics(ref('sum', { targetRps: '1' }), 'kubefaas-sum-concurrency'))).toBe(
      grpc.status.OK,
    );
    const stream = client.stream(noFunction);
    expect((await stream.ended()).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  test('undecodable protobuf: INVALID_ARGUMENT, and the scaler keeps serving', async () => {
    const raw = new grpc.Client(`127.0.0.1:${scaler.grpcPort}`, grpc.credentials.createInsecure());
    const send = (bytes: Buffer): Promise<number> =>
      new Promise((resolveCode) =>
        raw.makeUnaryRequest(
          '/externalscaler.ExternalScaler/GetMetrics',
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          (err) => resolveCode(err ? err.code : grpc.status.OK),
        ),
      );
    expect(await send(Buffer.from([0x0a, 0x20, 0x01]))).toBe(grpc.status.INVALID_ARGUMENT); // truncated
    expect(await send(Buffer.from([0x0b, 0x00]))).toBe(grpc.status.INVALID_ARGUMENT); // a group
    expect(await send(Buffer.from([0x08, 0x01]))).toBe(grpc.status.INVALID_ARGUMENT); // wrong wire type
    expect(await send(Buffer.alloc(300 * 1024, 0x78))).toBe(grpc.status.RESOURCE_EXHAUSTED); // over 256 KiB
    raw.close();
    routers[0].set('alive', { inFlight: 1 });
    await eventually(async () => expect(await client.isActive(ref('alive'))).toBe(true));
  });

  test("ExternalScalerClient (the local runner's KEDA side, our codec both ways) speaks the same protocol", async () => {
    const ours = new ExternalScalerClient(`127.0.0.1:${scaler.grpcPort}`);
    try {
      routers[0].set('ours', { inFlight: 1 });
      routers[1].set('ours', { waiting: 2 });
      expect(await ours.getMetricSpec(ref('ours'))).toEqual([
        { metricName: 'kubefaas-ours-concurrency', targetSize: 100, targetSizeFloat: 100 },
      ]);
      await eventually(async () =>
        expect(await ours.getMetrics(ref('ours'), 'kubefaas-ours-concurrency')).toEqual([
          { metricName: 'kubefaas-ours-concurrency', metricValue: 3, metricValueFloat: 3 },
        ]),
      );
      expect(await ours.isActive(ref('ours'))).toBe(true);
      await expect(ours.isActive(ref('Bad'))).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
      const pushed: boolean[] = [];
      let ended: unknown = 'open';
      const cancel = ours.streamIsActive(
        ref('via-ours'),
        (active) => pushed.push(active),
        (err) => (ended = err),
      );
      await eventually(async () => expect(pushed).toEqual([false]));
      routers[0].activate('via-ours');
      await eventually(async () => expect(pushed).toEqual([false, true]));
      cancel();
      await eventually(async () => expect(ended).toMatchObject({ code: grpc.status.CANCELLED }));
    } finally {
      ours.close();
    }
  });

  test('admin port: health, readiness, metrics that promtool accepts', async () => {
    const stream = client.stream(ref('admin-fn'));
    await stream.next(0, (active) => !active);
    routers[0].activate('admin-fn');
    await stream.next(1, (active) => active);
    stream.cancel();
    await client.metrics(ref('admin-fn'), '');
    expect((await scaler.request('/healthz')).status).toBe(200);
    const ready = await scaler.request('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', routers: 3 });
    const metrics = await scaler.request('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^kubefaas_scaler_routers 3$/m);
    expect(metrics.text).toMatch(/^kubefaas_scaler_router_polls_total\{outcome="ok"\} \d+/m);
    expect(metrics.text).toMatch(/^kubefaas_scaler_grpc_requests_total\{method="GetMetrics",code="OK"\} \d+/m);
    expect(metrics.text).toMatch(/^kubefaas_scaler_activations_total\{function="admin-fn"\} 1$/m);
    expect(metrics.text).toMatch(/^kubefaas_scaler_pushes_total\{result="true"\} \d+/m);
    expect(metrics.text).toMatch(/^kubefaas_scaler_grpc_duration_seconds_bucket\{le="0.001",method="GetMetrics"\}/m);
    execFileSync('promtool', ['check', 'metrics'], { input: metrics.text });
    expect((await scaler.request('/nope')).status).toBe(404);
    expect((await scaler.request('/healthz', { method: 'POST' })).status).toBe(405);
  });
});

describe('router replicas coming and going', () => {
  let scaler: ScalerProcess | undefined;
  const extra: StandInRouter[] = [];
  afterEach(async () => {
    await scaler?.stop();
    await Promise.all(extra.splice(0).map((r) => r.kill()));
  });

  test('a router that dies is left out within a bounded time; restarted, it is counted and watched again', async () => {
    const a = await new StandInRouter('a-1').start();
    const b = await new StandInRouter('b-1').start();
    extra.push(a, b);
    a.set('fn', { inFlight: 5 });
    b.set('fn', { inFlight: 1 });
    scaler = await ScalerProcess.start(env([a, b]));
    await scaler.ready();
    const client = scaler.client();
    await eventually(async () => expect(await concurrencyOf(client, 'fn')).toBe(6));

    const killed = Date.now();
    await a.kill();
    await eventually(async () => expect(await concurrencyOf(client, 'fn')).toBe(1));
    // Stale after 3 polls; the bound allows for a loaded machine.
    expect(Date.now() - killed).toBeLessThan(3 * POLL_MS * 4);
    await scaler.waitForLog((l) => l.msg === 'router not answering');

    // The same address comes back as a new router process (new id, counters from zero).
    a.id = 'a-2';
    a.set('fn', { inFlight: 2 });
    await a.start();
    await eventually(async () => expect(await concurrencyOf(client, 'fn')).toBe(3));
    await a.waitForWatchers(1); // reconnected on its own
    const stream = client.stream(ref('other'));
    await stream.next(0, (active) => !active);
    a.activate('other');
    await stream.next(1, (active) => active, 2_000);
    stream.cancel();

    // Every router gone: UNAVAILABLE, not "no demand" (KEDA's fallback applies, nothing scales to zero blindly).
    await Promise.all([a.kill(), b.kill()]);
    await eventually(async () => expect(await codeOf(client.metrics(ref('fn'), ''))).toBe(grpc.status.UNAVAILABLE));
    expect(await codeOf(client.isActive(ref('fn')))).toBe(grpc.status.UNAVAILABLE);
    expect(await codeOf(client.metricSpec(ref('fn')))).toBe(grpc.status.OK); // needs no router
    client.close();
  });

  test('routers answering garbage are treated as not answering; the others still count', async () => {
    const good = await new StandInRouter('good').start();
    const notJson = await new StandInRouter('not-json').start();
    const wrongShape = await new StandInRouter('wrong-shape').start();
    const failing = await new StandInRouter('failing').start();
    extra.push(good, notJson, wrongShape, failing);
    good.set('fn', { waiting: 2 });
    good.set('Bad_Name', { waiting: 100 });
    notJson.countsBody = '{"router":';
    wrongShape.countsBody = JSON.stringify({ router: 'x', at: 1, functions: [] });
    failing.countsStatus = 500;
    scaler = await ScalerProcess.start(env([good, notJson, wrongShape, failing]));
    await scaler.ready();
    const client = scaler.client();
    await eventually(async () => expect(await concurrencyOf(client, 'fn')).toBe(2));
    // A bad entry next to good ones is skipped; so are negative or non-numeric counts.
    good.countsBody = JSON.stringify({
      router: 'good',
      at: Date.now(),
      functions: {
        fn: { inFlight: 1, waiting: 0, requestsTotal: 0, readyEndpoints: 1 },
        neg: { inFlight: -4, waiting: 0, requestsTotal: 0, readyEndpoints: 0 },
        str: { inFlight: '4', waiting: 0, requestsTotal: 0, readyEndpoints: 0 },
      },
    });
    await eventually(async () => expect(await concurrencyOf(client, 'fn')).toBe(1));
    expect(await concurrencyOf(client, 'neg')).toBe(0);
    expect(await concurrencyOf(client, 'str')).toBe(0);
    const ready = await scaler.request('/readyz');
    expect(ready.json().routers).toBe(1);
    expect(scaler.child.exitCode).toBeNull();
    client.close();
  });

  test('dns: discovery resolves the name and follows its addresses', async () => {
    const r = await new StandInRouter('dns-router').start();
    extra.push(r);
    r.set('fn', { inFlight: 4 });
    scaler = await ScalerProcess.start(env(`dns:localhost:${r.port}`, { [ScalerEnv.DISCOVERY_INTERVAL_MS]: '200' }));
    await scaler.ready();
    const client = scaler.client();
    expect(await concurrencyOf(client, 'fn')).toBe(4);
    const discovered = await scaler.waitForLog((l) => l.msg === 'routers discovered');
    expect(discovered.addresses).toContain('127.0.0.1');
    client.close();
  });

  test('a restarted scaler answers the same at once (stateless, rebuilt from the routers)', async () => {
    const r = await new StandInRouter('steady').start();
    extra.push(r);
    r.set('fn', { inFlight: 2, waiting: 3 });
    const first = await ScalerProcess.start(env([r]));
    await first.ready();
    await first.stop();
    scaler = await ScalerProcess.start(env([r]));
    await scaler.ready();
    const client = scaler.client();
    // Ready means the first poll is done: no warm-up period of wrong answers.
    expect(await concurrencyOf(client, 'fn')).toBe(5);
    expect(await client.isActive(ref('fn'))).toBe(true);
    client.close();
  });

  test('SIGTERM: open streams end with OK (KEDA reopens them elsewhere), the process exits 0', async () => {
    const r = await new StandInRouter('term').start();
    extra.push(r);
    scaler = await ScalerProcess.start(env([r]));
    await scaler.ready();
    const client = scaler.client();
    const stream = client.stream(ref('fn'));
    await stream.next(0, () => true);
    scaler.child.kill('SIGTERM');
    expect((await stream.ended()).code).toBe(grpc.status.OK);
    expect((await scaler.exited).code).toBe(0);
    client.close();
  });

  test('configuration errors: a clear message and exit 1', async () => {
    for (const routers of ['', 'dns:nohost', 'a:1,b', 'host:99999']) {
      const proc = ScalerProcess.start({ [ScalerEnv.ROUTERS]: routers });
      await expect(proc).rejects.toThrow(/exited with 1/);
    }
  });
});
