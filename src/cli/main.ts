#!/usr/bin/env node
/**
 * The `kubefaas` command line: `dev` (local runner), `invoke` (call a function through a router) and
 * `graph` (the platform graph of an app).
 * Arguments are parsed with node:util parseArgs; no CLI framework.
 */
import { devCommand, UsageError } from './dev';
import { initCommand } from './init';
import { graphCommand } from './graph';
import { invokeCommand } from './invoke';
import { MAIN_USAGE } from './usage';

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  dev: devCommand,
  graph: graphCommand,
  invoke: invokeCommand,
  init: initCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    if (command === undefined) {
      process.stderr.write(MAIN_USAGE);
      return 2;
    }
    process.stdout.write(MAIN_USAGE);
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`kubefaas: unknown command "${command}"\n\n${MAIN_USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`kubefaas ${command}: ${err.message}\n\n${err.usage}`);
      return 2;
    }
    // parseArgs' own errors (unknown option, missing value) are usage errors too.
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(
        `kubefaas ${command}: ${(err as Error).message}\n\nRun "kubefaas ${command} --help" for usage.\n`,
      );
      return 2;
    }
    process.stderr.write(`kubefaas ${command}: ${(err as Error).stack ?? err}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
