/** An entry of the deadline queue; the queue links entries through these fields (no extra allocation). */
export interface DeadlineEntry {
  /** `performance.now()` time at which the entry expires. */
  deadlineAt: number;
  deadlinePrev: DeadlineEntry | undefined;
  deadlineNext: DeadlineEntry | undefined;
  deadlineQueued: boolean;
  /** Called once when the deadline passes while the entry is still queued. */
  expire(): void;
}

/**
 * Expires entries whose deadline has passed, with ONE timer for the whole process instead of a
 * setTimeout per request (perf-notes.md: per-request timers are among the costliest things a
 * runtime can do). Every entry gets the same timeout, so appending keeps the list sorted by
 * deadline and the head is always the next to expire; add and remove are O(1).
 */
export class DeadlineQueue {
  private head: DeadlineEntry | undefined;
  private tail: DeadlineEntry | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly onTimer = (): void => this.sweep();

  add(entry: DeadlineEntry): void {
    entry.deadlineQueued = true;
    entry.deadlineNext = undefined;
    entry.deadlinePrev = this.tail;
    if (this.tail && this.tail.deadlineAt > entry.deadlineAt) {
      // Out-of-order deadline (never with one timeout per runtime, but keep the list sorted anyway).
      this.insertSorted(entry);
    } else {
      if (this.tail) this.tail.deadlineNext = entry;
      else this.head = entry;
      this.tail = entry;
    }
    if (entry.deadlineAt < this.timerAt) this.arm(entry.deadlineAt);
  }

  remove(entry: DeadlineEntry): void {
    if (!entry.deadlineQueued) return;
    entry.deadlineQueued = false;
    const { deadlinePrev: prev, deadlineNext: next } = entry;
    if (prev) prev.deadlineNext = next;
    else this.head = next;
    if (next) next.deadlinePrev = prev;
    else this.tail = prev;
    entry.deadlinePrev = entry.deadlineNext = undefined;
    // The timer stays armed even when the queue empties: when it fires early it finds nothing due and
    // re-arms for the new head. Cancelling and re-creating it on every completion would bring back
    // the per-request timer cost this class exists to avoid.
  }

  private sweep(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    while (this.head && this.head.deadlineAt <= now) {
      const entry = this.head;
      this.remove(entry);
      entry.expire();
    }
    if (this.head) this.arm(this.head.deadlineAt);
  }

  private arm(at: number): void {
    this.disarm();
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(at - performance.now())));
    // In-flight requests keep the process alive through their sockets; the timer alone must not.
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private insertSorted(entry: DeadlineEntry): void {
    let after = this.tail;
    while (after && after.deadlineAt > entry.deadlineAt) after = after.deadlinePrev;
    entry.deadlinePrev = after;
    entry.deadlineNext = after ? after.deadlineNext : this.head;
    if (entry.deadlineNext) entry.deadlineNext.deadlinePrev = entry;
    else this.tail = entry;
    if (after) after.deadlineNext = entry;
    else this.head = entry;
  }
}
