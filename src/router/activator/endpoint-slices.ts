import { readFileSync } from 'node:fs';
import { type ClientRequest, type IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';

/** The label EndpointSlice controllers put on every slice: the Service it belongs to. */
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** A failed list or watch is retried after this, doubling up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 10_000;
/** The API server ends a watch after this many seconds (spread, so replicas do not reconnect in step). */
const WATCH_SECONDS_MIN = 240;
const WATCH_SECONDS_SPREAD = 120;
/** No byte for this long on a watch (bookmarks come about every minute): the connection is dead. */
const WATCH_IDLE_MS = (WATCH_SECONDS_MIN + WATCH_SECONDS_SPREAD + 30) * 1000;
/** A list must answer within this. */
const LIST_TIMEOUT_MS = 30_000;
/** Largest list answer we read (many Services in one namespace are still far below). */
const MAX_LIST_BYTES = 64 * 1024 * 1024;

/** Where the API server is and who the router is to it. */
export interface KubernetesAccess {
  readonly host: string;
  readonly port: number;
  readonly namespace: string;
  /** The service-account token, read again for every request (kubelet rotates it). */
  readonly token: () => string;
  readonly ca: Buffer;
}

export interface EndpointSliceEvents {
  /** Service `service` has `ready` ready endpoints now (called when the count changes). */
  readonly onReady: (service: string, ready: number) => void;
  /** The first complete list was applied: Services not mentioned have no endpoints. */
  readonly onSynced: () => void;
  readonly onProblem: (message: string, fields: Readonly<Record<string, unknown>>) => void;
}

/** Reads the in-cluster access: KUBERNETES_SERVICE_HOST/PORT and the service-account directory. */
export function inClusterAccess(
  env: NodeJS.ProcessEnv,
  serviceAccountDir: string,
  namespace: string | undefined,
): KubernetesAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = Number(env.KUBERNETES_SERVICE_PORT ?? '443');
  if (!host) throw new Error('KUBERNETES_SERVICE_HOST is not set: the router is not running in a pod');
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`KUBERNETES_SERVICE_PORT=${JSON.stringify(env.KUBERNETES_SERVICE_PORT)} is not a port`);
  const tokenPath = join(serviceAccountDir, 'token');
  const ca = readFileSync(join(serviceAccountDir, 'ca.crt'));
  const ns = namespace ?? readFileSync(join(serviceAccountDir, 'namespace'), 'utf8').trim();
  readFileSync(tokenPath); // fail now, not at the first request, when the token is not mounted
  return { host, port, namespace: ns, ca, token: () => readFileSync(tokenPath, 'utf8').trim() };
}

interface SliceEndpoints {
  readonly service: string;
  /** One key per ready endpoint (its target's uid, else its first address). */
  readonly ready: readonly string[];
}

interface WatchEvent {
  readonly type?: string;
  readonly object?: {
    readonly code?: number;
    readonly message?: string;
    readonly metadata?: {
      readonly name?: string;
      readonly resourceVersion?: string;
      readonly labels?: Record<string, string>;
    };
    readonly endpoints?: ReadonlyArray<{
      readonly addresses?: readonly string[];
      readonly conditions?: { readonly ready?: boolean | null };
      readonly targetRef?: { readonly uid?: string };
    }>;
  };
}

/**
 * Ready endpoints of every Service in one namespace, from its EndpointSlices, kept current by a
 * Kubernetes watch (list, then watch from the list's resourceVersion; a watch that ends is resumed
 * from the last version seen, a 410 Gone or any error relists after a backoff). Readiness therefore
 * arrives as the endpoints controller publishes it, with no polling delay.
 * Needs get/list/watch on `discovery.k8s.io` endpointslices in the namespace.
 */
export class EndpointSliceWatch {
  private readonly slices = new Map<string, SliceEndpoints>();
  private readonly counts = new Map<string, number>();
  private resourceVersion = '';
  private current: ClientRequest | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = FIRST_BACKOFF_MS;
  private stopped = false;
  private synced = false;

  constructor(
    private readonly access: KubernetesAccess,
    private readonly events: EndpointSliceEvents,
  ) {}

  start(): void {
    this.list();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.current?.destroy();
  }

  private get basePath(): string {
    return `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(this.access.namespace)}/endpointslices?labelSelector=${encodeURIComponent(SERVICE_NAME_LABEL)}`;
  }

