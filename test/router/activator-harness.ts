/**
 * Helpers for the activator tests (issue 10): a router with its admin listener and the `push`
 * endpoint source, functions that scale to zero, and the admin calls the scaler and the local
 * runner make — all over real sockets.
 */
import * as http from 'node:http';
import {
  ActivatorEnv,
  EndpointSources,
  ScalingPaths,
  type RouteScaling,
  type RouteTable,
  type RouterDemandSnapshot,
  type RouterScalingEvent,
} from '../../src/contract';
import { type RouterProcess, type Reply, eventually, request, startRouter } from './harness';

export interface ActivatorRouter {
  readonly router: RouterProcess;
  readonly port: number;
  readonly adminPort: number;
}

/** A router with an admin listener on a free port and endpoints pushed to it (as the local runner does). */
export async function startActivatorRouter(
  routesPath: string,
  env: Record<string, string> = {},
): Promise<ActivatorRouter> {
  const router = await startRouter(routesPath, {
    [ActivatorEnv.ADMIN_PORT]: '0',
    [ActivatorEnv.ENDPOINTS]: EndpointSources.push,
    [ActivatorEnv.ROUTER_ID]: 'router-a',
    ...env,
  });
  const admin = await router.waitForLog((l) => l.msg === 'admin listening', 'admin listening');
  return { router, port: router.port, adminPort: admin.port as number };
}

/**
 * A one-function table whose function scales to zero, callable by name and async on the public
 * port too (so the tests hold requests on both of the router's HTTP paths).
 */
export function coldTable(url: string, scaling: Partial<RouteScaling> = {}, timeoutMs = 10_000): RouteTable {
  return {
    version: 1,
    functions: {
      cold: {
        url,
        timeoutMs,
        scaling: { minReplicas: 0, activationTimeoutMs: 8_000, holdQueueLimit: 1_000, ...scaling },
        invocation: { byName: ['GET', 'POST'], async: true },
      },
    },
    routes: [{ function: 'cold', methods: ['GET', 'POST'], path: '/cold' }],
  };
}

/** PUT the function's ready endpoints to the router (what the local runner does). */
export async function pushEndpoints(adminPort: number, fn: string, ready: string[]): Promise<Reply> {
  return request(adminPort, {
    method: 'PUT',
    path: `${ScalingPaths.endpoints}/${fn}`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ready }),
  });
}

export async function counts(adminPort: number): Promise<RouterDemandSnapshot> {
  const reply = await request(adminPort, { path: ScalingPaths.counts });
  if (reply.status !== 200) throw new Error(`counts answered ${reply.status}: ${reply.text()}`);
  return reply.json() as RouterDemandSnapshot;
}

/** Waits until the router holds `n` requests for `fn`. */
export async function waitForWaiting(adminPort: number, fn: string, n: number): Promise<void> {
  await eventually(async () => (await counts(adminPort)).functions[fn]?.waiting === n, 10);
}

/** An HTTP server on a given port (a function process coming up where the Service points). */
export async function listenOn(
  port: number,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<http.Server> {
  const server = http.createServer(handler);
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', done);
  });
  return server;
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((done) => {
    server.closeAllConnections();
    server.close(() => done());
  });
}

/** Echoes method, url and body, so each answer proves which request it belongs to. */
export function echo(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString('utf8') }));
  });
}

/** The router's watch stream, line by line, each with the time it arrived. */
export class WatchStream {
  readonly events: Array<RouterScalingEvent & { readonly receivedAt: number }> = [];
  private waiters: Array<() => void> = [];
  private req: http.ClientRequest | undefined;

  static async open(adminPort: number): Promise<WatchStream> {
    const stream = new WatchStream();
    await new Promise<void>((done, fail) => {
      stream.req = http.get({ host: '127.0.0.1', port: adminPort, path: ScalingPaths.watch, agent: false }, (res) => {
        if (res.statusCode !== 200) fail(new Error(`watch answered ${res.statusCode}`));
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          const receivedAt = performance.now();
          buffered += text;
          let nl: number;
          while ((nl = buffered.indexOf('\n')) !== -1) {
            stream.events.push({ ...(JSON.parse(buffered.slice(0, nl)) as RouterScalingEvent), receivedAt });
            buffered = buffered.slice(nl + 1);
          }
          for (const wake of stream.waiters.splice(0)) wake();
        });
        done();
      });
      stream.req.on('error', fail);
    });
    return stream;
  }

  /** The first event matching `predicate` at index `from` or later. */
  async next(
    predicate: (e: RouterScalingEvent) => boolean,
    from = 0,
  ): Promise<RouterScalingEvent & { readonly receivedAt: number }> {
    for (;;) {
      const found = this.events.slice(from).find(predicate);
      if (found) return found;
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
  }

  close(): void {
    this.req?.destroy();
  }
}
