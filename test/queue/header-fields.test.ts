import { headers, Match, type Msg, type MsgHdrs } from 'nats';
import { fieldsOfMsgHdrs, headerFieldsOf, parseHeaderFields, rawHeaderBlock } from '../../src/queue/header-fields';
import { useNatsServer } from './support';

const nats = useNatsServer();

async function roundTrip(h: MsgHdrs | undefined): Promise<Msg> {
  const subject = `header.fields.${Math.random().toString(36).slice(2)}`;
  const received = new Promise<Msg>((resolve) =>
    nats.nc.subscribe(subject, { max: 1, callback: (_err, msg) => resolve(msg) }),
  );
  await nats.nc.flush();
  nats.nc.publish(subject, Buffer.from('payload'), h ? { headers: h } : undefined);
  return received;
}

describe('header fields of a received message', () => {
  it('reads the raw header block of nats.js messages (fails when a nats.js upgrade changes its internals)', async () => {
    const h = headers();
    h.set('Kubefaas-Call-Id', 'c-1');
    const msg = await roundTrip(h);
    const raw = rawHeaderBlock(msg);
    expect(raw).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(raw!).toString()).toBe('NATS/1.0\r\nKubefaas-Call-Id: c-1\r\n\r\n');
    expect(Buffer.from(msg.data).toString()).toBe('payload');
    expect(rawHeaderBlock(await roundTrip(undefined))).toBeNull();
    expect(headerFieldsOf(await roundTrip(undefined)).size).toBe(0);
  });

  it('gives what MsgHdrs.get(name, Match.IgnoreCase) gives, for every name', async () => {
    const h = headers();
    h.append('Ce-Id', 'first');
    h.append('ce-id', 'second-spelling');
    h.append('Multi', 'one');
    h.append('Multi', 'two');
    h.set('traceparent', '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01');
    h.set('Kubefaas-Http-Headers', '{"a":"b: c","ü":"ö"}');
    h.set('Empty', '');
    h.set('Colon-Value', 'x: y: z');
    const msg = await roundTrip(h);
    const fromRaw = headerFieldsOf(msg);
    const decoded = msg.headers!;
    for (const name of [
      'ce-id',
      'CE-ID',
      'multi',
      'traceparent',
      'kubefaas-http-headers',
      'empty',
      'colon-value',
      'missing',
    ]) {
      const expected = decoded.has(name, Match.IgnoreCase) ? decoded.get(name, Match.IgnoreCase) : undefined;
      expect([name, fromRaw.get(name.toLowerCase())]).toEqual([name, expected]);
    }
    expect([...fromRaw]).toEqual([...fieldsOfMsgHdrs(decoded)]);
  });

  it('parses status lines and odd lines as nats.js does', () => {
    const text = 'NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 5\r\nno colon here\r\n\r\n';
    const fields = parseHeaderFields(Buffer.from(text));
    expect([...fields]).toEqual([['nats-pending-messages', '5']]);
    expect(parseHeaderFields(Buffer.from('NATS/1.0')).size).toBe(0);
  });
});
