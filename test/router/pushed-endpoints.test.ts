/**
 * Pushed endpoints (the `push` source, what the local runner's replicas report): the router sends a
 * function's requests to every pushed endpoint in turn, stops sending to one that leaves the set
 * while its in-flight requests finish, and falls back to the route table's URL when none is pushed.
 * Real router processes (both HTTP paths) and real upstream servers.
 */
import * as http from 'node:http';
import {
  closeServer,
  coldTable,
  counts,
  listenOn,
  pushEndpoints,
  startActivatorRouter,
  type ActivatorRouter,
} from './activator-harness';
import { ConfigMapDir, freePort, killAllRouters, request } from './harness';

/** Answers with the name of the server, so a reply says which endpoint served it. */
function named(name: string, delayMs = 0): http.RequestListener {
  return (req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.end(name), delayMs));
  };
}

describe.each([
  ['fast path', {}],
  ['node:http path', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router pushed endpoints (%s)', (_label, env: Record<string, string>) => {
  const servers: http.Server[] = [];
  const dirs: ConfigMapDir[] = [];
  const routers: ActivatorRouter[] = [];

  async function routerFor(url: string, minReplicas: number): Promise<ActivatorRouter> {
    const dir = new ConfigMapDir(coldTable(url, { minReplicas }));
    dirs.push(dir);
    const r = await startActivatorRouter(dir.file, env);
    routers.push(r);
    return r;
  }

  async function serve(name: string, delayMs = 0): Promise<{ server: http.Server; endpoint: string }> {
    const port = await freePort();
    const server = await listenOn(port, named(name, delayMs));
    servers.push(server);
    return { server, endpoint: `127.0.0.1:${port}` };
  }

  async function bodies(port: number, n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const reply = await request(port, { path: `/cold?i=${i}` });
      expect(reply.status).toBe(200);
      out.push(reply.text());
    }
    return out;
  }

  afterEach(async () => {
    await Promise.all(servers.splice(0).map(closeServer));
    await Promise.all(routers.splice(0).map((r) => r.router.stop()));
    for (const dir of dirs.splice(0)) dir.remove();
  });
  afterAll(() => killAllRouters());

  it('sends requests to every pushed endpoint in turn, and only to those', async () => {
    const service = await serve('service');
    const [a, b, c] = [await serve('a'), await serve('b'), await serve('c')];
    const r = await routerFor(`http://${service.endpoint}`, 0);
    await pushEndpoints(r.adminPort, 'cold', [a.endpoint, b.endpoint, c.endpoint]);
    expect((await counts(r.adminPort)).functions.cold.readyEndpoints).toBe(3);

    const served = await bodies(r.port, 30);
    const tally = (names: string[]) =>
      Object.fromEntries(['a', 'b', 'c'].map((n) => [n, names.filter((x) => x === n).length]));
    // Round robin: exactly a third each, never the route table's URL while endpoints are pushed.
    expect(tally(served)).toEqual({ a: 10, b: 10, c: 10 });

    await pushEndpoints(r.adminPort, 'cold', [c.endpoint]);
    expect(new Set(await bodies(r.port, 6))).toEqual(new Set(['c']));
  });

  it('lets a request in flight on an endpoint that leaves the set finish, and sends new ones elsewhere', async () => {
    const slow = await serve('slow', 400);
    const other = await serve('other');
    const r = await routerFor(`http://127.0.0.1:${await freePort()}`, 0);
    await pushEndpoints(r.adminPort, 'cold', [slow.endpoint]);
    const inFlight = request(r.port, { path: '/cold' });
    // Wait until the router has sent it, then take the endpoint out (the runner drains a replica so).
    for (let i = 0; i < 200 && (await counts(r.adminPort)).functions.cold.inFlight === 0; i++)
      await new Promise((d) => setTimeout(d, 5));
    await pushEndpoints(r.adminPort, 'cold', [other.endpoint]);
    expect(new Set(await bodies(r.port, 4))).toEqual(new Set(['other']));
    const first = await inFlight;
    expect({ status: first.status, body: first.text() }).toEqual({ status: 200, body: 'slow' });
  });

  it('uses the route table URL for a function with nothing pushed, and again after an empty push', async () => {
    const service = await serve('service');
    const pushed = await serve('pushed');
    const r = await routerFor(`http://${service.endpoint}`, 1);
    expect(await bodies(r.port, 2)).toEqual(['service', 'service']);
    await pushEndpoints(r.adminPort, 'cold', [pushed.endpoint]);
    expect(await bodies(r.port, 2)).toEqual(['pushed', 'pushed']);
    // A function that does not scale to zero is never held: an empty push sends it back to its URL.
    await pushEndpoints(r.adminPort, 'cold', []);
    expect(await bodies(r.port, 2)).toEqual(['service', 'service']);
  });
});
