import { RegistrationBatches } from '../../stacks/registration-batches';

/** Records, per signal, how many event-loop turns (immediates) had passed when it resolved. */
async function turnsAtRelease(batchSize: number, signals: number): Promise<number[]> {
  let turns = 0;
  let counting = true;
  const tick = (): void => {
    if (!counting) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const batches = new RegistrationBatches(batchSize);
  const released: number[] = new Array(signals);
  await Promise.all(Array.from({ length: signals }, (_, i) => batches.next().then(() => (released[i] = turns))));
  counting = false;
  return released;
}

describe('RegistrationBatches', () => {
  test('releases the first batch at once, without waiting for a turn of the event loop', async () => {
    const released = await turnsAtRelease(3, 3);
    expect(released).toEqual([0, 0, 0]);
  });

  test('releases each further batch on a later turn, in order', async () => {
    const released = await turnsAtRelease(2, 7);
    // Batches of two: [0, 1], [2, 3], [4, 5], [6].
    expect(released[0]).toBe(released[1]);
    expect(released[2]).toBe(released[3]);
    expect(released[4]).toBe(released[5]);
    expect(released[0]).toBe(0);
    expect(released[2]).toBeGreaterThan(released[1]);
    expect(released[4]).toBeGreaterThan(released[3]);
    expect(released[6]).toBeGreaterThan(released[5]);
  });

  test('does not wait for anything but the event loop', async () => {
    // 1000 signals in batches of one resolve even though nobody "completes" a batch.
    const released = await turnsAtRelease(1, 1000);
    expect(released[999]).toBeGreaterThanOrEqual(999);
  });

  test.each([0, -1, 1.5, NaN])('refuses batch size %p', (size) => {
    expect(() => new RegistrationBatches(size)).toThrow(/positive integer/);
  });
});

describe('RegistrationBatches under fake timers', () => {
  afterEach(() => jest.useRealTimers());

  test('keeps releasing batches when a test fakes the global timers', async () => {
    // Pulumi unit tests often fake timers; registrations must not wait for a fake clock to advance.
    jest.useFakeTimers();
    const batches = new RegistrationBatches(1);
    await expect(Promise.all([batches.next(), batches.next(), batches.next()])).resolves.toHaveLength(3);
  });
});
