import { Cron } from 'croner';
import { checkSchedule as checkScheduleWith, type ScheduleCheck } from '../src/contract';

/**
 * croner's answer for a pattern: the next run, or null when it never fires (`0 0 31 2 *`).
 * The schedule grammar lives in the dependency-free contract; croner is passed in from here.
 */
export function cronerNextRun(cronerPattern: string): Date | null {
  const cron = new Cron(cronerPattern, { paused: true });
  try {
    return cron.nextRun();
  } finally {
    cron.stop();
  }
}

/** Checks a CronJob schedule as Kubernetes parses it, and that croner can run it (see src/contract/cron.ts). */
export function checkSchedule(schedule: unknown): ScheduleCheck {
  return checkScheduleWith(schedule, cronerNextRun);
}
