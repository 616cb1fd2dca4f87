/**
 * Schema check: every object against its Kubernetes (or CRD) schema from kubernetes-models, plus a
 * strict unknown-field check. The models are ESM-only, so the work happens in a worker thread (see
 * the comment at the top of schema-worker.mjs for why that is the loader that works under jest).
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { SCHEMA_SOURCES } from './schema-sources';

/** Schema findings for one object (by its position in the input). */
export interface SchemaFinding {
  readonly index: number;
  readonly messages: readonly string[];
}

export interface SchemaCheckOptions {
  /**
   * Validate custom resources (Gateway API, prometheus-operator, ...) against their CRD models;
   * false accepts them unchecked (they are still required to be of a known group).
   * @default true
   */
  readonly crds?: boolean;
}

interface Reply {
  readonly id: number;
  readonly results?: SchemaFinding[];
  readonly error?: string;
}

interface Pending {
  readonly resolve: (findings: SchemaFinding[]) => void;
  readonly reject: (err: Error) => void;
}

/** How long an idle worker lives: long enough to serve a test file's next call, short enough not to pile up. */
const IDLE_MS = 2000;
// Captured at load: a test that installs fake timers must not freeze the idle shutdown.
const realSetTimeout = setTimeout;
const realClearTimeout = clearTimeout;

/**
 * One worker per module instance, started on first use and shared by the calls that follow:
 * starting it and importing the schemas costs a few hundred ms, a call a few ms per object. It is
 * unref'd while idle so it never keeps a process alive, and stopped after IDLE_MS without work,
 * because jest loads this module afresh for every test file in a long-lived process and the
 * threads of earlier files would otherwise accumulate.
 */
class SchemaWorker {
  private worker: Worker | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  check(objects: readonly unknown[], options: SchemaCheckOptions): Promise<SchemaFinding[]> {
    const worker = this.start();
    if (this.idleTimer) realClearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const id = this.nextId++;
    return new Promise<SchemaFinding[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, objects, options });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(path.join(__dirname, 'schema-worker.mjs'), { workerData: { sources: SCHEMA_SOURCES } });
    worker.unref();
    worker.on('message', (reply: Reply) => this.settle(reply));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`schema worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private settle(reply: Reply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.idle();
    if (reply.error !== undefined) pending.reject(new Error(`schema validation failed: ${reply.error}`));
    else pending.resolve(reply.results ?? []);
  }

  private idle(): void {
    const worker = this.worker;
    if (!worker) return;
    worker.unref();
    this.idleTimer = realSetTimeout(() => {
      this.idleTimer = undefined;
      if (this.worker !== worker || this.pending.size > 0) return;
      this.worker = undefined;
      worker.removeAllListeners('exit');
      void worker.terminate();
    }, IDLE_MS);
    this.idleTimer.unref();
  }

  private fail(err: Error): void {
    this.worker = undefined;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) p.reject(err);
  }
}

const shared = new SchemaWorker();

/** Validates objects against their schemas; returns findings only for objects with problems. */
export function checkSchemas(objects: readonly unknown[], options: SchemaCheckOptions = {}): Promise<SchemaFinding[]> {
  // Structured clone (postMessage) rejects functions, class instances with methods are flattened:
  // go through JSON so what is validated is exactly what would be written to YAML.
  const plain = JSON.parse(JSON.stringify(objects)) as unknown[];
  return shared.check(plain, { crds: options.crds ?? true });
}
