import type { QueueSubscription } from '../../src/contract';
import { QueueEvent } from '../../src/queue/event';
import { parseHeaderFields } from '../../src/queue/header-fields';
import { HeaderBlock } from '../../src/queue/header-block';
import type { QueueMessage } from '../../src/queue/pulled-message';

const asyncSub: QueueSubscription = {
  kind: 'async',
  subject: 'async.fn',
  durable: 'fn_async',
  trigger: 'async',
  maxInFlight: 1,
  ackWaitMs: 1000,
  maxRetries: 0,
  backoffMs: [],
  ordered: false,
};

/** A delivery as the pull session hands it over, headers given as [name, value] pairs. */
function message(entries: [string, string][], body = 'body'): QueueMessage {
  const block = new HeaderBlock();
  for (const [k, v] of entries) block.add(k, v);
  return {
    subject: 'async.fn',
    seq: 7,
    data: Buffer.from(body),
    fields: parseHeaderFields(block.encode()),
    info: { stream: 'S', deliveryCount: 1, timestampNanos: 1_700_000_000_000_000_000 },
    ack() {},
    nak() {},
    term() {},
    working() {},
  };
}

const MESSAGE_TRACE = '00-11111111111111111111111111111111-2222222222222222-01';
const REQUEST_TRACE = '00-33333333333333333333333333333333-4444444444444444-01';

describe('QueueEvent', () => {
  it('reads headers case-insensitively (other publishers spell them differently)', () => {
    const e = new QueueEvent(
      message([
        ['Ce-Id', 'id-1'],
        ['CE-TYPE', 't'],
        ['Ce-Source', '/s'],
        ['Kubefaas-call-id', 'call-1'],
        ['kubefaas-path', '/p?a=1'],
      ]),
      asyncSub,
      'fn',
    );
    expect([e.id, e.type, e.source, e.callId, e.path, e.query]).toEqual([
      'id-1',
      't',
      '/s',
      'call-1',
      '/p',
      { a: '1' },
    ]);
  });

  it('an empty header counts as missing; defaults come from the subscription and the stream', () => {
    const e = new QueueEvent(
      message([
        ['ce-id', ''],
        ['Kubefaas-Call-Id', 'call-2'],
      ]),
      asyncSub,
      'fn',
    );
    expect(e.id).toBe('call-2');
    expect(e.type).toBe('dev.kubefaas.async.call');
    expect(e.source).toBe('/kubefaas/async/fn');
    expect(e.method).toBe('POST');
    expect(e.time).toBe(new Date(1_700_000_000_000).toISOString());
  });

  it('traceparent is what headers.traceparent is, with or without the request carrying its own', () => {
    const cases: [string, [string, string][]][] = [
      [
        'request has none',
        [
          ['Kubefaas-Http-Headers', '{"content-type":"text/plain"}'],
          ['traceparent', MESSAGE_TRACE],
        ],
      ],
      [
        'request has one',
        [
          ['Kubefaas-Http-Headers', JSON.stringify({ traceparent: REQUEST_TRACE })],
          ['traceparent', MESSAGE_TRACE],
        ],
      ],
      [
        'request has an escaped one',
        [
          ['Kubefaas-Http-Headers', '{"trace\\u0070arent":"' + REQUEST_TRACE + '"}'],
          ['traceparent', MESSAGE_TRACE],
        ],
      ],
      ['no request headers', [['Traceparent', MESSAGE_TRACE]]],
      [
        'malformed request headers',
        [
          ['Kubefaas-Http-Headers', '{"traceparent":'],
          ['traceparent', MESSAGE_TRACE],
        ],
      ],
      ['none at all', [['Kubefaas-Http-Headers', '{}']]],
    ];
    for (const [what, entries] of cases) {
      const fast = new QueueEvent(message(entries), asyncSub, 'fn').traceparent;
      const full = new QueueEvent(message(entries), asyncSub, 'fn').headers.traceparent;
      expect([what, fast]).toEqual([what, full]);
    }
    expect(
      new QueueEvent(
        message([
          ['Kubefaas-Http-Headers', JSON.stringify({ traceparent: REQUEST_TRACE })],
          ['traceparent', MESSAGE_TRACE],
        ]),
        asyncSub,
        'fn',
      ).traceparent,
    ).toBe(REQUEST_TRACE);
    expect(
      new QueueEvent(
        message([
          ['Kubefaas-Http-Headers', '{}'],
          ['traceparent', MESSAGE_TRACE],
        ]),
        asyncSub,
        'fn',
      ).traceparent,
    ).toBe(MESSAGE_TRACE);
  });

  it('async events expose the request headers plus x-call-id', () => {
    const a = new QueueEvent(
      message([
        ['Kubefaas-Call-Id', 'c'],
        ['Kubefaas-Http-Headers', '{"x-a":"1"}'],
      ]),
      asyncSub,
      'fn',
    );
    expect(a.headers).toEqual({ 'x-a': '1', 'x-call-id': 'c' });
  });
});
