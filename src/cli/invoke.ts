import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { isFunctionName } from '../contract';
import { controlStateFile, readControlState } from '../local/control';
import { DEFAULT_ROUTER_PORT } from '../local/platform';
import { UsageError } from './dev';
import { INVOKE_USAGE } from './usage';

const DEFAULT_ROUTER_URL = `http://127.0.0.1:${DEFAULT_ROUTER_PORT}`;

export interface InvokeRequest {
  /** The URL as given: `--router` + `/function/<name><path>`. */
  readonly url: string;
  /** `/function/<name><path>`, for the runner's admin listener when `--router` is a local runner's. */
  readonly functionPath: string;
  /** Port of `--router` when it is a loopback address: a local runner serving it is looked up by it. */
  readonly localRouterPort?: number;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** `--trigger cron/<name>`: fire one tick of the function's cron trigger instead of calling it. */
  readonly trigger?: {
    readonly kind: 'cron';
    readonly function: string;
    readonly name: string;
    readonly routerPort: number;
  };
}

/** Parses `kubefaas invoke` arguments into a request (throws UsageError); undefined means help was printed. */
export function parseInvokeArgs(
  argv: string[],
  readStdin: () => Buffer = () => fs.readFileSync(0),
): InvokeRequest | undefined {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: 'string', short: 'd' },
      method: { type: 'string', short: 'X' },
      path: { type: 'string' },
      header: { type: 'string', short: 'H', multiple: true },
      router: { type: 'string' },
      trigger: { type: 'string', short: 't' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  if (positionals.length !== 1) throw new UsageError('invoke needs exactly one function name', INVOKE_USAGE);
  const name = positionals[0];
  if (!isFunctionName(name)) throw new UsageError(`"${name}" is not a function name (DNS-1035 label)`, INVOKE_USAGE);
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) throw new UsageError(`--header must look like "Name: value", got "${h}"`, INVOKE_USAGE);
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  let body: Buffer | undefined;
  if (values.data !== undefined) {
    if (values.data === '@-') body = readStdin();
    else if (values.data.startsWith('@')) {
      const file = values.data.slice(1);
      if (!fs.existsSync(file)) throw new UsageError(`--data ${values.data}: no such file`, INVOKE_USAGE);
      body = fs.readFileSync(file);
    } else body = Buffer.from(values.data, 'utf8');
  }
  const sub = values.path ?? '';
  if (sub !== '' && !sub.startsWith('/') && !sub.startsWith('?'))
    throw new UsageError(`--path must start with "/", got "${sub}"`, INVOKE_USAGE);
  const router = (values.router ?? DEFAULT_ROUTER_URL).replace(/\/+$/, '');
  try {
    new URL(router);
  } catch {
    throw new UsageError(`--router must be a URL, got "${values.router}"`, INVOKE_USAGE);
  }
  const method = (values.method ?? (body ? 'POST' : 'GET')).toUpperCase();
  const functionPath = `/function/${name}${sub}`;
  const url = `${router}${functionPath}`;
  const parsed = new URL(router);
  const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
  const local = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  const target = { url, functionPath, ...(local ? { localRouterPort: port } : {}), method, headers, body };
  if (values.trigger === undefined) return target;
  const m = /^cron\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(values.trigger);
  if (!m)
    throw new UsageError(
      `--trigger must be cron/<name> (a CronTrigger of the function), got "${values.trigger}"`,
      INVOKE_USAGE,
    );
  if (body || values.method || values.path)
    throw new UsageError(
      '--trigger fires the trigger as configured; it takes no --data, --method or --path',
      INVOKE_USAGE,
    );
  if (!local) {
    throw new UsageError(
      '--trigger works with a local runner (kubefaas dev) only; in a cluster, run `kubectl create job --from=cronjob/<function>-cron-<name>`',
      INVOKE_USAGE,
    );
  }
  return { ...target, trigger: { kind: 'cron', function: name, name: m[1], routerPort: port } };
}

