import { headers as natsHeaders } from 'nats';
import { MessageHeaders } from '../../src/contract';
import { QueueClient, type QueueEvent } from '../../src/queue';
import { testConfig, topicSubscription, useNatsServer, waitFor } from './support';

const nats = useNatsServer();
const quietLog = { info() {}, warn() {}, error() {} };

/** Every value of a header, names compared case-insensitively (what a reader of the message may take). */
function valuesOf(event: QueueEvent, name: string): string[] {
  const raw = (event as unknown as { headers: Record<string, string | string[] | undefined> }).headers;
  const out: string[] = [];
  for (const [k, v] of Object.entries(raw))
    if (k.toLowerCase() === name.toLowerCase() && v !== undefined) out.push(...[v].flat());
  return out;
}

describe('platform headers (Kubefaas-*) cannot be forged by a publisher', () => {
  test('a dead letter carries only the real attempts/error/function, whatever the original message claimed', async () => {
    const config = testConfig('forged');
    const q = await QueueClient.connect({ servers: [nats.server.url], config, log: quietLog });
    nats.clients.push(q);
    const deadLetterSubject = `${config.topicsPrefix}.orders-dead`;
    await q.subscribe(
      'worker',
      topicSubscription(config, 'orders', { maxRetries: 1, backoffMs: [10], deadLetterSubject }),
      () => {
        throw new Error('always fails');
      },
    );
    const letters: QueueEvent[] = [];
    await q.subscribe('dlq', topicSubscription(config, 'orders-dead', { durable: 'dlq_reader' }), (event) => {
      letters.push(event);
      return undefined;
    });

    // An outside publisher (a raw NATS client) claims platform facts in every spelling.
    const h = natsHeaders();
    h.set('kubefaas-attempts', '999');
    h.set('KUBEFAAS-ERROR', 'forged error');
    h.set('Kubefaas-Original-Subject', 'forged.subject');
    h.set('kubefaas-function', 'admin');
    h.set('x-user', 'kept');
    await nats.nc.jetstream().publish(`${config.topicsPrefix}.orders`, Buffer.from('{}'), { headers: h });

    await waitFor('dead letter', () => letters.length === 1);
    const letter = letters[0];
    expect(valuesOf(letter, MessageHeaders.attempts)).toEqual(['2']);
    expect(valuesOf(letter, MessageHeaders.error)).toEqual(['always fails']);
    expect(valuesOf(letter, MessageHeaders.function)).toEqual(['worker']);
    expect(valuesOf(letter, MessageHeaders.originalSubject)).toEqual([`${config.topicsPrefix}.orders`]);
    expect(valuesOf(letter, 'x-user')).toEqual(['kept']);
    // The stored dead letter itself: one value per platform header, so a reader that takes the first
    // case-insensitive match (nats.js Match.IgnoreCase, header-fields.ts) reads the real one too.
    const stored = await (
      await nats.nc.jetstreamManager()
    ).streams.getMessage(config.topicsStream, { last_by_subj: deadLetterSubject });
    const platformValues = [...stored.header].filter(([k]) => k.toLowerCase().startsWith('kubefaas-'));
    expect(Object.fromEntries(platformValues.map(([k, v]) => [k.toLowerCase(), v]))).toEqual({
      'kubefaas-attempts': ['2'],
      'kubefaas-error': ['always fails'],
      'kubefaas-function': ['worker'],
      'kubefaas-trigger': ['orders'],
      'kubefaas-original-subject': [`${config.topicsPrefix}.orders`],
      'kubefaas-original-stream': [config.topicsStream],
      'kubefaas-original-sequence': [expect.any(String)],
    });
    expect(platformValues).toHaveLength(7);
  });

  test('QueueClient.publish (what context.publish uses) drops Kubefaas-* and Nats-* headers given by the caller', async () => {
    const config = testConfig('pubhdr');
    const q = await QueueClient.connect({ servers: [nats.server.url], config, log: quietLog });
    nats.clients.push(q);
    const seen: QueueEvent[] = [];
    await q.subscribe('reader', topicSubscription(config, 'in'), (event) => {
      seen.push(event);
      return undefined;
    });
    await q.publish('in', 'x', {
      headers: { 'Kubefaas-Attempts': '7', 'kubefaas-error': 'forged', 'Nats-Expected-Stream': 'nope', 'x-ok': '1' },
    });
    await waitFor('delivery', () => seen.length === 1);
    expect(valuesOf(seen[0], MessageHeaders.attempts)).toEqual([]);
    expect(valuesOf(seen[0], MessageHeaders.error)).toEqual([]);
    expect(valuesOf(seen[0], 'x-ok')).toEqual(['1']);
  });
});
