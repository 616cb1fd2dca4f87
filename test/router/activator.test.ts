/**
 * The router as activator (issue 10): requests for a function at zero are held in a bounded FIFO
 * until it has a ready endpoint, then forwarded; the scaler reads counts and a watch stream from
 * the admin port. Real router processes (both HTTP paths), real upstream servers, endpoints pushed
 * over the admin port as the local runner pushes them.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { MetricNames, QueueEnv, SCALING_HEARTBEAT_MS } from '../../src/contract';
import { NatsServer } from '../queue/nats-server';
import { testConfig } from '../queue/support';
import {
  closeServer,
  coldTable,
  counts,
  echo,
  listenOn,
  pushEndpoints,
  startActivatorRouter,
  waitForWaiting,
  WatchStream,
  type ActivatorRouter,
} from './activator-harness';
import { ConfigMapDir, eventually, freePort, killAllRouters, request, type Reply } from './harness';
import { RawClient } from './raw-client';

/** A GET that resolves with its reply (status 0 and the error for a connection failure). */
function get(port: number, path: string): Promise<Reply | Error> {
  return request(port, { path }).catch((err: Error) => err);
}

/** Resident set size of a process, from /proc (Linux). */
function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (kb === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb[1]) * 1024;
}

function statusOf(reply: Reply | Error): number {
  return reply instanceof Error ? 0 : reply.status;
}

