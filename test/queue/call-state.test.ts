import { CallStateStore, type CallState } from '../../src/queue/call-state';
import { PubAckInbox } from '../../src/queue/puback-inbox';
import { testConfig, useNatsServer } from './support';

const config = testConfig('callstate');
const nats = useNatsServer({ resources: config });

const state = (callId: string, extra: Partial<CallState> = {}): CallState => ({
  callId,
  function: 'fn',
  state: 'queued',
  queuedAt: '2024-01-01T00:00:00.000Z',
  updatedAt: '2024-01-01T00:00:00.000Z',
  attempts: 0,
  ...extra,
});

describe('CallStateStore writing through the PubAck inbox', () => {
  const store = () =>
    new CallStateStore(nats.nc.jetstream(), config, { inbox: new PubAckInbox(nats.nc), timeoutMs: 2000 });

  it('put overwrites what createNew wrote, readable through nats.js KV (history 1)', async () => {
    const s = store();
    expect(await s.createNew(state('k-1'))).toBe(true);
    expect(await s.createNew(state('k-1'))).toBe(false);
    await s.put(state('k-1', { state: 'running', attempts: 1 }));
    await s.put(state('k-1', { state: 'succeeded', attempts: 1 }));
    expect(await s.get('k-1')).toMatchObject({ state: 'succeeded', attempts: 1 });
    const kv = await nats.nc.jetstream().views.kv(config.callsBucket, { bindOnly: true });
    const history = await kv.history({ key: 'k-1' });
    const entries: unknown[] = [];
    for await (const e of history) entries.push(e);
    expect(entries).toHaveLength(1);
  });

  it('refuses to write a call id that is not a key (it could name another subject)', async () => {
    await expect(store().put(state('a.b'))).rejects.toThrow(/invalid call id/);
    await expect(store().put(state('*'))).rejects.toThrow(/invalid call id/);
  });

  it('rejects when the bucket is missing instead of pretending the state was stored', async () => {
    const other = new CallStateStore(
      nats.nc.jetstream(),
      { ...config, callsBucket: 'no_such_bucket' },
      { inbox: new PubAckInbox(nats.nc), timeoutMs: 1000 },
    );
    await expect(other.put(state('k-2'))).rejects.toThrow();
  });
});
