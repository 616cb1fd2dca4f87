/**
 * Async calls and queue messages under faults: while a bounded batch is in flight, the consuming
 * runtime is killed with SIGKILL and then nats-server is (both restarted by the local runner, the
 * way a cluster restarts a pod). Counted from the handlers' own record (one line per run, appended
 * to a file, so it survives every kill):
 *   accepted   the platform acknowledged it (202 from the router / a JetStream publish ack)
 *   executed   accepted ids that a handler run recorded
 *   lost       accepted but never executed within the wait
 *   duplicated handler runs beyond the first per id (allowed: delivery is at-least-once)
 * 300 of each by default; KUBEFAAS_SOAK=1 runs 5,000.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { printFigures, SOAK, startAdversarialPlatform, within, type AdversarialPlatform } from './harness';

const COUNT = SOAK ? 5000 : 300;
const CONCURRENCY = 16;
/** A client retries a call the platform did not accept (e.g. 503 while NATS restarts) this often, 100 ms apart. */
const CLIENT_RETRIES = 150;
const DRAIN_WAIT_MS = SOAK ? 300_000 : 60_000;

jest.setTimeout(DRAIN_WAIT_MS + 120_000);

interface Counts {
  sent: number;
  accepted: number;
  rejected: number;
  clientRetries: number;
}

function recorded(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

function figures(
  accepted: ReadonlySet<string>,
  lines: readonly string[],
): { executed: number; lost: number; duplicated: number; unknown: number } {
  const unique = new Set(lines);
  return {
    executed: [...accepted].filter((id) => unique.has(id)).length,
    lost: [...accepted].filter((id) => !unique.has(id)).length,
    duplicated: lines.length - unique.size,
    unknown: [...unique].filter((id) => !accepted.has(id)).length,
  };
}

/** Sends `COUNT` items through `send` with `CONCURRENCY` workers, calling `fault(n)` once the n-th is sent. */
async function drive(
  send: (id: string, n: number) => Promise<boolean>,
  prefix: string,
  faults: ReadonlyMap<number, () => Promise<void>>,
): Promise<{ counts: Counts; accepted: Set<string> }> {
  const counts: Counts = { sent: 0, accepted: 0, rejected: 0, clientRetries: 0 };
  const accepted = new Set<string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < COUNT) {
      const n = next++;
      const fault = faults.get(n);
      if (fault) await fault();
      const id = `${prefix}-${n}`;
      counts.sent++;
      let ok = false;
      for (let attempt = 0; attempt <= CLIENT_RETRIES && !ok; attempt++) {
        if (attempt > 0) {
          counts.clientRetries++;
          await new Promise((r) => setTimeout(r, 100));
        }
        ok = await send(id, n).catch(() => false);
      }
      if (ok) {
        counts.accepted++;
        accepted.add(id);
      } else counts.rejected++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { counts, accepted };
}

describe(`durability under faults (${COUNT} async calls, ${COUNT} queue messages)`, () => {
  let p: AdversarialPlatform;
  let natsName: string;

  beforeAll(async () => {
    p = await startAdversarialPlatform({ fastPath: true });
    natsName = [...p.platform.functions.keys()].find((n) => n.includes('nats'))!;
  });
  afterAll(async () => {
    await p?.stop();
  });

  /** SIGKILL to a workload's process; resolves once the runner has it back up (ready again). */
  const killAndAwaitRestart = async (name: string): Promise<void> => {
    const pid = p.platform.functions.get(name)!.pid!;
    const crashes = p.platform.crashes(name);
    process.kill(pid, 'SIGKILL');
    await within(10_000, () => p.platform.crashes(name) > crashes);
  };

  test('async calls: none lost with the runtime killed -9 and nats-server killed -9', async () => {
    const faults = new Map<number, () => Promise<void>>([
      [Math.floor(COUNT / 3), () => killAndAwaitRestart('tally')],
      [Math.floor((2 * COUNT) / 3), () => killAndAwaitRestart(natsName)],
    ]);
    const { counts, accepted } = await drive(
      async (id) => {
        const res = await fetch(`${p.platform.url}/async-function/tally`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id }),
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        return res.status === 202;
      },
      'async',
      faults,
    );
    const file = path.join(p.tallyDir, 'tally.log');
    await within(DRAIN_WAIT_MS, () => figures(accepted, recorded(file)).lost === 0);
    const f = figures(accepted, recorded(file));
    printFigures(`async calls, tally runtime and nats-server killed -9 (${COUNT})`, { ...counts, ...f });
    expect({ rejected: counts.rejected, lost: f.lost, unknown: f.unknown }).toEqual({
      rejected: 0,
      lost: 0,
      unknown: 0,
    });
    expect(f.executed).toBe(COUNT);
  });

  test('queue messages (1 in 5 fails its first attempt): none lost with the consumer killed -9 and nats-server killed -9', async () => {
    const nc: NatsConnection = await connect({
      servers: `127.0.0.1:${p.platform.functions.get(natsName)!.port}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    try {
      const js = nc.jetstream();
      const faults = new Map<number, () => Promise<void>>([
        [Math.floor(COUNT / 3), () => killAndAwaitRestart('qtally')],
        [Math.floor((2 * COUNT) / 3), () => killAndAwaitRestart(natsName)],
      ]);
      const { counts, accepted } = await drive(
        async (id, n) => {
          // msgID: a publish retried after a lost ack is stored once (JetStream deduplication).
          await js.publish('topics.work', JSON.stringify({ id, n }), { msgID: id, timeout: 2000 });
          return true;
        },
        'queue',
        faults,
      );
      const file = path.join(p.tallyDir, 'qtally.log');
      await within(DRAIN_WAIT_MS, () => figures(accepted, recorded(file)).lost === 0);
      const f = figures(accepted, recorded(file));
      const failedFirst = fs.readdirSync(p.tallyDir).filter((n) => n.startsWith('failed-')).length;
      printFigures(`queue messages, qtally runtime and nats-server killed -9 (${COUNT})`, {
        ...counts,
        ...f,
        failedFirstAttempt: failedFirst,
      });
      expect({ rejected: counts.rejected, lost: f.lost, unknown: f.unknown }).toEqual({
        rejected: 0,
        lost: 0,
        unknown: 0,
      });
      expect(f.executed).toBe(COUNT);
      expect(failedFirst).toBe(COUNT / 5);
    } finally {
      await nc.close();
    }
  });
});
