/**
 * A map with at most `capacity` entries that expire at their own time: a hit past its expiry is a
 * miss, and inserting into a full cache first drops expired entries, then the oldest ones. Memory
 * stays bounded whatever clients send.
 */
export class BoundedCache<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly expiresAt: number }>();

  constructor(private readonly capacity: number) {}

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V, expiresAt: number, now: number): void {
    if (this.entries.size >= this.capacity && !this.entries.has(key)) this.evict(now);
    this.entries.set(key, { value, expiresAt });
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(now: number): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
    // Still full: the oldest tenth goes (insertion order), so eviction is not paid on every insert.
    let drop = this.entries.size - this.capacity + Math.max(1, Math.floor(this.capacity / 10));
    for (const key of this.entries.keys()) {
      if (drop-- <= 0) break;
      this.entries.delete(key);
    }
  }
}
