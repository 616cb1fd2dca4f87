import fc from 'fast-check';
import { ResponseParser } from '../../src/router/upstream-client/response-parser';

/** Parses one response given as text, in pieces split at `cuts`; returns what the sink saw. */
function parse(text: string, cuts: number[] = [], head = false) {
  const seen = { status: 0, headers: [] as string[], body: '' };
  const parser = new ResponseParser({
    onHead: (status, headers) => {
      seen.status = status;
      seen.headers = headers;
    },
    onBody: (chunk) => (seen.body += chunk.toString('latin1')),
  });
  parser.expect(head);
  const bytes = Buffer.from(text, 'latin1');
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b).concat(bytes.length)) {
    if (cut > from) parser.execute(bytes.subarray(from, cut));
    from = cut;
  }
  return {
    ...seen,
    complete: parser.complete,
    keepAlive: parser.keepAlive,
    keepAliveTimeoutMs: parser.keepAliveTimeoutMs,
  };
}

describe('upstream response parser (unit)', () => {
  it('reads status codes from the status line, with or without a reason', () => {
    expect(parse('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n').status).toBe(200);
    expect(parse('HTTP/1.1 404\r\ncontent-length: 0\r\n\r\n').status).toBe(404);
    expect(parse('HTTP/1.0 599 Whatever it says\r\ncontent-length: 0\r\n\r\n').status).toBe(599);
    for (const bad of [
      'HTTP/1.1 099 X',
      'HTTP/1.1 2OO OK',
      'HTTP/1.1 20 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/2.0 200 OK',
      'HTTP/1.1  200 OK',
      'HTTP/1.1 20',
    ]) {
      expect(() => parse(`${bad}\r\ncontent-length: 0\r\n\r\n`)).toThrow(/malformed status/);
    }
  });

  it('accepts token header names and refuses anything else', () => {
    expect(parse("HTTP/1.1 200 OK\r\nX-A.b_c~!#$%&'*+^`|: v\r\ncontent-length: 0\r\n\r\n").headers).toEqual([
      "X-A.b_c~!#$%&'*+^`|",
      'v',
      'content-length',
      '0',
    ]);
    for (const name of ['bad name', 'bad(name)', 'bad"name', 'nämlich', 'a/b']) {
      expect(() => parse(`HTTP/1.1 200 OK\r\n${name}: v\r\ncontent-length: 0\r\n\r\n`)).toThrow(
        /malformed header name/,
      );
    }
  });

  it('reads the Keep-Alive timeout hint of every response, also when it changes', () => {
    expect(parse('HTTP/1.1 200 OK\r\nkeep-alive: timeout=5\r\ncontent-length: 0\r\n\r\n').keepAliveTimeoutMs).toBe(
      5000,
    );
    expect(
      parse('HTTP/1.1 200 OK\r\nKeep-Alive: max=100, timeout=65\r\ncontent-length: 0\r\n\r\n').keepAliveTimeoutMs,
    ).toBe(65000);
    expect(
      parse('HTTP/1.1 200 OK\r\nkeep-alive: max=3\r\ncontent-length: 0\r\n\r\n').keepAliveTimeoutMs,
    ).toBeUndefined();
  });

  it('gives the same result however the bytes are split', () => {
    const text =
      'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nx-t: 1\r\n\r\n';
    const whole = parse(text);
    expect(whole).toMatchObject({ status: 200, body: 'hello world', complete: true });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 12 }), (cuts) => {
        expect(parse(text, cuts)).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });
});
