/**
 * How a reload replaces a changed function without dropping a call, the way a Deployment's rolling
 * update with `maxUnavailable: 0` does: the new process starts next to the old one on a port and in a
 * directory of its own, the router's route table is switched to it once it is ready, and only then
 * is the old process drained (SIGTERM: it finishes what it has, the router's retired pool lets it).
 * This module holds the two pieces that are not bookkeeping: planning the replacements (a moved
 * function changes the addresses other workloads see, which may move them too) and hearing the
 * router confirm the table it serves.
 */
import { Paths } from '../contract';
import { routeTableDigest } from '../shared/route-table-digest';
import type { LocalPlan, ProcessPlan } from './plan';
import type { ManagedProcess } from './process';

/** How long a reload waits for the router to load a new route table before going on without it. */
export const ROUTER_TABLE_TIMEOUT_MS = 5000;

/**
 * Whether a changed process is replaced side by side. Not the router (its port is the developer's)
 * nor the queue (one nats-server holds the streams): those restart in place.
 */
export function replacesSideBySide(p: ProcessPlan): boolean {
  return !p.isRouter && !p.isQueue && p.port > 0;
}

export interface ReplacementPlan {
  readonly plan: LocalPlan;
  /** Workloads that get a new process next to the current one. */
  readonly replaced: ReadonlySet<string>;
  /** Every workload's port and directory after the reload (commit them once the reload goes ahead). */
  readonly ports: ReadonlyMap<string, number>;
  readonly dirs: ReadonlyMap<string, string>;
}

export interface ReplacementInputs {
  /** Plans the manifests with these ports and directories (planLocalRun over the synthesized app). */
  readonly planWith: (ports: ReadonlyMap<string, number>, dirs: ReadonlyMap<string, string>) => LocalPlan;
  /** The running processes' plans, by workload name. */
  readonly current: ReadonlyMap<string, ProcessPlan>;
  readonly ports: ReadonlyMap<string, number>;
  readonly dirs: ReadonlyMap<string, string>;
  /** A free port that is none of `taken`. */
  readonly newPort: (taken: ReadonlySet<number>) => Promise<number>;
  /** A fresh directory name for the next process of a workload. */
  readonly newDir: (workload: string) => string;
}

/**
 * Plans a reload: every changed process that can run side by side gets a new port and directory,
 * and the manifests are planned again with them; a workload whose env or files named a moved one's
 * address has changed then too, so this repeats until nothing more moves (at most once per workload).
 */
export async function planReplacements(inputs: ReplacementInputs): Promise<ReplacementPlan> {
  const ports = new Map(inputs.ports);
  const dirs = new Map(inputs.dirs);
  const replaced = new Set<string>();
  let plan = inputs.planWith(ports, dirs);
  for (;;) {
    const moving = plan.processes.filter((p) => {
      const current = inputs.current.get(p.name);
      return current !== undefined && !replaced.has(p.name) && current.specHash !== p.specHash && replacesSideBySide(p);
    });
    if (moving.length === 0) return { plan, replaced, ports, dirs };
    for (const p of moving) {
      replaced.add(p.name);
      ports.set(p.name, await inputs.newPort(new Set([...ports.values(), ...inputs.ports.values()])));
      dirs.set(p.name, inputs.newDir(p.name));
    }
    plan = inputs.planWith(ports, dirs);
  }
}

/** The route table file a router process is given (the `routes.json` of one of its volumes). */
export function routeTableFile(p: ProcessPlan): Buffer | undefined {
  for (const v of p.volumes) {
    const file = v.files?.get(Paths.routesFile);
    if (file) return file;
  }
  return undefined;
}

export type TableOutcome = 'loaded' | 'rejected' | 'timeout';

/**
 * Listens to the router's log for the line saying it loaded (or rejected) the table with this
 * text. Start listening before the file is written; `cancel()` when it turns out not to change.
 */
export function hearRouterTable(
  router: ManagedProcess,
  table: Buffer,
  timeoutMs = ROUTER_TABLE_TIMEOUT_MS,
): { readonly outcome: Promise<TableOutcome>; cancel(): void } {
  const digest = routeTableDigest(table);
  let finish: (o: TableOutcome) => void = () => undefined;
  const outcome = new Promise<TableOutcome>((resolve) => {
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    const onLine = (text: string): void => {
      if (!text.includes(digest)) return;
      let msg: unknown;
      try {
        msg = (JSON.parse(text) as { msg?: unknown }).msg;
      } catch {
        return;
      }
      if (msg === 'route table loaded') finish('loaded');
      else if (typeof msg === 'string' && msg.startsWith('route table rejected')) finish('rejected');
    };
    finish = (o) => {
      clearTimeout(timer);
      router.off('line', onLine);
      resolve(o);
    };
    router.on('line', onLine);
  });
  return { outcome, cancel: () => finish('timeout') };
}
