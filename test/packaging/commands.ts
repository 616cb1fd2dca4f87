/**
 * Running the commands a user runs (npm, tsc, node) as child processes, asynchronously so jest's
 * timeout still works, and failing with the command's own output so a broken package says why.
 */
import { spawn } from 'node:child_process';

export interface RunOptions {
  readonly cwd: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `file args…`, resolving with its output when it exits 0 and rejecting with that output otherwise. */
export function run(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve({ stdout, stderr });
      else {
        const status = signal ? `signal ${signal}` : `exit code ${code}`;
        reject(new Error(`\`${[file, ...args].join(' ')}\` in ${opts.cwd} failed (${status}):\n${stdout}${stderr}`));
      }
    });
  });
}
