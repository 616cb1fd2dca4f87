import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { parseEnvOverride, startLocalPlatform, type LocalPlatform } from '../local';
import { DEV_USAGE } from './usage';

/** The signals that stop `kubefaas dev` gracefully (SIGHUP: its terminal went away). */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** `kubefaas dev`: runs until SIGINT/SIGTERM/SIGHUP; returns the process exit code. */
export async function devCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      manifests: { type: 'string' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      'no-watch': { type: 'boolean' },
      'watch-path': { type: 'string', multiple: true },
      env: { type: 'string', short: 'e', multiple: true },
      'max-replicas': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(DEV_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`dev takes one app, got ${positionals.length}`, DEV_USAGE);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new UsageError(`--port must be a port number, got ${values.port}`, DEV_USAGE);
  }
  if (values.host !== undefined && net.isIP(values.host) === 0 && values.host !== 'localhost') {
    throw new UsageError(
      `--host must be an IP address (0.0.0.0 to share the router on every interface), got ${values.host}`,
      DEV_USAGE,
    );
  }

  const maxReplicas = values['max-replicas'] === undefined ? undefined : Number(values['max-replicas']);
  if (maxReplicas !== undefined && (!Number.isInteger(maxReplicas) || maxReplicas < 1 || maxReplicas > 100)) {
    throw new UsageError(
      `--max-replicas must be a whole number from 1 to 100, got ${values['max-replicas']}`,
      DEV_USAGE,
    );
  }

  let platform: LocalPlatform;
  try {
    const envOverrides = (values.env ?? []).map(parseEnvOverride);
    platform = await startLocalPlatform({
      envOverrides,
      app: positionals[0],
      manifestsDir: values.manifests,
      port,
      host: values.host,
      watch: !values['no-watch'],
      watchPaths: values['watch-path'],
      maxReplicas,
    });
  } catch (err) {
    process.stderr.write(`kubefaas dev: ${(err as Error).message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // A second Ctrl-C: don't wait for graceful shutdown (the exit handler kills the children
        // and removes the run directory).
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`\nkubefaas dev: ${signal}, stopping…\n`);
      void platform.stop().then(() => resolve(0));
    };
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  });
}

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}
