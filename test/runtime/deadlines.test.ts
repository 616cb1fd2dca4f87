import { DeadlineQueue, type DeadlineEntry } from '../../src/runtime/deadlines';

function entry(name: string, deadlineAt: number, expired: string[]): DeadlineEntry {
  return {
    deadlineAt,
    deadlinePrev: undefined,
    deadlineNext: undefined,
    deadlineQueued: false,
    expire: () => expired.push(name),
  };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('expires due entries in deadline order, skips removed ones, leaves future ones queued', async () => {
  const queue = new DeadlineQueue();
  const expired: string[] = [];
  const now = performance.now();
  const a = entry('a', now - 3, expired);
  const b = entry('b', now - 2, expired);
  const c = entry('c', now - 5, expired); // out of order: must still expire first
  const later = entry('later', now + 60_000, expired);
  queue.add(a);
  queue.add(b);
  queue.add(later);
  queue.add(c);
  queue.remove(b);
  await tick(20);
  expect(expired).toEqual(['c', 'a']);
  expect(b.deadlineQueued).toBe(false);
  expect(later.deadlineQueued).toBe(true);
  queue.remove(later);
  expect(later.deadlineQueued).toBe(false);
});

test('keeps sweeping after the head completes early', async () => {
  const queue = new DeadlineQueue();
  const expired: string[] = [];
  const now = performance.now();
  const first = entry('first', now + 5, expired);
  const second = entry('second', now + 10, expired);
  queue.add(first);
  queue.add(second);
  queue.remove(first); // the timer armed for `first` fires with nothing due and re-arms
  await tick(60);
  expect(expired).toEqual(['second']);
});