describe.each([
  ['fast path', {}],
  ['node:http path', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router activator (%s)', (_label, env: Record<string, string>) => {
  const servers: http.Server[] = [];
  const dirs: ConfigMapDir[] = [];
  const routers: ActivatorRouter[] = [];

  /** A router whose one function `cold` scales to zero and will listen on a port not bound yet. */
  async function coldRouter(scaling: Parameters<typeof coldTable>[1] = {}) {
    const fnPort = await freePort();
    const dir = new ConfigMapDir(coldTable(`http://127.0.0.1:${fnPort}`, scaling));
    dirs.push(dir);
    const r = await startActivatorRouter(dir.file, env);
    routers.push(r);
    return { ...r, fnPort, endpoint: `127.0.0.1:${fnPort}` };
  }

  async function serve(port: number, handler: http.RequestListener): Promise<http.Server> {
    const server = await listenOn(port, handler);
    servers.push(server);
    return server;
  }

  afterEach(async () => {
    await Promise.all(servers.splice(0).map(closeServer));
    await Promise.all(routers.splice(0).map((r) => r.router.stop()));
    for (const dir of dirs.splice(0)) dir.remove();
  });
  afterAll(() => killAllRouters());

  it('holds a request for a function with no ready endpoint and answers it once the function is ready', async () => {
    const r = await coldRouter();
    const before = await counts(r.adminPort);
    expect(before.router).toBe('router-a');
    expect(before.functions.cold).toEqual({ inFlight: 0, waiting: 0, requestsTotal: 0, readyEndpoints: -1 });

    const pendingGet = get(r.port, '/cold?n=1');
    // A chunked body: on the fast-path router this request goes through node:http too.
    const pendingPost = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: r.port, method: 'POST', path: '/function/cold/upload', agent: false },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('part one, ');
      req.end('part two');
    });
    await waitForWaiting(r.adminPort, 'cold', 2);
    expect((await counts(r.adminPort)).functions.cold).toMatchObject({ waiting: 2, inFlight: 0, requestsTotal: 2 });

    await serve(r.fnPort, echo);
    expect((await pushEndpoints(r.adminPort, 'cold', [r.endpoint])).status).toBe(204);

    const got = await pendingGet;
    expect(statusOf(got)).toBe(200);
    expect((got as Reply).json()).toMatchObject({ method: 'GET', url: '/cold?n=1' });
    const posted = await pendingPost;
    expect(posted.status).toBe(200);
    expect(JSON.parse(posted.body)).toEqual({ method: 'POST', url: '/upload', body: 'part one, part two' });

    const after = await counts(r.adminPort);
    expect(after.functions.cold).toEqual({ inFlight: 0, waiting: 0, requestsTotal: 2, readyEndpoints: 1 });
    // Warm now: a new request is forwarded at once.
    expect(statusOf(await get(r.port, '/cold?n=2'))).toBe(200);

    const metrics = (await request(r.adminPort, { path: '/metrics' })).text();
    expect(metrics).toContain(`${MetricNames.routerColdStarts}{function="cold"} 1`);
    expect(metrics).toContain(`${MetricNames.routerHoldDuration}_count{function="cold",outcome="forwarded"} 2`);
    expect(metrics).toContain(`${MetricNames.routerHeldRequests}{function="cold"} 0`);
  });

  it('answers 1,000 concurrent requests held through a cold start, each with its own answer, none lost or duplicated', async () => {
    const r = await coldRouter({ holdQueueLimit: 1_000 });
    const N = 1_000;
    // 1,000 concurrent connections once (answered 404) first, so the baseline already includes
    // what any 1,000 connections cost; the difference is what holding costs.
    expect(new Set((await Promise.all(Array.from({ length: N }, () => get(r.port, '/none')))).map(statusOf))).toEqual(
      new Set([404]),
    );
    const rssBefore = rssBytes(r.router.proc.pid!);
    const pending: Array<Promise<Reply | Error>> = [];
    for (let i = 0; i < N; i++) pending.push(get(r.port, `/cold?i=${i}`));
    await waitForWaiting(r.adminPort, 'cold', N);
    // The budget: 1,000 held requests cost at most 20 MB of router RSS.
    const held = rssBytes(r.router.proc.pid!) - rssBefore;
    expect(held).toBeLessThan(20 * 1024 * 1024);

    const received: string[] = [];
    await serve(r.fnPort, (req, res) => {
      received.push(req.url ?? '');
      echo(req, res);
    });
    await pushEndpoints(r.adminPort, 'cold', [r.endpoint]);
    const replies = await Promise.all(pending);

    const wrong = replies.filter(
      (reply, i) => statusOf(reply) !== 200 || (reply as Reply).json().url !== `/cold?i=${i}`,
    );
    expect(wrong).toEqual([]);
    expect(received).toHaveLength(N);
    expect(new Set(received).size).toBe(N);
    expect((await counts(r.adminPort)).functions.cold).toMatchObject({ waiting: 0, inFlight: 0, requestsTotal: N });
  });

  it('answers 503 with Retry-After over the hold-queue bound, and forwards the requests it held', async () => {
    const r = await coldRouter({ holdQueueLimit: 3 });
    const held = [get(r.port, '/cold?h=0'), get(r.port, '/cold?h=1'), get(r.port, '/cold?h=2')];
    await waitForWaiting(r.adminPort, 'cold', 3);
    const over = await get(r.port, '/cold?h=3');
    expect(statusOf(over)).toBe(503);
    expect((over as Reply).headers['retry-after']).toBe('1');
    expect((over as Reply).json().error).toMatch(/too many requests are already waiting/);

    await serve(r.fnPort, echo);
    await pushEndpoints(r.adminPort, 'cold', [r.endpoint]);
    expect((await Promise.all(held)).map(statusOf)).toEqual([200, 200, 200]);
    const metrics = (await request(r.adminPort, { path: '/metrics' })).text();
    expect(metrics).toContain(`${MetricNames.routerHoldRejections}{function="cold"} 1`);
  });

  it('answers 504 with a JSON body when the function does not become ready within the activation timeout', async () => {
    const r = await coldRouter({ activationTimeoutMs: 300 });
    const started = performance.now();
    const reply = await get(r.port, '/cold');
    const elapsed = performance.now() - started;
    expect(statusOf(reply)).toBe(504);
    expect((reply as Reply).headers['content-type']).toMatch(/^application\/json/);
    expect((reply as Reply).json().error).toBe(
      'function "cold" did not become ready within 300 ms: no ready endpoint to send the request to',
    );
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect((await counts(r.adminPort)).functions.cold).toMatchObject({ waiting: 0, inFlight: 0 });
    const metrics = (await request(r.adminPort, { path: '/metrics' })).text();
    expect(metrics).toContain(`${MetricNames.routerHoldDuration}_count{function="cold",outcome="timeout"} 1`);
  });

  it('a client that leaves while held is dropped from the queue and never reaches the function', async () => {
    const r = await coldRouter();
    const client = await RawClient.open(r.port);
    client.send('GET /cold?gone=1 HTTP/1.1\r\nHost: t\r\n\r\n');
    await waitForWaiting(r.adminPort, 'cold', 1);
    client.close();
    await waitForWaiting(r.adminPort, 'cold', 0);
    const received: string[] = [];
    await serve(r.fnPort, (req, res) => {
      received.push(req.url ?? '');
      echo(req, res);
    });
    await pushEndpoints(r.adminPort, 'cold', [r.endpoint]);
    expect(statusOf(await get(r.port, '/cold?stayed=1'))).toBe(200);
    expect(received).toEqual(['/cold?stayed=1']);
  });

  it('a function that crashes while requests are held: requests it never got are held again and answered when it is back', async () => {
    const r = await coldRouter();
    const gets = [get(r.port, '/cold?g=0'), get(r.port, '/cold?g=1')];
    await waitForWaiting(r.adminPort, 'cold', 2);

    // The first process becomes ready, takes the requests, and crashes before answering: it stops
    // listening, the runner reports it gone, and its connections are cut.
    let crashed!: () => void;
    const crash = new Promise<void>((resolve) => (crashed = resolve));
    let taken = 0;
    const first = await listenOn(r.fnPort, (req) => {
      if (++taken === 2) crashed();
      req.resume();
    });
    await pushEndpoints(r.adminPort, 'cold', [r.endpoint]);
    await crash;
    const closed = new Promise<void>((done) => first.close(() => done()));
    await pushEndpoints(r.adminPort, 'cold', []);
    first.closeAllConnections();
    await closed;

    // GET is idempotent: retried on a fresh connection, refused (nothing listens), so held again.
    await waitForWaiting(r.adminPort, 'cold', 2);
    await serve(r.fnPort, echo);
    await pushEndpoints(r.adminPort, 'cold', [r.endpoint]);
    const replies = await Promise.all(gets);
    expect(replies.map(statusOf)).toEqual([200, 200]);
    expect(replies.map((reply) => (reply as Reply).json().url).sort()).toEqual(['/cold?g=0', '/cold?g=1']);
  });

  it('scaling 1 → 0 while a request is in flight loses nothing; the next request is held until it is back', async () => {
    const r = await coldRouter();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let slowArrived!: () => void;
    const arrived = new Promise<void>((resolve) => (slowArrived = resolve));
    await serve(r.fnPort, (req, res) => {
      if (req.url === '/cold?slow=1') {
        slowArrived();
        void released.then(() => echo(req, res));
        return;
      }
      echo(req, res);
    });
    await pushEndpoints(r.adminPort, 'cold', [r.endpoint]);
    const slow = get(r.port, '/cold?slow=1');
    await arrived;
    expect((await counts(r.adminPort)).functions.cold).toMatchObject({ inFlight: 1, waiting: 0 });

    await pushEndpoints(r.adminPort, 'cold', []); // the scaler took it to zero; the pod is draining
    const next = get(r.port, '/cold?next=1');
    await waitForWaiting(r.adminPort, 'cold', 1);
    release();
    const reply = await slow;
    expect(statusOf(reply)).toBe(200);
    expect((reply as Reply).json().url).toBe('/cold?slow=1');

    await pushEndpoints(r.adminPort, 'cold', [r.endpoint]);
    expect(statusOf(await next)).toBe(200);
  });

  it('streams an activate event within 50 ms of the first request waiting, and replays it to a late watcher', async () => {
    const r = await coldRouter();
    const watch = await WatchStream.open(r.adminPort);
    try {
      const hello = await watch.next((e) => e.type === 'heartbeat');
      expect(hello).toMatchObject({ type: 'heartbeat', router: 'router-a' });

      const client = await RawClient.open(r.port);
      const sentAt = performance.now();
      client.send('GET /cold HTTP/1.1\r\nHost: t\r\n\r\n');
      const activate = await watch.next((e) => e.type === 'activate');
      expect(activate).toMatchObject({ type: 'activate', router: 'router-a', function: 'cold' });
      expect(activate.receivedAt - sentAt).toBeLessThan(50);

      // A second request in the same activation asks for nothing more.
      const second = get(r.port, '/cold');
      await waitForWaiting(r.adminPort, 'cold', 2);
      const late = await WatchStream.open(r.adminPort);
      try {
        expect(await late.next((e) => e.type === 'activate')).toMatchObject({ function: 'cold' });
      } finally {
        late.close();
      }
      expect(watch.events.filter((e) => e.type === 'activate')).toHaveLength(1);

      await serve(r.fnPort, echo);
      await pushEndpoints(r.adminPort, 'cold', [r.endpoint]);
      expect(statusOf(await second)).toBe(200);
      expect((await client.read({ timeoutMs: 5000 })).status).toBe(200);
      client.close();
    } finally {
      watch.close();
    }
  });
});

