// The timers module's own setImmediate, not the global one: test runners' fake timers (e.g.
// `jest.useFakeTimers()`) replace the global, and the pacing must not stall a test that never
// advances its fake clock — it is an internal scheduling detail, not a delay anyone waits for.
import { setImmediate } from 'node:timers';

/**
 * Hands out start signals for resource registrations, `batchSize` at a time: the first batch may
 * start at once, each further batch one event-loop turn (`setImmediate`) after the batch before it.
 *
 * Why: after its synchronous constructor, a Pulumi resource's registration is a long chain of
 * promise steps (serialize every input value, build the request, send it, turn the answer into
 * outputs). Thousands of chains started together advance in lockstep, one microtask each in turn,
 * so every registration holds its half-built request (and its share of protobuf conversion
 * garbage) until nearly all of them are done: at every young-generation collection almost
 * everything is still alive, and V8 copies and promotes it instead of freeing it. Released a few
 * per turn, a batch is serialized and sent while only its own requests are alive, and its
 * temporary objects die young.
 *
 * The signal waits only for this process's event loop, never for the engine: a batch does not
 * wait for the previous batch's registrations to complete, so the engine's parallelism is
 * untouched — it receives the first requests early, instead of after thousands of interleaved
 * serializations, and network I/O runs between batches.
 */
export class RegistrationBatches {
  private readonly batchSize: number;
  private inBatch = 0;
  private gate: Promise<void> = Promise.resolve();

  constructor(batchSize: number) {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new Error(`RegistrationBatches: the batch size must be a positive integer, got ${batchSize}`);
    }
    this.batchSize = batchSize;
  }

  /** Resolves when the next registration may start. Call once per registration, in registration order. */
  public next(): Promise<void> {
    if (this.inBatch === this.batchSize) {
      // The next turn is requested only once the previous batch is released: immediates requested
      // together would all run back to back in the same turn, with no network I/O in between.
      this.gate = this.gate.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
      this.inBatch = 0;
    }
    this.inBatch++;
    return this.gate;
  }
}