  private list(): void {
    if (this.stopped) return;
    const req = this.get(this.basePath, (res, req) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_LIST_BYTES) req.destroy(new Error(`list answer over ${MAX_LIST_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', (err) => this.failed(req, 'EndpointSlice list interrupted', err));
      res.on('end', () => {
        let doc: { metadata?: { resourceVersion?: string }; items?: WatchEvent['object'][] };
        try {
          doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          this.retry('EndpointSlice list is not JSON', {});
          return;
        }
        this.slices.clear();
        for (const item of doc.items ?? []) this.upsert(item);
        this.resourceVersion = doc.metadata?.resourceVersion ?? '';
        this.recount();
        if (!this.synced) {
          this.synced = true;
          this.events.onSynced();
        }
        this.backoffMs = FIRST_BACKOFF_MS;
        this.watch();
      });
    });
    req?.setTimeout(LIST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${LIST_TIMEOUT_MS} ms`)));
  }

  private watch(): void {
    if (this.stopped) return;
    const seconds = WATCH_SECONDS_MIN + Math.floor(Math.random() * WATCH_SECONDS_SPREAD);
    const path = `${this.basePath}&watch=1&allowWatchBookmarks=true&timeoutSeconds=${seconds}&resourceVersion=${encodeURIComponent(this.resourceVersion)}`;
    const req = this.get(path, (res, req) => {
      let buffered = '';
      let ended = false;
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        buffered += text;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) !== -1) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim() !== '' && !this.apply(line)) return; // apply() started a relist
        }
      });
      res.on('end', () => {
        ended = true;
        if (this.stopped || this.current !== req) return;
        // The server ended the watch (its timeout): resume from the last version seen.
        this.current = undefined;
        this.watch();
      });
      res.on('error', (err) => this.failed(req, 'EndpointSlice watch interrupted', err));
      res.on('close', () => {
        if (!ended) this.failed(req, 'EndpointSlice watch closed', new Error('connection closed'));
      });
    });
    req?.setTimeout(WATCH_IDLE_MS, () => req.destroy(new Error(`watch silent for ${WATCH_IDLE_MS} ms`)));
  }

  /** One watch line; false when the watch must be restarted from a fresh list. */
  private apply(line: string): boolean {
    let event: WatchEvent;
    try {
      event = JSON.parse(line);
    } catch {
      this.retry('EndpointSlice watch sent a line that is not JSON', {});
      return false;
    }
    const object = event.object;
    if (event.type === 'ERROR') {
      // 410 Gone: our version is too old to resume from; anything else: start over too.
      this.retry(
        'EndpointSlice watch error, listing again',
        { code: object?.code, reason: object?.message },
        object?.code === 410,
      );
      return false;
    }
    const version = object?.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
    if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      const service = this.upsert(object);
      if (service !== undefined) this.recountService(service);
    } else if (event.type === 'DELETED') {
      const name = object?.metadata?.name;
      const previous = name === undefined ? undefined : this.slices.get(name);
      if (previous !== undefined && name !== undefined) {
        this.slices.delete(name);
        this.recountService(previous.service);
      }
    }
    return true;
  }

  /** Records one slice; returns its Service (and the Service it belonged to before, recounted). */
  private upsert(object: WatchEvent['object']): string | undefined {
    const name = object?.metadata?.name;
    const service = object?.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (name === undefined || service === undefined) return undefined;
    const ready: string[] = [];
    for (const endpoint of object?.endpoints ?? []) {
      // The API says a missing `ready` condition means ready.
      if (endpoint.conditions?.ready === false) continue;
      const key = endpoint.targetRef?.uid ?? endpoint.addresses?.[0];
      if (key !== undefined) ready.push(key);
    }
    const before = this.slices.get(name);
    this.slices.set(name, { service, ready });
    if (before !== undefined && before.service !== service) this.recountService(before.service);
    return service;
  }

  private recount(): void {
    const services = new Set<string>([...this.counts.keys()]);
    for (const slice of this.slices.values()) services.add(slice.service);
    for (const service of services) this.recountService(service);
  }

  private recountService(service: string): void {
    const keys = new Set<string>();
    for (const slice of this.slices.values()) if (slice.service === service) for (const k of slice.ready) keys.add(k);
    const count = keys.size;
    if (this.counts.get(service) === count) return;
    this.counts.set(service, count);
    this.events.onReady(service, count);
  }

  /** Starts a GET; undefined when it could not be (a retry is scheduled then). */
  private get(path: string, onOk: (res: IncomingMessage, req: ClientRequest) => void): ClientRequest | undefined {
    let token: string;
    try {
      token = this.access.token();
    } catch (err) {
      this.retry('service-account token unreadable', { reason: (err as Error).message });
      return undefined;
    }
    const req = request(
      {
        host: this.access.host,
        port: this.access.port,
        path,
        method: 'GET',
        ca: this.access.ca,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        agent: false,
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          this.retry('EndpointSlice request refused', { status: res.statusCode, path: path.split('?')[0] });
          return;
        }
        onOk(res, req);
      },
    );
    req.on('error', (err) => this.failed(req, 'EndpointSlice request failed', err));
    this.current = req;
    req.end();
    return req;
  }

  /** A failure of `req`; ignored unless it is the request in progress (a replaced one ends quietly). */
  private failed(req: ClientRequest, message: string, err: Error): void {
    if (this.current === req) this.retry(message, { reason: err.message });
  }

  /** Lists again after the backoff (at once for a 410 Gone, the normal end of an old version). */
  private retry(message: string, fields: Readonly<Record<string, unknown>>, immediately = false): void {
    if (this.stopped) return;
    const current = this.current;
    this.current = undefined;
    current?.destroy();
    clearTimeout(this.retryTimer);
    if (!immediately) this.events.onProblem(message, { ...fields, retryInMs: this.backoffMs });
    const delay = immediately ? 0 : this.backoffMs;
    if (!immediately) this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.retryTimer = setTimeout(() => this.list(), delay);
    this.retryTimer.unref();
  }
}
