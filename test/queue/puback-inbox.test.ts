import { HeaderBlock } from '../../src/queue/header-block';
import { EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER, PubAckError, PubAckInbox } from '../../src/queue/puback-inbox';
import { JsErrorCode, apiErrorCode, isTransient } from '../../src/queue/api-errors';
import { testConfig, useNatsServer } from './support';

const config = testConfig('puback');
const nats = useNatsServer({ resources: config });

describe('PubAckInbox', () => {
  it('resolves with the PubAck once the stream stored the message, and dedupes by Nats-Msg-Id', async () => {
    const inbox = new PubAckInbox(nats.nc);
    const subject = `${config.asyncPrefix}.fn`;
    const first = await inbox.publish(subject, Buffer.from('a'), { msgID: 'm1', timeout: 2000 });
    const again = await inbox.publish(subject, Buffer.from('a'), { msgID: 'm1', timeout: 2000 });
    expect(first).toMatchObject({ stream: config.callsStream, duplicate: false });
    expect(again).toMatchObject({ stream: config.callsStream, seq: first.seq, duplicate: true });
    const stored = await (await nats.nc.jetstreamManager()).streams.getMessage(config.callsStream, { seq: first.seq });
    expect(Buffer.from(stored.data).toString()).toBe('a');
  });

  it('rejects with the API error when the stream refuses the message (KV create on an existing key)', async () => {
    const inbox = new PubAckInbox(nats.nc);
    const subject = `$KV.${config.callsBucket}.k1`;
    const create = () => {
      const h = new HeaderBlock().add(EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER, '0');
      return inbox.publish(subject, Buffer.from('{}'), { headers: h, timeout: 2000 });
    };
    await create();
    const err = await create().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PubAckError);
    expect(apiErrorCode(err)).toBe(JsErrorCode.wrongLastSequence);
    expect(isTransient(err)).toBe(false);
  });

  it('rejects (transiently) when no stream captures the subject', async () => {
    const inbox = new PubAckInbox(nats.nc);
    const err = await inbox.publish('nobody.listens.here', Buffer.from('x'), { timeout: 2000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PubAckError);
    expect((err as PubAckError).code).toBe('503');
    expect(isTransient(err)).toBe(true);
  });

  it('rejects with a timeout when a responder never answers', async () => {
    const silent = nats.nc.subscribe('silent.responder', { callback: () => undefined });
    await nats.nc.flush();
    const inbox = new PubAckInbox(nats.nc);
    const err = await inbox.publish('silent.responder', Buffer.from('x'), { timeout: 200 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    silent.unsubscribe();
    expect((err as PubAckError).code).toBe('TIMEOUT');
    expect(isTransient(err)).toBe(true);
  });

  it('rejects a non-PubAck reply instead of treating it as stored', async () => {
    const liar = nats.nc.subscribe('liar.responder', { callback: (_e, m) => m.respond(Buffer.from('{"ok":true}')) });
    await nats.nc.flush();
    const inbox = new PubAckInbox(nats.nc);
    const err = await inbox.publish('liar.responder', Buffer.from('x'), { timeout: 2000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    liar.unsubscribe();
    expect(err).toBeInstanceOf(PubAckError);
  });
});

describe('PubAckInbox batching and timeouts', () => {
  it('hands the publishes of one event-loop turn to the connection together, in order, after that turn', async () => {
    const inbox = new PubAckInbox(nats.nc);
    const seen: string[] = [];
    const original = nats.nc.publish.bind(nats.nc);
    const spy = jest.spyOn(nats.nc, 'publish').mockImplementation((subject, data, opts) => {
      seen.push(Buffer.from(data as Uint8Array).toString());
      original(subject, data, opts);
    });
    try {
      const subject = `${config.asyncPrefix}.batch`;
      const acks = ['1', '2', '3'].map((d) =>
        inbox.publish(subject, Buffer.from(d), { msgID: `batch-${d}`, timeout: 2000 }),
      );
      expect(seen).toEqual([]); // nothing written during the turn that made the publishes
      await new Promise((r) => setImmediate(r));
      expect(seen).toEqual(['1', '2', '3']);
      const stored = await Promise.all(acks);
      expect(stored.map((a) => a.seq)).toEqual([...stored.map((a) => a.seq)].sort((a, b) => a - b));
    } finally {
      spy.mockRestore();
    }
  });

  it('rejects a publish nats.js refuses when it is sent (payload over max_payload)', async () => {
    const inbox = new PubAckInbox(nats.nc);
    const tooBig = Buffer.alloc((nats.nc.info?.max_payload ?? 1024 * 1024) + 1);
    const err = await inbox.publish(`${config.asyncPrefix}.big`, tooBig, { timeout: 2000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PubAckError);
    expect((err as PubAckError).message).toMatch(/cannot publish/);
  });

  it('times out many publishes with one shared check, and keeps no timer once nothing waits', async () => {
    const silent = nats.nc.subscribe('silent.many', { callback: () => undefined });
    await nats.nc.flush();
    const inbox = new PubAckInbox(nats.nc);
    const started = Date.now();
    const errs = await Promise.all(
      [150, 250, 350].map((timeout) =>
        inbox.publish('silent.many', Buffer.from('x'), { timeout }).then(
          () => undefined,
          (e: PubAckError) => ({ code: e.code, after: Date.now() - started }),
        ),
      ),
    );
    silent.unsubscribe();
    expect(errs.map((e) => e?.code)).toEqual(['TIMEOUT', 'TIMEOUT', 'TIMEOUT']);
    errs.forEach((e, i) => {
      expect(e!.after).toBeGreaterThanOrEqual([150, 250, 350][i]);
      expect(e!.after).toBeLessThan([150, 250, 350][i] + 500);
    });
    await new Promise((r) => setTimeout(r, 150));
    expect((inbox as unknown as { timeoutCheck?: unknown }).timeoutCheck).toBeUndefined();
  });
});