/**
 * Where to send the call: a local runner's router admin listener, which serves every function by
 * name whatever its public `invocation` (found by the router port through the runner's state
 * file); otherwise `--router` as given (a port-forwarded `kubefaas-router-admin`, or a public router
 * for functions that opted in to by-name calls).
 */
export function invocationUrl(request: InvokeRequest): string {
  const state = request.localRouterPort === undefined ? undefined : readControlState(request.localRouterPort);
  return state?.routerAdminUrl ? `${state.routerAdminUrl}${request.functionPath}` : request.url;
}

/** `kubefaas invoke`: returns the process exit code. */
export async function invokeCommand(argv: string[]): Promise<number> {
  const request = parseInvokeArgs(argv);
  if (!request) {
    process.stdout.write(INVOKE_USAGE);
    return 0;
  }
  const verbose = argv.includes('-v') || argv.includes('--verbose');
  if (request.trigger) return fireTrigger(request.trigger);
  const url = invocationUrl(request);
  let res: Response;
  try {
    res = await fetch(url, {
      method: request.method,
      headers: request.headers,
      body: request.body && request.method !== 'GET' && request.method !== 'HEAD' ? request.body : undefined,
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    process.stderr.write(
      `kubefaas invoke: cannot reach ${url} (${cause?.code ?? cause?.message ?? (err as Error).message}); is the router running (kubefaas dev)?\n`,
    );
    return 1;
  }
  const body = Buffer.from(await res.arrayBuffer());
  if (verbose) {
    process.stderr.write(`HTTP ${res.status} ${res.statusText}\n`);
    res.headers.forEach((value, key) => process.stderr.write(`${key}: ${value}\n`));
    process.stderr.write('\n');
  }
  const out = res.status >= 400 ? process.stderr : process.stdout;
  if (res.status >= 400) out.write(`kubefaas invoke: HTTP ${res.status} ${res.statusText}\n`);
  out.write(body);
  if (body.length > 0 && body[body.length - 1] !== 0x0a) out.write('\n');
  return res.status >= 400 ? 1 : 0;
}

/** `--trigger cron/<name>`: asks the running `kubefaas dev` (found by its router port) to run one tick. */
async function fireTrigger(t: NonNullable<InvokeRequest['trigger']>): Promise<number> {
  const state = readControlState(t.routerPort);
  if (!state) {
    process.stderr.write(
      `kubefaas invoke: no kubefaas dev runner serves router port ${t.routerPort} (no live ${controlStateFile(t.routerPort)}); ` +
        'start one with kubefaas dev, or pass its --router URL\n',
    );
    return 1;
  }
  let res: Response;
  try {
    res = await fetch(`${state.controlUrl}/cron/${encodeURIComponent(t.function)}/${encodeURIComponent(t.name)}`, {
      method: 'POST',
    });
  } catch (err) {
    process.stderr.write(
      `kubefaas invoke: cannot reach the runner at ${state.controlUrl} (${(err as Error).message})\n`,
    );
    return 1;
  }
  const body = (await res.json().catch(() => ({}))) as {
    error?: string;
    cronJobs?: string[];
    output?: string;
    exitCode?: number | null;
    skipped?: boolean;
    cronJob?: string;
  };
  if (res.status === 404) {
    const known = body.cronJobs?.length
      ? `; cron triggers: ${body.cronJobs.join(', ')}`
      : '; the app has no cron triggers';
    process.stderr.write(`kubefaas invoke: ${body.error ?? 'not found'}${known}\n`);
    return 1;
  }
  if (body.output) process.stdout.write(`${body.output}\n`);
  if (body.skipped) {
    process.stderr.write(
      `kubefaas invoke: ${body.cronJob}: the previous tick is still running; skipped (concurrencyPolicy Forbid)\n`,
    );
    return 1;
  }
  if (res.status !== 200) {
    process.stderr.write(
      `kubefaas invoke: ${body.error ?? `${body.cronJob}: tick failed (exit code ${body.exitCode})`}\n`,
    );
    return 1;
  }
  process.stderr.write(`kubefaas invoke: ${body.cronJob}: tick delivered\n`);
  return 0;
}
