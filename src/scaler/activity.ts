/**
 * StreamIsActive (KEDA's `external-push` trigger): every open stream gets its function's activity
 * when it opens, at once when a router reports an activate event (the path that takes a function
 * from zero to one without waiting for KEDA's polling interval), and whenever a later poll changes
 * the answer. KEDA turns every message into a scale request, so repeats are held back.
 */

/** Once a stream was told `true`, further activate events within this window send nothing. */
const REPEAT_TRUE_AFTER_MS = 1_000;

interface Subscriber {
  readonly send: (active: boolean) => void;
  lastSent: boolean | undefined;
  lastSentAt: number;
}

export class ActivityHub {
  private readonly byFunction = new Map<string, Set<Subscriber>>();
  private count = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Open streams. */
  get size(): number {
    return this.count;
  }

  /**
   * Registers a stream for `fn` and sends it `initial` (undefined: nothing yet, the next `refresh`
   * tells it). The returned function unregisters it.
   */
  subscribe(fn: string, send: (active: boolean) => void, initial?: boolean): () => void {
    const subscriber: Subscriber = { send, lastSent: undefined, lastSentAt: -Infinity };
    let set = this.byFunction.get(fn);
    if (set === undefined) {
      set = new Set();
      this.byFunction.set(fn, set);
    }
    set.add(subscriber);
    this.count++;
    if (initial !== undefined) this.push(subscriber, initial, this.now());
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.count--;
      set.delete(subscriber);
      if (set.size === 0 && this.byFunction.get(fn) === set) this.byFunction.delete(fn);
    };
  }

  /** A router reported a request waiting for `fn`: push `true` now. */
  activated(fn: string): void {
    const set = this.byFunction.get(fn);
    if (set === undefined) return;
    const now = this.now();
    for (const s of set) {
      if (s.lastSent === true && now - s.lastSentAt < REPEAT_TRUE_AFTER_MS) continue;
      this.push(s, true, now);
    }
  }

  /** Sends every stream whose function's activity differs from what it was last told (or that was told nothing). */
  refresh(activeOf: (fn: string) => boolean): void {
    const now = this.now();
    for (const [fn, set] of this.byFunction) {
      const active = activeOf(fn);
      for (const s of set) if (s.lastSent !== active) this.push(s, active, now);
    }
  }

  private push(s: Subscriber, active: boolean, now: number): void {
    s.lastSent = active;
    s.lastSentAt = now;
    s.send(active);
  }
}
