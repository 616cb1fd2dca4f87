export { Queue, NatsQueueDefaults } from './nats-queue';
export type { NatsQueueAuth, NatsQueueOptions, NatsQueueTls, QueueResources, QueueHost } from './nats-queue';
export type { QueueBinding } from './registry';
