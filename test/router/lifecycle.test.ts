import * as http from 'node:http';
import { MetricNames } from '../../src/contract';
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

/** Value of one sample line of the Prometheus text format, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    const parts = labelText.split(',');
    if (wanted.every((w) => parts.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('router: metrics and shutdown', () => {
  let echo: Upstream;
  let held: Upstream;
  /** Requests the "held" upstream is sitting on, with a way to answer them. */
  const waiting: Array<() => void> = [];
  let heldArrived: () => void = () => undefined;
  const routers: RouterProcess[] = [];
  const dirs: ConfigMapDir[] = [];

  beforeAll(async () => {
    echo = await echoUpstream();
    held = await startUpstream((_req, res) => {
      waiting.push(() => res.end('finished after SIGTERM'));
      heldArrived();
    });
  });

  afterAll(async () => {
    for (const answer of waiting) answer();
    await Promise.all(routers.map((r) => r.stop()));
    killAllRouters();
    await Promise.all([echo, held].map((u) => u?.close()));
    for (const d of dirs) d.remove();
  });

  async function newRouter(): Promise<RouterProcess> {
    const routes = new ConfigMapDir(
      table({ echo: echo.url, held: held.url }, [
        { function: 'echo', methods: ['GET', 'POST'], path: '/items/:id' },
        { function: 'held', methods: ['GET'], path: '/held' },
      ]),
    );
    dirs.push(routes);
    const router = await startRouter(routes.file);
    routers.push(router);
    return router;
  }

  it('counts requests by route, method, status and function, and records durations', async () => {
    const router = await newRouter();
    for (let i = 0; i < 3; i++) expect((await request(router.port, { path: `/items/${i}` })).status).toBe(200);
    await request(router.port, { method: 'POST', path: '/items/9', body: '{}' });
    await request(router.adminPort, { path: '/function/echo/x' });
    await request(router.port, { path: '/missing' });
    await request(router.port, { method: 'DELETE', path: '/items/1' });

    const reply = await request(router.adminPort, { path: '/metrics' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^text\/plain/);
    const text = reply.text();
    const requests = MetricNames.routerRequests;
    expect(sample(text, requests, { route: '/items/:id', method: 'GET', status: '200', function: 'echo' })).toBe(3);
    expect(sample(text, requests, { route: '/items/:id', method: 'POST', status: '200', function: 'echo' })).toBe(1);
    expect(sample(text, requests, { route: '/function/echo', method: 'GET', status: '200', function: 'echo' })).toBe(1);
    expect(sample(text, requests, { route: '', method: 'GET', status: '404', function: '' })).toBe(1);
    expect(sample(text, requests, { route: '', method: 'DELETE', status: '405', function: '' })).toBe(1);
    expect(sample(text, `${MetricNames.routerUpstreamDuration}_count`, { function: 'echo' })).toBe(5);
    expect(sample(text, `${MetricNames.routerRequestDuration}_count`, { function: 'echo' })).toBe(5);
    // /healthz, /readyz and /metrics themselves are not counted as routed traffic.
    expect(text).not.toContain('route="/metrics"');
  });

  it('on SIGTERM stops accepting connections, finishes the request in flight, then exits 0', async () => {
    const router = await newRouter();
    const arrived = new Promise<void>((resolve) => (heldArrived = resolve));
    const inFlight = new Promise<{ status: number; body: string; connection?: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: router.port, path: '/held', agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
        })
        .on('error', reject);
    });
    await arrived;

    router.proc.kill('SIGTERM');
    await router.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'), 'shutdown line');
    await expect(request(router.port, { path: '/items/1' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(router.proc.exitCode).toBeNull();

    waiting.shift()!();
    const answered = await inFlight;
    expect(answered).toEqual({ status: 200, body: 'finished after SIGTERM', connection: 'close' });
    expect(await router.exited()).toBe(0);
    expect(router.logs.at(-1)).toMatchObject({ msg: 'stopped' });
  });
});
