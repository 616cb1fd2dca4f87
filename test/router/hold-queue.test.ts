/**
 * The activator's per-function hold queue in process: arrival order on release (the process-level
 * tests cannot see it, the pool's parallel connections reorder arrivals at the function), removal
 * from the middle, expiry, the bound, and when an activation is asked for.
 */
import { FunctionActivity, type Holdable } from '../../src/router/activator/function-activity';
import { HoldQueue } from '../../src/router/activator/hold-queue';
import { RouterMetrics } from '../../src/router/metrics';

class Probe implements Holdable {
  heldAt = 0;
  holdDeadline = 0;
  holding = false;
  outcome: string | undefined;
  constructor(
    readonly id: number,
    private readonly log: string[],
  ) {}
  released(): void {
    this.outcome = 'released';
    this.log.push(`released ${this.id}`);
  }
  holdFailed(status: number): void {
    this.outcome = String(status);
    this.log.push(`${status} ${this.id}`);
  }
}

function activity(scaling = { minReplicas: 0, activationTimeoutMs: 60_000, holdQueueLimit: 100 }) {
  const activations: string[] = [];
  const metrics = new RouterMetrics();
  const a = new FunctionActivity('fn', () => metrics.activation('fn'), { activate: (fn) => activations.push(fn) });
  a.configure(scaling, true);
  return { a, activations, metrics };
}

describe('FunctionActivity hold queue', () => {
  it('is cold only while it scales to zero, has a source, and knows no ready endpoint', () => {
    const { a } = activity();
    expect(a.cold).toBe(true);
    a.setReadyEndpoints(1);
    expect(a.cold).toBe(false);
    a.setReadyEndpoints(0);
    expect(a.cold).toBe(true);
    a.configure({ minReplicas: 1, activationTimeoutMs: 1000, holdQueueLimit: 10 }, true);
    expect(a.cold).toBe(false);
    a.configure({ minReplicas: 0, activationTimeoutMs: 1000, holdQueueLimit: 10 }, false);
    expect(a.cold).toBe(false);
  });

  it('releases in arrival order, skipping requests whose client left', () => {
    const { a, activations } = activity();
    const log: string[] = [];
    const probes = Array.from({ length: 200 }, (_, i) => new Probe(i, log));
    for (const p of probes) expect(a.hold(p)).toBe(p.id < 100);
    expect(a.waiting).toBe(100);
    for (const p of probes.filter((p) => p.id % 3 === 0 && p.id < 100)) a.cancel(p);
    expect(a.waiting).toBe(66);
    a.setReadyEndpoints(2);
    const expected = probes.filter((p) => p.id < 100 && p.id % 3 !== 0).map((p) => `released ${p.id}`);
    expect(log).toEqual(expected);
    expect(a.waiting).toBe(0);
    expect(activations).toEqual(['fn']);
  });

  it('expires held requests at their deadline with 504, oldest first, and asks again for the next activation', async () => {
    const { a, activations, metrics } = activity({ minReplicas: 0, activationTimeoutMs: 100, holdQueueLimit: 10 });
    const log: string[] = [];
    const expiredAt: number[] = [];
    const until = async (n: number) => {
      while (log.length < n) await new Promise((r) => setTimeout(r, 5));
      expiredAt[n - 1] ??= performance.now();
    };
    const first = new Probe(1, log);
    a.hold(first);
    await new Promise((r) => setTimeout(r, 60));
    const second = new Probe(2, log);
    a.hold(second);
    expect(activations).toEqual(['fn']);
    await until(1);
    expect(log[0]).toBe('504 1');
    expect(expiredAt[0] - first.heldAt).toBeGreaterThanOrEqual(100);
    await until(2);
    expect(log).toEqual(['504 1', '504 2']);
    expect(performance.now() - second.heldAt).toBeGreaterThanOrEqual(100);
    a.hold(new Probe(3, log));
    expect(activations).toEqual(['fn', 'fn']);
    expect(metrics.activation('fn').coldStarts.value).toBe(2);
  });

  it('answers 503 for held requests when the function leaves the table', () => {
    const { a } = activity();
    const log: string[] = [];
    a.hold(new Probe(1, log));
    a.retire();
    expect(log).toEqual(['503 1']);
    expect(a.cold).toBe(false);
  });

  it('asks for an activation for an async call to a cold function once per activation timeout', () => {
    const { a, activations } = activity();
    a.asyncCallQueued();
    a.asyncCallQueued();
    expect(activations).toEqual(['fn']);
    a.setReadyEndpoints(1);
    a.asyncCallQueued();
    expect(activations).toEqual(['fn']);
  });
});

describe('HoldQueue', () => {
  it('keeps memory proportional to what is held when requests leave from the middle', () => {
    const q = new HoldQueue<{ heldAt: number; holdDeadline: number; holding: boolean; id: number }>();
    const items = Array.from({ length: 10_000 }, (_, id) => ({ heldAt: 0, holdDeadline: id, holding: false, id }));
    for (const item of items) q.push(item);
    for (const item of items.slice(0, 9_990)) q.remove(item);
    expect(q.size).toBe(10);
    expect((q as unknown as { items: unknown[] }).items.length).toBeLessThan(200);
    expect(q.takeExpired(9_995).map((i) => i.id)).toEqual([9990, 9991, 9992, 9993, 9994, 9995]);
    expect(q.shift()?.id).toBe(9996);
    expect(q.earliestDeadline()).toBe(9997);
  });
});
