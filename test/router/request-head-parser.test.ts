import fc from 'fast-check';
import { createHeadParser, type HeadParser } from '../../src/router/fast-path/request-head-parser';

const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&*+^`|~';
const token = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 20 });
// Field values: visible ASCII and inner spaces (leading/trailing whitespace is not part of a value).
const value = fc
  .string({ unit: fc.constantFrom(...'abc XYZ 0123456789-_./:;,=?"()'.split('')), maxLength: 40 })
  .map((v) => v.trim());
const pathSegment = fc.string({ unit: fc.constantFrom(...'abcxyz0123456789-_.~%'.split('')), maxLength: 12 });
const target = fc
  .tuple(fc.array(pathSegment, { maxLength: 4 }), fc.option(pathSegment))
  .map(([segments, query]) => `/${segments.join('/')}${query === null ? '' : `?${query}`}`);
/** Header names that would change how the message is framed or what the connection does (and Host, always sent). */
const FRAMING = /^(content-length|transfer-encoding|connection|upgrade|host)$/i;
const headerList = fc.array(
  fc.tuple(
    token.filter((n) => !FRAMING.test(n)),
    value,
  ),
  { maxLength: 40 },
);

describe('fast path: request head parser (llhttp)', () => {
  let parser: HeadParser;

  beforeAll(() => {
    const created = createHeadParser();
    if (created === undefined)
      throw new Error('llhttp is not usable on this node version: the router fast path would be off');
    parser = created;
  });

  const head = (text: string) => parser.parse(Buffer.from(text, 'latin1'));

  it('reads bodiless requests exactly as sent: method, target, headers in order, version and keep-alive', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'HEAD', 'DELETE', 'OPTIONS'),
        target,
        headerList,
        fc.constantFrom('1.0', '1.1'),
        fc.constantFrom(undefined, 'close', 'keep-alive'),
        (method, url, headers, version, connection) => {
          const withHost: [string, string][] = [['Host', 'x'], ...headers];
          const all =
            connection === undefined ? withHost : [...withHost, ['Connection', connection] as [string, string]];
          const text = `${method} ${url} HTTP/${version}\r\n${all.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
          const parsed = head(text);
          const keepAlive = version === '1.1' ? connection !== 'close' : connection === 'keep-alive';
          expect(parsed).toEqual({
            method,
            url,
            rawHeaders: all.flat(),
            http11: version === '1.1',
            keepAlive,
            bodyLength: 0,
            upgrade: false,
            http1: true,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reports a Content-Length body; refuses chunked bodies, Expect, upgrades and CONNECT: node:http serves those', () => {
    expect(head('POST /a HTTP/1.1\r\nHost: x\r\ncontent-length: 12\r\n\r\n')).toMatchObject({
      method: 'POST',
      bodyLength: 12,
    });
    expect(head('POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')).toBeUndefined();
    expect(head('POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n')).toBeUndefined();
    expect(head('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')).toBeUndefined();
    expect(head('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')).toBeUndefined();
    // A zero-length body is no body.
    expect(head('POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')).toMatchObject({
      method: 'POST',
      url: '/a',
      bodyLength: 0,
    });
  });

  it('refuses what llhttp rejects (smuggling shapes included) and recovers for the next head', () => {
    const bad = [
      'GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
      'GET / HTTP/1.1\r\nFoo: bar\r\n baz\r\n\r\n',
      'GET / HTTP/1.1\r\nFoo : bar\r\n\r\n',
      'GET / HTTP/1.1\nHost: x\n\n',
      'GET / HTTP/2.0\r\n\r\n',
      'G@T / HTTP/1.1\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n',
    ];
    for (const text of bad) {
      expect(head(text)).toBeUndefined();
      expect(head('GET /next HTTP/1.1\r\nHost: x\r\n\r\n')).toMatchObject({ url: '/next' });
    }
  });

  it('refuses HTTP/1.1 without Host (node:http answers 400); HTTP/1.0 needs none', () => {
    expect(head('GET / HTTP/1.1\r\n\r\n')).toBeUndefined();
    expect(head('POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n')).toBeUndefined();
    expect(head('GET / HTTP/1.1\r\nhOsT: x\r\n\r\n')).toMatchObject({ url: '/' });
    expect(head('GET / HTTP/1.0\r\n\r\n')).toMatchObject({ url: '/', http11: false });
  });

  it('never throws on arbitrary bytes, and always recovers', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const withEnd = Buffer.concat([Buffer.from(bytes), Buffer.from('\r\n\r\n')]);
        parser.parse(withEnd);
        expect(head('GET /after HTTP/1.1\r\nHost: x\r\n\r\n')).toMatchObject({ url: '/after' });
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every header of a head with more than 32 of them (llhttp hands those over early)', () => {
    const headers = Array.from({ length: 80 }, (_, i) => [`X-H${i}`, `v${i}`]);
    const parsed = head(`GET /many HTTP/1.0\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`);
    expect(parsed?.rawHeaders).toEqual(headers.flat());
    expect(parsed?.url).toBe('/many');
  });
});
