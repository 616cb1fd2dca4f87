/**
 * Hands out "you may start" signals for resource registrations, `batchSize` at a time: the first
 * batch may start at once, each further batch one event-loop turn (`setImmediate`) after the one
 * before it.
 *
 * Why: a resource's registration runs as a long chain of promise steps (serialize every input
 * value, build the request, send it, turn the answer into outputs). Started together, thousands of
 * those chains advance in lockstep, one microtask each in turn, so every one of them holds its
 * half-built request for the whole run: the young generation is full of live objects at every
 * scavenge, and V8 spends its time copying and promoting them. Released in batches, a batch is
 * serialized and sent while only its own requests are live, and its garbage dies young.
 *
 * The signal waits only for time on this process, never for the engine: a batch does not wait for
 * the previous batch's registrations to finish, so the engine's parallelism is untouched (and it
 * receives the first requests sooner instead of after the last one is serialized). The macrotask
 * boundary between batches also lets network I/O run in between.
 */
export class RegistrationBatches {
  private readonly batchSize: number;
  private inBatch = 0;
  private gate: Promise<void> = Promise.resolve();

  constructor(batchSize: number) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
    this.batchSize = batchSize;
  }

  /** Resolves when the next registration may start. Call in registration order. */
  public next(): Promise<void> {
    if (this.inBatch === this.batchSize) {
      const previous = this.gate;
      // The next turn is scheduled only once the previous batch is released, so batches are
      // always at least one event-loop turn apart (immediates queued together would all run in
      // the same turn, with nothing in between).
      this.gate = previous.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
      this.inBatch = 0;
    }
    this.inBatch++;
    return this.gate;
  }
}
