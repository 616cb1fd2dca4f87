/**
 * The activator's `kubernetes` endpoint source: the router lists and then watches the namespace's
 * EndpointSlices over HTTPS with its service-account token and CA, and releases held requests the
 * moment a watch event makes an endpoint ready. A fake API server (real TLS, real sockets) plays
 * the Kubernetes API; it also proves the router watches rather than polls.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import type * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActivatorEnv, EndpointSources } from '../../src/contract';
import {
  closeServer,
  coldTable,
  counts,
  echo,
  listenOn,
  startActivatorRouter,
  waitForWaiting,
  type ActivatorRouter,
} from './activator-harness';
import { ConfigMapDir, eventually, freePort, killAllRouters, request, type Reply } from './harness';

const NAMESPACE = 'faas';
const SLICES_PATH = `/apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices`;

interface Slice {
  readonly name: string;
  readonly service: string;
  readonly endpoints: ReadonlyArray<{ readonly ip: string; readonly ready?: boolean }>;
}

function sliceObject(slice: Slice, resourceVersion: string): unknown {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: slice.name,
      namespace: NAMESPACE,
      resourceVersion,
      labels: { 'kubernetes.io/service-name': slice.service },
    },
    addressType: 'IPv4',
    endpoints: slice.endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: e.ready === undefined ? {} : { ready: e.ready },
      targetRef: { kind: 'Pod', name: `pod-${e.ip}`, uid: `uid-${e.ip}` },
    })),
    ports: [{ port: 8080, protocol: 'TCP' }],
  };
}

/** A fake API server: answers the EndpointSlice list, keeps watches open and lets the test write to them. */
class FakeApiServer {
  readonly requests: Array<{ readonly path: string; readonly authorization: string | undefined }> = [];
  private readonly watches: http.ServerResponse[] = [];
  private waiters: Array<() => void> = [];
  slices: Slice[] = [];
  version = 100;
  private server!: https.Server;
  port = 0;

  constructor(private readonly tls: { key: Buffer; cert: Buffer }) {}

  async start(): Promise<void> {
    this.server = https.createServer(this.tls, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://x');
      this.requests.push({ path: req.url ?? '', authorization: req.headers.authorization });
      for (const wake of this.waiters.splice(0)) wake();
      if (url.pathname !== SLICES_PATH || url.searchParams.get('labelSelector') !== 'kubernetes.io/service-name') {
        res.writeHead(404).end();
        return;
      }
      if (req.headers.authorization !== `Bearer ${this.token}`) {
        res.writeHead(401).end();
        return;
      }
      if (url.searchParams.get('watch') === '1') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        this.watches.push(res);
        res.on('close', () => {
          const at = this.watches.indexOf(res);
          if (at !== -1) this.watches.splice(at, 1);
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'EndpointSliceList',
          metadata: { resourceVersion: String(this.version) },
          items: this.slices.map((s) => sliceObject(s, String(this.version))),
        }),
      );
    });
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    this.port = (this.server.address() as AddressInfo).port;
  }

  token = 'token-1';

  lists(): number {
    return this.requests.filter((r) => !r.path.includes('watch=1')).length;
  }

  watchRequests(): number {
    return this.requests.filter((r) => r.path.includes('watch=1')).length;
  }

  async waitForWatch(count = 1): Promise<void> {
    while (this.watches.length < count) await new Promise<void>((wake) => this.waiters.push(wake));
  }

  /** Sends a watch event on every open watch. */
  emit(type: 'ADDED' | 'MODIFIED' | 'DELETED', slice: Slice): void {
    this.version++;
    const line = `${JSON.stringify({ type, object: sliceObject(slice, String(this.version)) })}\n`;
    for (const res of this.watches) res.write(line);
  }

  emitRaw(line: string): void {
    for (const res of this.watches) res.write(`${line}\n`);
  }

  /** Ends every open watch, as the API server does after `timeoutSeconds`. */
  endWatches(): void {
    for (const res of this.watches.splice(0)) res.end();
  }

  close(): Promise<void> {
    return new Promise((done) => {
      this.server.closeAllConnections();
      this.server.close(() => done());
    });
  }
}

