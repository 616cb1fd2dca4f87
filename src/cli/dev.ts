import { parseArgs } from 'node:util';
import { parseEnvOverride, startLocalPlatform, type LocalPlatform } from '../local';
import { DEV_USAGE } from './usage';

/** `kubefaas dev`: runs until SIGINT/SIGTERM; returns the process exit code. */
export async function devCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      manifests: { type: 'string' },
      port: { type: 'string', short: 'p' },
      'no-watch': { type: 'boolean' },
      'watch-path': { type: 'string', multiple: true },
      env: { type: 'string', short: 'e', multiple: true },
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

  let platform: LocalPlatform;
  try {
    const envOverrides = (values.env ?? []).map(parseEnvOverride);
    platform = await startLocalPlatform({
      envOverrides,
      app: positionals[0],
      manifestsDir: values.manifests,
      port,
      watch: !values['no-watch'],
      watchPaths: values['watch-path'],
    });
  } catch (err) {
    process.stderr.write(`kubefaas dev: ${(err as Error).message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // A second Ctrl-C: don't wait for graceful shutdown (the exit handler kills the children).
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`\nkubefaas dev: ${signal}, stopping…\n`);
      void platform.stop().then(() => resolve(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
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
