/**
 * Keep-alive connections to a function are recycled (issue 13.5): a Kubernetes Service balances
 * connections, not requests, so without recycling a replica that joins later never gets traffic from a
 * router that is already connected. The "Service" here is a TCP balancer that, like kube-proxy, picks a
 * backend per connection (round robin over the backends it has now).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { podNode } from '../support/pod-node';
import {
  ConfigMapDir,
  ROUTER_BUNDLE,
  type RouterProcess,
  killAllRouters,
  request,
  startRouter,
  table,
} from './harness';

interface Backend {
  readonly name: string;
  readonly port: number;
  served: number;
  connections: number;
  close(): Promise<void>;
}

async function backend(name: string): Promise<Backend> {
  const b = { name, port: 0, served: 0, connections: 0 } as Backend & { port: number };
  const server = http.createServer((req, res) => {
    b.served++;
    req.resume();
    req.on('end', () => res.end(name));
  });
  server.on('connection', () => b.connections++);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  b.port = (server.address() as AddressInfo).port;
  b.close = () =>
    new Promise<void>((done) => {
      server.closeAllConnections();
      server.close(() => done());
    });
  return b;
}

/** Like kube-proxy: each new connection goes to the next backend; existing connections stay where they are. */
async function serviceBalancer(): Promise<{ url: string; backends: Backend[]; close(): Promise<void> }> {
  const backends: Backend[] = [];
  const sockets = new Set<net.Socket>();
  let next = 0;
  const server = net.createServer((client) => {
    const target = backends[next++ % backends.length];
    const upstream = net.connect(target.port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    backends,
    close: () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  };
}

async function sequential(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await request(port, { method: 'GET', path: '/work' });
    expect(res.status).toBe(200);
  }
}

describe('router: keep-alive connections to a function are recycled', () => {
  let routes: ConfigMapDir | undefined;
  let router: RouterProcess | undefined;
  const cleanups: Array<() => Promise<void>> = [];

  afterEach(async () => {
    await router?.stop();
    router = undefined;
    routes?.remove();
    routes = undefined;
    for (const close of cleanups.splice(0)) await close();
  });
  afterAll(() => killAllRouters());

  async function routerFor(url: string, env: Record<string, string>): Promise<RouterProcess> {
    routes = new ConfigMapDir(table({ fn: url }, [{ function: 'fn', methods: ['GET'], path: '/work' }]));
    router = await startRouter(routes.file, env);
    return router;
  }

  it('a replica that joins the Service later gets its share once connections reach maxRequests', async () => {
    const service = await serviceBalancer();
    const a = await backend('a');
    cleanups.push(service.close, a.close);
    service.backends.push(a);
    const r = await routerFor(service.url, { KUBEFAAS_ROUTER_UPSTREAM_MAX_REQUESTS: '10' });
    await sequential(r.port, 20);
    expect(a.served).toBe(20);

    const b = await backend('b'); // scale-up: a new replica behind the same Service
    cleanups.push(b.close);
    service.backends.push(b);
    await sequential(r.port, 100);
    // Recycled every 10 requests and balanced per connection: b carries about half of the 100.
    expect(b.served).toBeGreaterThanOrEqual(30);
    expect(a.served + b.served).toBe(120);
    expect(a.connections + b.connections).toBeLessThanOrEqual(13);
  });

  it('a connection older than maxAge takes no new request', async () => {
    const a = await backend('a');
    cleanups.push(a.close);
    const r = await routerFor(`http://127.0.0.1:${a.port}`, { KUBEFAAS_ROUTER_UPSTREAM_MAX_AGE_MS: '1000' });
    await sequential(r.port, 3);
    expect(a.connections).toBe(1);
    await new Promise((done) => setTimeout(done, 1300)); // past 1000 ms + 10 % jitter
    await sequential(r.port, 3);
    expect(a.connections).toBe(2);
    expect(a.served).toBe(6);
  });

  it('without limits configured a bare router keeps its defaults (30 s, 1000 requests): one connection for 50 calls', async () => {
    const a = await backend('a');
    cleanups.push(a.close);
    const r = await routerFor(`http://127.0.0.1:${a.port}`, {});
    await sequential(r.port, 50);
    expect(a.connections).toBe(1);
  });

  it('refuses an unusable setting at start, naming the variable', async () => {
    const proc = spawn(podNode(), [ROUTER_BUNDLE], {
      env: { ...process.env, PORT: '0', KUBEFAAS_ROUTER_UPSTREAM_MAX_REQUESTS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const [code] = (await once(proc, 'exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(output).toMatch(/KUBEFAAS_ROUTER_UPSTREAM_MAX_REQUESTS=.*0.* must be an integer between 1 and/);
  });
});
