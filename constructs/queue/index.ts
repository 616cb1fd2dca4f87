export { Queue, NatsQueueDefaults } from './nats-queue';
export type { NatsQueueOptions, QueueResources, QueueHost } from './nats-queue';
export type { QueueBinding } from './registry';
