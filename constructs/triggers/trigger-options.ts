import type { IConstruct } from 'constructs';
import { ValidationError } from '../errors';
import { integerProblem } from '../validation';

/**
 * Option checks shared by the trigger kinds. A trigger is created before it knows its function, so
 * it checks its options in its constructor but reports a problem only when bound, as a
 * ValidationError naming the function's construct path.
 */

/** A problem in a trigger's options, found before the trigger is bound. */
export class TriggerProblem extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/** Options checked at construction: the resolved value, or the problem to report on bind. */
export type CheckedOptions<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string; readonly fix: string };

/** Runs `resolve` (which throws TriggerProblem on bad options) and keeps its outcome for `bind`. */
export function checkOptions<T>(resolve: () => T): CheckedOptions<T> {
  try {
    return { ok: true, value: resolve() };
  } catch (err) {
    if (!(err instanceof TriggerProblem)) throw err;
    return { ok: false, problem: err.message, fix: err.fix };
  }
}

/** The resolved options, or the kept problem thrown against the function (`what` names the trigger). */
export function resolvedOptions<T>(fn: IConstruct, what: string, checked: CheckedOptions<T>): T {
  if (checked.ok) return checked.value;
  throw new ValidationError(fn, `${what}: ${checked.problem}`, checked.fix);
}

/** An integer option in [min, max]. */
export function integerOption(what: string, value: unknown, min: number, max: number): number {
  const found = integerProblem(what, value, min, max);
  if (found) throw new TriggerProblem(found.problem, found.fix);
  return value as number;
}
