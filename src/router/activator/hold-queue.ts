/** A request waiting in a `HoldQueue`; the queue owns `holding` while it is in one. */
export interface HeldRequest {
  /** `performance.now()` when it started waiting (the first time, if it was held again). */
  heldAt: number;
  /** `performance.now()` after which it has waited too long. */
  holdDeadline: number;
  /** True while it is in a queue; the queue clears it when the request leaves. */
  holding: boolean;
}

/**
 * The requests held for one function, oldest first. Leaving from the middle (a client that went
 * away) only clears the request's `holding` flag and the live count: `shift` and `takeExpired`
 * skip such entries, and the array is compacted when they outnumber the live ones, so removal is
 * O(1) and memory stays proportional to what is held.
 */
export class HoldQueue<T extends HeldRequest> {
  private items: Array<T | undefined> = [];
  private head = 0;
  private live = 0;

  /** Requests held right now. */
  get size(): number {
    return this.live;
  }

  push(item: T): void {
    item.holding = true;
    this.items.push(item);
    this.live++;
  }

  /** The oldest request still held, taken out of the queue; undefined when none is. */
  shift(): T | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      this.items[this.head++] = undefined;
      if (item !== undefined && item.holding) {
        item.holding = false;
        this.live--;
        this.resetIfEmpty();
        return item;
      }
    }
    this.resetIfEmpty();
    return undefined;
  }

  /** Takes `item` out wherever it is (no-op if it is not held). */
  remove(item: T): void {
    if (!item.holding) return;
    item.holding = false;
    this.live--;
    if (this.live === 0) {
      this.items = [];
      this.head = 0;
    } else if (this.items.length - this.head > 2 * this.live + 64) {
      this.compact();
    }
  }

  /** Takes out, oldest first, every request whose deadline is at or before `now`. */
  takeExpired(now: number): T[] {
    const expired: T[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item === undefined || !item.holding || item.holdDeadline > now) continue;
      item.holding = false;
      this.items[i] = undefined;
      this.live--;
      expired.push(item);
    }
    if (expired.length > 0) this.compact();
    return expired;
  }

  /** The earliest deadline of the requests held (Infinity when none is). */
  earliestDeadline(): number {
    let earliest = Infinity;
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item !== undefined && item.holding && item.holdDeadline < earliest) earliest = item.holdDeadline;
    }
    return earliest;
  }

  private compact(): void {
    const kept: T[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item !== undefined && item.holding) kept.push(item);
    }
    this.items = kept;
    this.head = 0;
  }

  private resetIfEmpty(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
  }
}