describe('router activator: EndpointSlice watch (endpoint source `kubernetes`)', () => {
  let workDir: string;
  let saDir: string;
  let api: FakeApiServer;
  let routes: ConfigMapDir;
  let r: ActivatorRouter;
  let fnPort: number;
  let fn: http.Server | undefined;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'kubefaas-k8s-api-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=kubernetes',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(workDir, 'key.pem'),
        '-out',
        join(workDir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    saDir = join(workDir, 'serviceaccount');
    execFileSync('mkdir', ['-p', saDir]);
    writeFileSync(join(saDir, 'ca.crt'), readFileSync(join(workDir, 'cert.pem')));
    writeFileSync(join(saDir, 'namespace'), `${NAMESPACE}\n`);
    writeFileSync(join(saDir, 'token'), 'token-1\n');
    api = new FakeApiServer({
      key: readFileSync(join(workDir, 'key.pem')),
      cert: readFileSync(join(workDir, 'cert.pem')),
    });
    api.slices = [{ name: 'cold-abc', service: 'cold', endpoints: [{ ip: '10.0.0.1', ready: false }] }];
    await api.start();

    fnPort = await freePort();
    const table = coldTable(`http://127.0.0.1:${fnPort}`);
    routes = new ConfigMapDir({
      ...table,
      functions: { ...table.functions, idle: { ...table.functions.cold, url: `http://127.0.0.1:${await freePort()}` } },
    });
    r = await startActivatorRouter(routes.file, {
      [ActivatorEnv.ENDPOINTS]: EndpointSources.kubernetes,
      [ActivatorEnv.SERVICE_ACCOUNT_DIR]: saDir,
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: String(api.port),
    });
    await api.waitForWatch();
  });

  afterAll(async () => {
    await r?.router.stop();
    killAllRouters();
    if (fn) await closeServer(fn);
    await api?.close();
    routes?.remove();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('lists once with the token, then watches from the list version', async () => {
    expect(api.lists()).toBe(1);
    expect(api.watchRequests()).toBe(1);
    expect(api.requests.every((q) => q.authorization === 'Bearer token-1')).toBe(true);
    const watch = new URL(api.requests[1].path, 'https://x');
    expect(watch.searchParams.get('resourceVersion')).toBe('100');
    expect(watch.searchParams.get('allowWatchBookmarks')).toBe('true');
    // Not ready in the list; a function with no slice at all has 0 (the list was complete).
    const snapshot = await counts(r.adminPort);
    expect(snapshot.functions.cold.readyEndpoints).toBe(0);
    expect(snapshot.functions.idle.readyEndpoints).toBe(0);
    await r.router.waitForLog((l) => l.msg === 'endpoints synced', 'endpoints synced');
  });

  it('releases held requests the moment a watch event makes an endpoint ready', async () => {
    const pending = request(r.port, { path: '/cold?k=1' });
    await waitForWaiting(r.adminPort, 'cold', 1);
    fn = await listenOn(fnPort, echo);
    const sentAt = performance.now();
    api.emit('MODIFIED', { name: 'cold-abc', service: 'cold', endpoints: [{ ip: '10.0.0.1' }] });
    const reply: Reply = await pending;
    expect(reply.status).toBe(200);
    expect(reply.json().url).toBe('/cold?k=1');
    expect(performance.now() - sentAt).toBeLessThan(1000);
    expect((await counts(r.adminPort)).functions.cold.readyEndpoints).toBe(1);
  });

  it('counts ready endpoints across slices once each, and holds again when none is ready', async () => {
    api.emit('ADDED', {
      name: 'cold-def',
      service: 'cold',
      endpoints: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3', ready: false }],
    });
    await eventually(async () => (await counts(r.adminPort)).functions.cold.readyEndpoints === 2, 10);
    api.emit('DELETED', { name: 'cold-def', service: 'cold', endpoints: [] });
    api.emit('MODIFIED', { name: 'cold-abc', service: 'cold', endpoints: [{ ip: '10.0.0.1', ready: false }] });
    await eventually(async () => (await counts(r.adminPort)).functions.cold.readyEndpoints === 0, 10);
    const pending = request(r.port, { path: '/cold?k=2' });
    await waitForWaiting(r.adminPort, 'cold', 1);
    api.emit('MODIFIED', { name: 'cold-abc', service: 'cold', endpoints: [{ ip: '10.0.0.1', ready: true }] });
    expect((await pending).status).toBe(200);
  });

  it('resumes a watch the server ended from the last version, with the token read again', async () => {
    writeFileSync(join(saDir, 'token'), 'token-2\n');
    api.token = 'token-2';
    const watchesBefore = api.watchRequests();
    const version = api.version;
    api.endWatches();
    await api.waitForWatch();
    expect(api.watchRequests()).toBe(watchesBefore + 1);
    expect(api.lists()).toBe(1);
    const last = api.requests[api.requests.length - 1];
    expect(last.authorization).toBe('Bearer token-2');
    expect(new URL(last.path, 'https://x').searchParams.get('resourceVersion')).toBe(String(version));
  });

  it('retries a refused watch with a backoff, keeping the last counts, and recovers once allowed again', async () => {
    const before = (await counts(r.adminPort)).functions.cold.readyEndpoints;
    api.token = 'revoked';
    const lists = api.lists();
    api.endWatches();
    await r.router.waitForLog((l) => l.msg === 'EndpointSlice request refused' && l.status === 401, 'a refusal');
    expect((await counts(r.adminPort)).functions.cold.readyEndpoints).toBe(before);
    api.token = 'token-2';
    await api.waitForWatch();
    expect(api.lists()).toBeGreaterThan(lists);
    const refusals = r.router.logs.filter((l) => l.msg === 'EndpointSlice request refused');
    expect(refusals[0]).toMatchObject({ level: 'warn', retryInMs: 200 });
  });

  it('lists again after 410 Gone, and catches up with what changed meanwhile', async () => {
    api.slices = [{ name: 'cold-abc', service: 'cold', endpoints: [{ ip: '10.0.0.9' }, { ip: '10.0.0.8' }] }];
    api.version = 500;
    api.emitRaw(
      JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old resource version' } }),
    );
    await eventually(async () => api.lists() === 2, 10);
    await eventually(async () => (await counts(r.adminPort)).functions.cold.readyEndpoints === 2, 10);
    await api.waitForWatch();
    const last = api.requests[api.requests.length - 1];
    expect(new URL(last.path, 'https://x').searchParams.get('resourceVersion')).toBe('500');
  });
});

describe('router activator: endpoint source misconfigured', () => {
  let routes: ConfigMapDir;
  beforeAll(async () => {
    routes = new ConfigMapDir(coldTable(`http://127.0.0.1:${await freePort()}`));
  });
  afterAll(() => {
    killAllRouters();
    routes.remove();
  });

  it('exits with a message naming the fix when the service-account token is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'kubefaas-no-sa-'));
    try {
      await expect(
        startActivatorRouter(routes.file, {
          [ActivatorEnv.ENDPOINTS]: EndpointSources.kubernetes,
          [ActivatorEnv.SERVICE_ACCOUNT_DIR]: empty,
          KUBERNETES_SERVICE_HOST: '127.0.0.1',
          KUBERNETES_SERVICE_PORT: '6443',
        }),
      ).rejects.toThrow(/router exited \(1\).*cannot watch EndpointSlices.*automountServiceAccountToken/s);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('exits on an unknown endpoint source', async () => {
    await expect(startActivatorRouter(routes.file, { [ActivatorEnv.ENDPOINTS]: 'dns' })).rejects.toThrow(
      /KUBEFAAS_ENDPOINTS=\\"dns\\" must be one of kubernetes, push/,
    );
  });
});
