/**
 * The runner's control endpoint: a tiny HTTP server on 127.0.0.1 through which other commands act
 * on a running `kubefaas dev` (today: fire a cron trigger once). A CLI finds it through a small
 * state file named after the router port — the one address the developer already knows — in the
 * system's temp directory.
 *
 *   POST /cron/<function>/<trigger>   one tick of that function's CronTrigger (or /cron/<cronjob>)
 *   → 200 { cronJob, exitCode, signal, output, skipped } | 404 { error, cronJobs } | 502 when the tick failed
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JobRun } from './cron';
import type { CronJobPlan } from './plan';

export interface ControlHandlers {
  readonly findCron: (name: string, functionName?: string) => CronJobPlan | undefined;
  readonly cronJobs: () => readonly CronJobPlan[];
  readonly fireCron: (cronJob: string) => Promise<JobRun>;
}

/** The router's two listeners, as the runner serves them. */
export interface RouterUrls {
  /** Public listener: declared routes and the by-name/async calls functions opted in to. */
  readonly routerUrl: string;
  /** Admin listener: health, metrics, and every function by name and async (`kubefaas invoke` calls here). */
  readonly routerAdminUrl: string;
}

/** What the state file records. */
export interface ControlState extends RouterUrls {
  readonly pid: number;
  readonly controlUrl: string;
}

/** Where the runner serving `routerPort` records its control endpoint. */
export function controlStateFile(routerPort: number): string {
  return path.join(os.tmpdir(), `kubefaas-dev-${routerPort}.json`);
}

/** The runner state for `routerPort`, if a live runner wrote one. */
export function readControlState(routerPort: number): ControlState | undefined {
  let state: ControlState;
  try {
    state = JSON.parse(fs.readFileSync(controlStateFile(routerPort), 'utf8')) as ControlState;
  } catch {
    return undefined;
  }
  try {
    process.kill(state.pid, 0);
  } catch (err) {
    // A runner killed with SIGKILL leaves its file behind; a dead pid means it is stale.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
  }
  return state;
}

function describe(p: CronJobPlan): string {
  return p.function && p.trigger ? `${p.function} cron/${p.trigger}` : p.name;
}

export class ControlServer {
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    private readonly stateFile: string,
  ) {}

  static async start(handlers: ControlHandlers, router: RouterUrls, routerPort: number): Promise<ControlServer> {
    const server = http.createServer((req, res) => void handle(handlers, req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    server.unref();
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const stateFile = controlStateFile(routerPort);
    const state: ControlState = { pid: process.pid, controlUrl: url, ...router };
    fs.writeFileSync(stateFile, JSON.stringify(state));
    return new ControlServer(server, url, stateFile);
  }

  async stop(): Promise<void> {
    try {
      const state = JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as ControlState;
      if (state.controlUrl === this.url) fs.rmSync(this.stateFile, { force: true });
    } catch {
      // gone already
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function handle(h: ControlHandlers, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const send = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  req.resume();
  let parts: string[];
  try {
    parts = (req.url ?? '/').split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    send(400, { error: 'malformed percent-encoding in the path' });
    return;
  }
  if (req.method !== 'POST' || parts[0] !== 'cron' || parts.length < 2 || parts.length > 3) {
    send(404, { error: 'use POST /cron/<function>/<trigger> or POST /cron/<cronjob>' });
    return;
  }
  const plan = parts.length === 3 ? h.findCron(parts[2], parts[1]) : h.findCron(parts[1]);
  if (!plan) {
    const wanted = parts.length === 3 ? `${parts[1]} cron/${parts[2]}` : parts[1];
    send(404, { error: `no cron trigger ${wanted} in the running app`, cronJobs: h.cronJobs().map(describe) });
    return;
  }
  try {
    const run = await h.fireCron(plan.name);
    send(run.skipped || run.exitCode === 0 ? 200 : 502, run);
  } catch (err) {
    send(500, { error: (err as Error).message });
  }
}
