/** The queue side of kubefaas on NATS JetStream: topics, async calls, cron ticks. See docs/events.md. */
export { QueueClient, type QueueClientOptions, type SubscribeOptions } from './client';
export { QueueConsumer, type Delivery, type QueueHandler, type QueueConsumerOptions } from './consumer';
export { QueueEvent } from './event';
export { PullSession, type PullSessionOptions } from './pull-session';
export { PulledMessage, type QueueMessage, type PulledInfo } from './pulled-message';
export { normalizeReply, type QueueReply, type HandlerReturn, type NormalizedReply } from './reply';
export { QueueMetrics, type DeliveryOutcome } from './metrics';
export {
  QueueUnavailableError,
  publishEvent,
  publishToTopic,
  publishDurably,
  type TopicPublishOptions,
} from './publisher';
export {
  enqueueCall,
  InvalidCallIdError,
  CallbackHeaders,
  AsyncCallHooks,
  type AsyncCallRequest,
  type EnqueuedCall,
} from './async-calls';
export {
  CallStateStore,
  CALL_ID_PATTERN,
  type CallState,
  type CallStateName,
  type CallResult,
  type CallbackOutcome,
} from './call-state';
export { postCallback, type CallbackPolicy } from './callback';
export { CallbackQueue } from './callback-queue';
export { ensureQueueResources, ensureStream, ensureConsumer, consumerConfig } from './resources';
export { readQueueSettings, type QueueSettings } from './config';
