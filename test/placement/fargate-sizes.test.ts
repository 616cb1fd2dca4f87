import fc from 'fast-check';
import {
  FARGATE_OVERHEAD_MIB,
  FARGATE_SIZES,
  fargateSizeFits,
  fargateSizeFor,
  formatFargateSize,
  LARGEST_FARGATE_SIZE,
  podDemand,
} from '../../constructs/placement/fargate-sizes';
import { cpuMillis, formatCpu, formatMemory, memoryMiB, parseQuantity } from '../../constructs/placement/quantity';

describe('quantities', () => {
  it.each([
    ['250m', 250],
    ['0.5', 500],
    ['1', 1000],
    ['2.5', 2500],
    ['1e0', 1000],
    ['100u', 1],
  ])('cpu %s is %d millicores', (q, millis) => expect(cpuMillis(q)).toBe(millis));

  it.each([
    ['128Mi', 128],
    ['1Gi', 1024],
    ['512M', 489],
    ['1G', 954],
    ['1048576', 1],
    ['1e9', 954],
  ])('memory %s is %d MiB (rounded up)', (q, mib) => expect(memoryMiB(q)).toBe(mib));

  it('rejects malformed quantities', () => {
    expect(() => parseQuantity('1e3m')).toThrow(/invalid resource quantity/);
    expect(() => parseQuantity('12 Mi')).toThrow(/invalid resource quantity/);
    expect(() => parseQuantity('lots')).toThrow(/invalid resource quantity/);
    expect(() => parseQuantity('-1')).toThrow(/invalid resource quantity/);
  });

  it('formats exact quantities', () => {
    expect(formatCpu(250)).toBe('250m');
    expect(formatCpu(2000)).toBe('2');
    expect(formatMemory(256)).toBe('256Mi');
    expect(formatMemory(2048)).toBe('2Gi');
  });
});

describe('Fargate size table', () => {
  it('holds the documented combinations', () => {
    const by = (cpu: number) => FARGATE_SIZES.filter((s) => s.cpuMillis === cpu).map((s) => s.memoryMiB / 1024);
    expect(by(250)).toEqual([0.5, 1, 2]);
    expect(by(500)).toEqual([1, 2, 3, 4]);
    expect(by(1000)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(by(2000)).toHaveLength(13);
    expect(by(4000)).toEqual(Array.from({ length: 23 }, (_, i) => 8 + i));
    expect(by(8000)).toEqual([16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60]);
    expect(by(16000)).toEqual([32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120]);
    expect(formatFargateSize(LARGEST_FARGATE_SIZE)).toBe('16vCPU 120GB');
  });

  it("matches the guide's example: 1 vCPU + 8 GB becomes 2 vCPU / 9 GB because of the 256 MB", () => {
    expect(fargateSizeFor({ cpuMillis: 1000, memoryMiB: 8192 })).toEqual({ cpuMillis: 2000, memoryMiB: 9 * 1024 });
  });

  it('gives a pod without requests the smallest size', () => {
    expect(fargateSizeFor(podDemand([{ name: 'a' }]))).toEqual({ cpuMillis: 250, memoryMiB: 512 });
  });

  it('counts the overhead at the boundary', () => {
    expect(fargateSizeFor({ cpuMillis: 250, memoryMiB: 2048 - FARGATE_OVERHEAD_MIB })).toEqual({
      cpuMillis: 250,
      memoryMiB: 2048,
    });
    expect(fargateSizeFor({ cpuMillis: 250, memoryMiB: 2048 - FARGATE_OVERHEAD_MIB + 1 })).toEqual({
      cpuMillis: 500,
      memoryMiB: 3072,
    });
  });

  it('has no size above 16 vCPU / 120 GB', () => {
    expect(fargateSizeFor({ cpuMillis: 16001, memoryMiB: 1024 })).toBeUndefined();
    expect(fargateSizeFor({ cpuMillis: 1000, memoryMiB: 120 * 1024 - FARGATE_OVERHEAD_MIB + 1 })).toBeUndefined();
  });

  it('takes the larger of the biggest init container and the sum of the others', () => {
    const c = (name: string, cpu: string, memory: string) => ({ name, resources: { requests: { cpu, memory } } });
    expect(
      podDemand(
        [c('a', '100m', '128Mi'), c('b', '200m', '64Mi')],
        [c('init', '250m', '100Mi'), c('init2', '50m', '150Mi')],
      ),
    ).toEqual({
      cpuMillis: 300,
      memoryMiB: 192,
    });
    expect(podDemand([c('a', '100m', '128Mi')], [c('init', '2', '1Gi')])).toEqual({ cpuMillis: 2000, memoryMiB: 1024 });
  });

  // The property: for any demand, the size chosen fits it, and no valid size that fits is smaller
  // in vCPU, nor equal in vCPU and smaller in memory, nor cheaper in both dimensions.
  it('always chooses the smallest valid size that fits (property)', () => {
    const demand = fc.record({
      cpuMillis: fc.integer({ min: 0, max: 17000 }),
      memoryMiB: fc.integer({ min: 0, max: 125 * 1024 }),
    });
    fc.assert(
      fc.property(demand, (d) => {
        const chosen = fargateSizeFor(d);
        const fitting = FARGATE_SIZES.filter((s) => fargateSizeFits(s, d));
        if (!chosen) return fitting.length === 0;
        if (!fargateSizeFits(chosen, d)) return false;
        // lexicographic minimum (vCPU first, then memory) ...
        const lexicographicallySmallest = fitting.every(
          (s) =>
            s.cpuMillis > chosen.cpuMillis || (s.cpuMillis === chosen.cpuMillis && s.memoryMiB >= chosen.memoryMiB),
        );
        // ... and nothing that fits is at most as large in both dimensions (so it is also the cheapest)
        const noSmallerInBoth = !fitting.some(
          (s) =>
            s !== chosen &&
            s.cpuMillis <= chosen.cpuMillis &&
            s.memoryMiB <= chosen.memoryMiB &&
            (s.cpuMillis < chosen.cpuMillis || s.memoryMiB < chosen.memoryMiB),
        );
        return lexicographicallySmallest && noSmallerInBoth;
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with quantities given as strings (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16000 }), fc.integer({ min: 1, max: 100 * 1024 }), (millis, mib) => {
        const fromStrings = fargateSizeFor(
          podDemand([{ name: 'c', resources: { requests: { cpu: `${millis}m`, memory: `${mib}Mi` } } }]),
        );
        return JSON.stringify(fromStrings) === JSON.stringify(fargateSizeFor({ cpuMillis: millis, memoryMiB: mib }));
      }),
      { numRuns: 500 },
    );
  });
});
