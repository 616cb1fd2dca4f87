/** Triggers: what invokes a function. One file per kind; the shared option checks in trigger-options.ts. */
export { HttpTrigger } from './http-trigger';
export type { HttpTriggerProps } from './http-trigger';
export { QueueTrigger } from './queue-trigger';
export type { QueueTriggerProps } from './queue-trigger';
export { CronTrigger } from './cron-trigger';
export type { ConcurrencyPolicy, CronTriggerProps } from './cron-trigger';
