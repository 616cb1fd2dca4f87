/**
 * A directory the process sees in place of a volume; `files` is absent for an empty directory.
 * Its own module because both the planner (plan.ts) and the NATS planner (nats.ts) build them.
 */
export interface PlannedVolume {
  readonly name: string;
  readonly dir: string;
  readonly files?: ReadonlyMap<string, Buffer>;
}
