import fc from 'fast-check';
import { Cron } from 'croner';
import { timeZoneProblem } from '../../src/contract';
import { checkSchedule } from '../../constructs/schedule';

describe('checkSchedule (the Kubernetes CronJob grammar)', () => {
  it.each([
    ['*/5 * * * *', '*/5 * * * *'],
    ['0 2 * * MON-FRI', '0 2 * * 1-5'],
    ['5/15 * * * *', '5-59/15 * * * *'],
    ['0 0 ? * sun', '0 0 * * 0'],
    ['@daily', '0 0 * * *'],
    ['@HOURLY', '0 * * * *'],
    ['  1,2,10-20/5   3 1 jan,JUL *  ', '1,2,10-20/5 3 1 1,7 *'],
  ])('accepts %j as croner pattern %j', (schedule, pattern) => {
    expect(checkSchedule(schedule)).toEqual({ ok: true, cronerPattern: pattern });
  });

  it.each([
    ['', 'the schedule is empty'],
    ['* * * * * *', 'has 6 fields; Kubernetes CronJobs take exactly 5'],
    ['* * * *', 'has 4 fields'],
    ['60 * * * *', 'minute 60 is out of range 0-59'],
    ['0 24 * * *', 'hour 24 is out of range 0-23'],
    ['0 0 0 * *', 'day of month 0 is out of range 1-31'],
    ['0 0 * 13 *', 'month 13 is out of range 1-12'],
    ['0 2 * * 7', 'day of week 7 is out of range 0-6'],
    ['0 0 L * *', "'L' is not a valid day of month"],
    ['0 0 * * 1#2', "'1#2' is not a valid day of week"],
    ['*/0 * * * *', "the minute step '0' must be a whole number above 0"],
    ['10-5 * * * *', "the minute range '10-5' starts after it ends"],
    ['@every 5m', '@every is not supported'],
    ['@reboot', 'is not a known descriptor'],
    ['TZ=Europe/Berlin 0 2 * * *', 'use the timeZone option'],
    ['0 0 30 2 *', 'never fires'],
  ])('refuses %j: %s', (schedule, problem) => {
    const result = checkSchedule(schedule);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problem).toContain(problem);
  });

  const inRange = (min: number, max: number) => fc.integer({ min, max }).map(String);
  const field = (min: number, max: number) =>
    fc.oneof(
      fc.constant('*'),
      inRange(min, max),
      fc
        .tuple(fc.integer({ min, max }), fc.integer({ min, max }))
        .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
      fc.integer({ min: 1, max: max - min + 1 }).map((s) => `*/${s}`),
    );
  const validSchedule = fc
    .tuple(field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 6))
    .map((fields) => fields.join(' '));

  it('accepts every well-formed 5-field schedule, and croner runs the translation', () => {
    fc.assert(
      fc.property(validSchedule, (schedule) => {
        const result = checkSchedule(schedule);
        expect(result.ok).toBe(true);
        if (result.ok) {
          const cron = new Cron(result.cronerPattern, { paused: true });
          expect(cron.nextRun()).toBeInstanceOf(Date);
          cron.stop();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throws, whatever the text: it accepts or explains', () => {
    const token = fc.oneof(
      fc.constantFrom('*', '?', '/', '-', ',', 'L', 'W', '#', 'MON', 'jan', '@daily', '@every'),
      fc.integer({ min: -5, max: 99 }).map(String),
    );
    const text = fc.oneof(
      fc.string(),
      fc
        .array(
          fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('')),
          { minLength: 0, maxLength: 8 },
        )
        .map((f) => f.join(' ')),
    );
    fc.assert(
      fc.property(text, (schedule) => {
        const result = checkSchedule(schedule);
        if (!result.ok) expect(result.problem.length).toBeGreaterThan(0);
        // Anything accepted has exactly the five fields Kubernetes wants.
        else expect(result.cronerPattern.split(' ')).toHaveLength(5);
      }),
      { numRuns: 500 },
    );
  });
});

describe('timeZoneProblem', () => {
  it.each(['UTC', 'Europe/Berlin', 'America/New_York', 'Etc/GMT+1', 'US/Eastern'])('accepts %s', (zone) => {
    expect(timeZoneProblem(zone)).toBeUndefined();
  });
  it.each(['Mars/Olympus', '+01:00', 'Local', '', 'Europe/', 'CET CEST'])('refuses %j', (zone) => {
    expect(timeZoneProblem(zone)).toMatch(/time zone/);
  });
});