describe('router activator: admin endpoints and table changes', () => {
  let dir: ConfigMapDir;
  let r: ActivatorRouter;
  let fnPort: number;

  beforeAll(async () => {
    fnPort = await freePort();
    dir = new ConfigMapDir(coldTable(`http://127.0.0.1:${fnPort}`));
    r = await startActivatorRouter(dir.file);
  });
  afterAll(async () => {
    await r?.router.stop();
    killAllRouters();
    dir?.remove();
  });

  it.each([
    ['not JSON', 'nope', 400],
    ['no list', '{}', 400],
    ['not host:port', '{"ready":["a b"]}', 400],
    ['a number', '{"ready":[1]}', 400],
  ])('refuses a pushed body that is %s', async (_label, body, status) => {
    const reply = await request(r.adminPort, { method: 'PUT', path: '/scaling/v1/endpoints/cold', body });
    expect(reply.status).toBe(status);
    expect(typeof reply.json().error).toBe('string');
  });

  it('refuses a bad function name, a wrong method, and unknown admin paths', async () => {
    expect(
      (await request(r.adminPort, { method: 'PUT', path: '/scaling/v1/endpoints/Not_A_Name', body: '{"ready":[]}' }))
        .status,
    ).toBe(400);
    expect((await request(r.adminPort, { method: 'GET', path: '/scaling/v1/endpoints/cold' })).status).toBe(405);
    expect((await request(r.adminPort, { method: 'POST', path: '/scaling/v1/counts' })).status).toBe(405);
    expect((await request(r.adminPort, { path: '/nothing' })).status).toBe(404);
    expect((await request(r.adminPort, { path: '/healthz' })).status).toBe(200);
    expect((await request(r.adminPort, { path: '/readyz' })).status).toBe(200);
  });

  it('writes a heartbeat on the watch stream every SCALING_HEARTBEAT_MS', async () => {
    const watch = await WatchStream.open(r.adminPort);
    try {
      const first = await watch.next((e) => e.type === 'heartbeat');
      const second = await watch.next((e) => e.type === 'heartbeat', watch.events.indexOf(first) + 1);
      expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(SCALING_HEARTBEAT_MS - 50);
      expect(second).toMatchObject({ type: 'heartbeat', router: 'router-a' });
    } finally {
      watch.close();
    }
  });

  it('answers held requests 503 at once when their function leaves the route table', async () => {
    const held = get(r.port, '/function/cold');
    await waitForWaiting(r.adminPort, 'cold', 1);
    const other = await freePort();
    dir.write({
      version: 1,
      functions: { other: { url: `http://127.0.0.1:${other}`, timeoutMs: 1000, invocation: { byName: ['GET'] } } },
      routes: [],
    });
    const reply = await held;
    expect(statusOf(reply)).toBe(503);
    expect((reply as Reply).json().error).toBe('function "cold" is being removed');
    await eventually(async () => (await counts(r.adminPort)).functions.other !== undefined);
    expect((await counts(r.adminPort)).functions.cold).toBeUndefined();
    // A function that does not scale to zero is never held, whatever the endpoints say.
    expect((await counts(r.adminPort)).functions.other).toMatchObject({ readyEndpoints: -1 });
    expect(statusOf(await get(r.adminPort, '/function/other'))).toBe(502);
  });
});

