/**
 * The adversarial suite's platform and wire tools: the fixture app (fixtures/app.ts) synthesized and
 * run by the local runner's own code, and a raw-socket exchange that classifies what came back.
 * Loopback only; every wait is bounded.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { LocalPlatform } from '../../src/local';
import { LogCapture, tempDir } from '../local/helpers';

const root = path.resolve(__dirname, '..', '..');

/** KUBEFAAS_SOAK=1: the long run (thousands of messages, more generated requests). */
export const SOAK = process.env.KUBEFAAS_SOAK === '1';

export interface AdversarialPlatform {
  readonly platform: LocalPlatform;
  readonly log: LogCapture;
  /** Where `tally` and `qtally` record their runs. */
  readonly tallyDir: string;
  stop(): Promise<void>;
}

export async function startAdversarialPlatform(opts: { fastPath: boolean }): Promise<AdversarialPlatform> {
  const log = new LogCapture();
  const tallyDir = tempDir('adversarial-tally');
  const platform = await LocalPlatform.start({
    app: path.join(__dirname, 'fixtures', 'app.ts'),
    cwd: root,
    port: 0,
    log: log.sink,
    readyTimeoutMs: 60_000,
    env: { ...process.env, ADVERSARIAL_FAST_PATH: opts.fastPath ? 'on' : 'off', ADVERSARIAL_TALLY_DIR: tallyDir },
    // Crashes on purpose (exit, OOM) restart quickly.
    supervisor: { initialBackoffMs: 100, maxBackoffMs: 1000 },
  });
  return {
    platform,
    log,
    tallyDir,
    stop: async () => {
      await platform.stop();
      fs.rmSync(tallyDir, { recursive: true, force: true });
    },
  };
}

export function functionPort(p: LocalPlatform, name: string): number {
  const f = p.functions.get(name);
  if (!f) throw new Error(`no function ${name}`);
  return f.port;
}

/** What one raw exchange produced: a status, a close without a response, or nothing in time. */
export type Outcome =
  | { readonly kind: 'status'; readonly status: number; readonly text: string }
  | { readonly kind: 'closed' }
  | { readonly kind: 'hang' };

export function describeOutcome(o: Outcome): string {
  return o.kind === 'status' ? String(o.status) : o.kind;
}

/** Sends `bytes` on a fresh connection and waits (at most `timeoutMs`) for a status line or a close. */
export function exchange(port: number, bytes: string | Buffer, timeoutMs = 3000): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let got = Buffer.alloc(0);
    const finish = (o: Outcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'hang' }), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const status = finalStatus(got.toString('latin1'));
      if (status !== undefined) setTimeout(() => finish({ kind: 'status', status, text: got.toString('latin1') }), 20);
    });
    // The peer's FIN counts as a close (with allowHalfOpen, 'close' would wait for our own end).
    socket.on('end', () => socket.emit('close'));
    socket.on('close', () => {
      const status = finalStatus(got.toString('latin1'));
      finish(status !== undefined ? { kind: 'status', status, text: got.toString('latin1') } : { kind: 'closed' });
    });
    socket.on('error', () => undefined);
    socket.write(bytes);
  });
}

/** Status of the first final (non-1xx) response whose head is complete in `text`, if any. */
function finalStatus(text: string): number | undefined {
  let rest = text;
  for (;;) {
    const m = /^HTTP\/1\.[01] (\d{3})[^]*?\r\n\r\n/.exec(rest);
    if (!m) return undefined;
    const status = Number(m[1]);
    if (status >= 200) return status;
    rest = rest.slice(m[0].length); // 100 Continue and friends are interim
  }
}

/** Prints a run's figures (always: they go into docs/reliability.md). */
export function printFigures(title: string, figures: Readonly<Record<string, number | string>>): void {
  const line = Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stderr.write(`adversarial figures | ${title} | ${line}\n`);
}

/** Polls `test` every 100 ms until true or `withinMs` passed; resolves whether it became true. */
export async function within(withinMs: number, test: () => boolean | Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await test()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
