/** QueueEnv.PUBLISHES as the runtime reads it: absent = no check, a list = the declared topics, anything else fails at start. */
import { QueueEnv } from '../../src/contract';
import { readQueueSettings } from '../../src/queue/config';

const base = { [QueueEnv.NATS_URL]: 'nats://127.0.0.1:4222' };

test('absent means no check; a JSON array is the declared topics', () => {
  expect(readQueueSettings(base)?.publishes).toBeUndefined();
  expect(readQueueSettings({ ...base, [QueueEnv.PUBLISHES]: '[]' })?.publishes).toEqual([]);
  expect(readQueueSettings({ ...base, [QueueEnv.PUBLISHES]: '["orders","orders.priced"]' })?.publishes).toEqual([
    'orders',
    'orders.priced',
  ]);
});

test('a malformed list fails, naming the variable', () => {
  expect(() => readQueueSettings({ ...base, [QueueEnv.PUBLISHES]: '{"orders":true}' })).toThrow(
    'KUBEFAAS_PUBLISHES must be a JSON array of topic names',
  );
  expect(() => readQueueSettings({ ...base, [QueueEnv.PUBLISHES]: '[1]' })).toThrow(/KUBEFAAS_PUBLISHES must be/);
  expect(() => readQueueSettings({ ...base, [QueueEnv.PUBLISHES]: '[' })).toThrow(
    /KUBEFAAS_PUBLISHES is not valid JSON/,
  );
});
