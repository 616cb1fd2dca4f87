import { createInbox, type NatsConnection } from 'nats';

/**
 * A new inbox subject under the connection's inbox prefix. With queue isolation each NATS user may
 * subscribe only to `_INBOX_<user>.>`, so another component can never read its replies (pulled
 * messages, PubAcks); nats.js' own requests use the prefix already, our own inboxes must too.
 */
export function inboxOf(nc: NatsConnection): string {
  const prefix = (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
  return createInbox(prefix);
}
