/**
 * Cron schedules as Kubernetes accepts them, checked without a cluster, and their translation to a
 * pattern croner runs (the local runner's scheduler).
 *
 * Kubernetes parses `CronJob.spec.schedule` with robfig/cron's standard parser: exactly five fields
 * (minute hour day-of-month month day-of-week) or a descriptor (`@hourly` …). croner is more
 * liberal (seconds, `L`, `W`, `#`, day-of-week 7), so it cannot be the judge alone: we parse the
 * Kubernetes grammar here, then let croner confirm it can run the result. The contract has no
 * dependencies, so the caller passes croner in as `NextRun` (constructs/schedule.ts at synth,
 * src/local/cron.ts in the local runner).
 */

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  { name: 'day of week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

/** Descriptors Kubernetes accepts, as the five fields they stand for. */
const DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export const SCHEDULE_HINT =
  'Use five fields "minute hour day-of-month month day-of-week" (e.g. "*/5 * * * *" or "0 2 * * MON-FRI") or one of @hourly, @daily, @weekly, @monthly, @yearly';

/** A schedule Kubernetes would accept: the croner pattern that runs it locally. */
export type ScheduleCheck =
  { readonly ok: true; readonly cronerPattern: string } | { readonly ok: false; readonly problem: string };

/**
 * The scheduler's view of a pattern: its next run after now, null when it never fires. Throws when
 * the scheduler refuses the pattern.
 */
export type NextRun = (cronerPattern: string) => Date | null;

/** Checks `schedule` against the Kubernetes CronJob grammar, then against the scheduler (croner). */
export function checkSchedule(schedule: unknown, nextRun: NextRun): ScheduleCheck {
  if (typeof schedule !== 'string' || schedule.trim() === '') return { ok: false, problem: 'the schedule is empty' };
  const text = schedule.trim();
  if (/^(CRON_)?TZ=/i.test(text)) {
    return {
      ok: false,
      problem: `schedule '${text}' sets a time zone inside the schedule, which Kubernetes refuses; use the timeZone option`,
    };
  }
  let fields: string[];
  if (text.startsWith('@')) {
    const expanded = DESCRIPTORS[text.toLowerCase()];
    if (!expanded) {
      const every = text.toLowerCase().startsWith('@every');
      return {
        ok: false,
        problem: every
          ? `schedule '${text}': @every is not supported; use a step such as "*/15 * * * *"`
          : `schedule '${text}' is not a known descriptor (@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)`,
      };
    }
    fields = expanded.split(' ');
  } else {
    fields = text.split(/\s+/);
    if (fields.length !== 5) {
      return {
        ok: false,
        problem: `schedule '${text}' has ${fields.length} field${fields.length === 1 ? '' : 's'}; Kubernetes CronJobs take exactly 5 (no seconds or years)`,
      };
    }
  }
  const normalized: string[] = [];
  for (let i = 0; i < 5; i++) {
    const result = normalizeField(fields[i], FIELDS[i]);
    if (typeof result !== 'string') return { ok: false, problem: `schedule '${text}': ${result.problem}` };
    normalized.push(result);
  }
  const cronerPattern = normalized.join(' ');
  let next: Date | null;
  try {
    next = nextRun(cronerPattern);
  } catch (err) {
    return { ok: false, problem: `schedule '${text}': ${(err as Error).message}` };
  }
  // Kubernetes takes "0 0 31 2 *" and then never runs it; say so now.
  if (!next) return { ok: false, problem: `schedule '${text}' never fires (no such date)` };
  return { ok: true, cronerPattern };
}

/**
 * One field in robfig/cron's grammar: comma-separated parts, each `*`/`?`, a value, or a range
 * `a-b`, optionally with `/step`; `a/step` means `a-max/step`. Returns the croner spelling
 * (croner reads `?` differently and refuses `a/step`).
 */
function normalizeField(field: string, spec: FieldSpec): string | { problem: string } {
  if (field === '') return { problem: `the ${spec.name} field is empty` };
  const parts: string[] = [];
  for (const part of field.split(',')) {
    const [range, step, extra] = part.split('/');
    if (extra !== undefined) return { problem: `the ${spec.name} field has more than one "/" in '${part}'` };
    let stepValue: number | undefined;
    if (step !== undefined) {
      if (!/^\d+$/.test(step) || Number(step) === 0)
        return { problem: `the ${spec.name} step '${step}' must be a whole number above 0` };
      stepValue = Number(step);
    }
    let lo: number;
    let hi: number;
    let wildcard = false;
    if (range === '*' || range === '?') {
      lo = spec.min;
      hi = spec.max;
      wildcard = true;
    } else {
      const bounds = range.split('-');
      if (bounds.length > 2) return { problem: `the ${spec.name} range '${range}' is malformed` };
      const start = value(bounds[0], spec);
      if (typeof start !== 'number') return start;
      lo = start;
      if (bounds.length === 2) {
        const end = value(bounds[1], spec);
        if (typeof end !== 'number') return end;
        hi = end;
      } else {
        hi = stepValue !== undefined ? spec.max : start;
      }
      if (lo > hi) return { problem: `the ${spec.name} range '${range}' starts after it ends` };
    }
    if (wildcard) parts.push(stepValue !== undefined ? `*/${stepValue}` : '*');
    else if (lo === hi && stepValue === undefined) parts.push(String(lo));
    else parts.push(`${lo}-${hi}${stepValue !== undefined ? `/${stepValue}` : ''}`);
  }
  return parts.join(',');
}

function value(token: string, spec: FieldSpec): number | { problem: string } {
  const named = spec.names?.indexOf(token.toLowerCase()) ?? -1;
  if (named >= 0) return spec.min + named;
  if (!/^\d+$/.test(token)) {
    const allowed = spec.names
      ? `${spec.min}-${spec.max} or ${spec.names[0].toUpperCase()}-${spec.names[spec.names.length - 1].toUpperCase()}`
      : `${spec.min}-${spec.max}`;
    return { problem: `'${token}' is not a valid ${spec.name} (use ${allowed})` };
  }
  const n = Number(token);
  if (n < spec.min || n > spec.max) return { problem: `${spec.name} ${n} is out of range ${spec.min}-${spec.max}` };
  return n;
}

/** IANA zone names as Go's time.LoadLocation reads them: letters first, `/`-separated, no offsets. */
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

/** Whether `zone` is an IANA time zone name both Kubernetes and this Node know. */
export function timeZoneProblem(zone: unknown): string | undefined {
  if (typeof zone !== 'string' || !ZONE_NAME.test(zone) || zone.toLowerCase() === 'local') {
    return `time zone '${String(zone)}' is not an IANA time zone name`;
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return undefined;
  } catch {
    return `time zone '${zone}' is unknown`;
  }
}

export const TIME_ZONE_HINT = 'Use an IANA name such as "Europe/Berlin", "America/New_York" or "UTC"';

/** What a tick is for and when it fired: the fields of its event body. */
export interface CronTickFields {
  readonly functionName: string;
  readonly trigger: string;
  readonly schedule: string | null;
  readonly timeZone: string | null;
  /** ISO 8601 time the tick fired (always 24 characters: `2026-01-01T00:00:00.000Z`). */
  readonly firedAt: string;
  /** The trigger's `data`, if it has any. */
  readonly data?: unknown;
}

/** The body of a cron tick event (JSON), as a handler reads it (`defineHandler(cron<Data>(), …)`). */
export interface CronTick<Data = unknown> {
  /** The function the tick is for. */
  readonly function: string;
  /** The CronTrigger's name. */
  readonly trigger: string;
  readonly schedule: string | null;
  readonly timeZone: string | null;
  /** ISO 8601 time the tick fired. */
  readonly firedAt: string;
  /** The trigger's `data`; absent when it has none. */
  readonly data?: Data;
}

/**
 * The body of a cron tick event, as the cron sender delivers it (JSON). One definition, so the
 * constructs can check at synth that every tick fits the function's body limit, like any other
 * request into the function.
 */
export function cronTickBody(f: CronTickFields): CronTick {
  return {
    function: f.functionName,
    trigger: f.trigger,
    schedule: f.schedule,
    timeZone: f.timeZone,
    firedAt: f.firedAt,
    ...(f.data !== undefined ? { data: f.data } : {}),
  };
}
