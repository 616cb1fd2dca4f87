import { headers, type Msg } from 'nats';
import { HeaderBlock } from '../../src/queue/header-block';
import { useNatsServer } from './support';

const nats = useNatsServer();

const ENTRIES: [string, string][] = [
  ['Kubefaas-Call-Id', 'c-1'],
  ['Kubefaas-Http-Headers', '{"content-type":"application/json","x-ümlaut":"wert"}'],
  ['traceparent', '  00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01 '],
  ['ce-time', '2024-01-01T00:00:00.000Z'],
];

describe('HeaderBlock', () => {
  it('encodes exactly what nats.js MsgHdrs encodes for the same headers', () => {
    const block = new HeaderBlock();
    const hdrs = headers();
    for (const [k, v] of ENTRIES) {
      block.add(k, v);
      hdrs.set(k, v);
    }
    expect(Buffer.from(block.encode()).toString('utf8')).toBe(
      Buffer.from((hdrs as unknown as { encode(): Uint8Array }).encode()).toString('utf8'),
    );
    expect(Buffer.from(new HeaderBlock().encode()).toString()).toBe('NATS/1.0\r\n\r\n');
  });

  it('refuses what nats.js refuses: CR/LF in values, ":" and spaces in names', () => {
    expect(() => new HeaderBlock().add('X-Ok', 'a\r\nInjected: yes')).toThrow(/CR and LF/);
    expect(() => new HeaderBlock().add('X-Ok', 'a\nb')).toThrow(/CR and LF/);
    expect(() => new HeaderBlock().add('Bad:Name', 'v')).toThrow(/header name/);
    expect(() => new HeaderBlock().add('Bad Name', 'v')).toThrow(/header name/);
    expect(() => new HeaderBlock().add('', 'v')).toThrow(/header name/);
    // A name that passed once is remembered; a bad one is refused every time.
    expect(() => new HeaderBlock().add('Bad:Name', 'v')).toThrow(/header name/);
  });

  it('with() adds to a copy and leaves the original reusable (a retried publish sends the same bytes)', () => {
    const base = new HeaderBlock().add('A', '1');
    const before = Buffer.from(base.encode()).toString();
    const withId = base.with('Nats-Msg-Id', 'm1');
    expect(Buffer.from(base.encode()).toString()).toBe(before);
    expect(Buffer.from(withId.encode()).toString()).toBe('NATS/1.0\r\nA: 1\r\nNats-Msg-Id: m1\r\n\r\n');
  });

  it('is sent by nats.js publish as the message headers', async () => {
    const subject = 'header.block.roundtrip';
    const received = new Promise<Msg>((resolve) => {
      const sub = nats.nc.subscribe(subject, { max: 1, callback: (_err, msg) => resolve(msg) });
      void sub;
    });
    await nats.nc.flush();
    const block = new HeaderBlock();
    for (const [k, v] of ENTRIES) block.add(k, v);
    nats.nc.publish(subject, Buffer.from('body'), { headers: block.asMsgHdrs() });
    const msg = await received;
    expect(Buffer.from(msg.data).toString()).toBe('body');
    for (const [k, v] of ENTRIES) expect(msg.headers?.get(k)).toBe(v.trim());
    expect(msg.headers?.keys()).toEqual(ENTRIES.map(([k]) => k));
  });
});