describe('router activator: async calls to a function at zero', () => {
  let nats: NatsServer;
  let dir: ConfigMapDir;
  let r: ActivatorRouter;

  beforeAll(async () => {
    nats = await NatsServer.start();
    dir = new ConfigMapDir(coldTable(`http://127.0.0.1:${await freePort()}`));
    r = await startActivatorRouter(dir.file, {
      [QueueEnv.NATS_URL]: nats.url,
      [QueueEnv.QUEUE_CONFIG]: JSON.stringify(testConfig('activator')),
    });
    await r.router.waitForLog((l) => l.msg === 'queue connected', 'queue connected');
  });
  afterAll(async () => {
    await r?.router.stop();
    killAllRouters();
    await nats?.dispose();
    dir?.remove();
  });

  it('stores the call at once (202, nothing held) and asks for the function to be woken', async () => {
    const watch = await WatchStream.open(r.adminPort);
    try {
      await watch.next((e) => e.type === 'heartbeat');
      const reply = await request(r.port, { method: 'POST', path: '/async-function/cold', body: 'job' });
      expect(reply.status).toBe(202);
      expect(await watch.next((e) => e.type === 'activate')).toMatchObject({ function: 'cold', router: 'router-a' });
      expect((await counts(r.adminPort)).functions.cold).toMatchObject({ waiting: 0, inFlight: 0 });
      // A second call while the activation is pending asks for nothing more.
      expect((await request(r.port, { method: 'POST', path: '/async-function/cold', body: 'job' })).status).toBe(202);
      const metrics = (await request(r.adminPort, { path: '/metrics' })).text();
      expect(metrics).toContain(`${MetricNames.routerColdStarts}{function="cold"} 1`);
    } finally {
      watch.close();
    }
  });
});
