/**
 * Malformed HTTP/1.1 requests every function runtime (Node and Python) must answer with 400 (431
 * for an oversized head) without crashing, and a mutator for fuzzing around a valid request.
 * Shared so both runtimes are held to the same corpus (test/runtime-python/malformed.test.ts).
 */
import { connect } from 'node:net';

export interface MalformedCase {
  readonly name: string;
  readonly bytes: string;
  /** The status both runtimes answer. */
  readonly status: 400 | 431;
}

export const MALFORMED_REQUESTS: readonly MalformedCase[] = [
  {
    name: 'duplicate content-length',
    bytes: 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab',
    status: 400,
  },
  {
    name: 'content-length with transfer-encoding',
    bytes: 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
    status: 400,
  },
  {
    name: 'non-numeric content-length',
    bytes: 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n',
    status: 400,
  },
  { name: 'negative content-length', bytes: 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n', status: 400 },
  { name: 'obs-fold header line', bytes: 'GET / HTTP/1.1\r\nhost: x\r\nx-a: b\r\n folded\r\n\r\n', status: 400 },
  { name: 'space before the colon', bytes: 'GET / HTTP/1.1\r\nhost : x\r\n\r\n', status: 400 },
  { name: 'invalid character in a header name', bytes: 'GET / HTTP/1.1\r\nho(st: x\r\n\r\n', status: 400 },
  { name: 'NUL in a header value', bytes: 'GET / HTTP/1.1\r\nhost: x\r\nx-a: b\x00c\r\n\r\n', status: 400 },
  { name: 'unknown HTTP version', bytes: 'GET / HTTP/9.9\r\nhost: x\r\n\r\n', status: 400 },
  { name: 'invalid method character', bytes: 'G@T / HTTP/1.1\r\nhost: x\r\n\r\n', status: 400 },
  {
    name: 'transfer-encoding that is not chunked',
    bytes: 'POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\n',
    status: 400,
  },
  {
    name: 'bad chunk size',
    bytes: 'POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
    status: 400,
  },
  {
    name: 'chunk without its CRLF',
    bytes: 'POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n',
    status: 400,
  },
  { name: 'missing host (HTTP/1.1)', bytes: 'GET / HTTP/1.1\r\nx-a: b\r\n\r\n', status: 400 },
  {
    name: 'TLS client hello on the plain port',
    bytes: '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n',
    status: 400,
  },
  {
    name: 'head over 16 KiB',
    bytes: `GET / HTTP/1.1\r\nhost: x\r\nx-long: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
    status: 431,
  },
];

/** A valid request the mutator starts from. */
export const VALID_REQUEST =
  'POST /fuzz?q=1 HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nx-request-id: fuzz\r\n\r\nhello';

export type Mutation = { readonly at: number; readonly op: 'insert' | 'replace' | 'delete'; readonly byte: number };

/** Applies mutations (positions taken modulo the current length) to `VALID_REQUEST`'s bytes. */
export function mutate(mutations: readonly Mutation[]): Buffer {
  const bytes = [...Buffer.from(VALID_REQUEST, 'latin1')];
  for (const m of mutations) {
    const at = m.at % (bytes.length + 1);
    if (m.op === 'insert') bytes.splice(at, 0, m.byte);
    else if (m.op === 'replace' && at < bytes.length) bytes[at] = m.byte;
    else if (m.op === 'delete' && at < bytes.length) bytes.splice(at, 1);
  }
  return Buffer.from(bytes);
}

/** Sends `bytes` on a new connection, ends the write side, collects everything until the server closes. */
export function exchange(
  port: number,
  bytes: string | Buffer,
  timeoutMs = 5000,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', () => {
      socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
      socket.end();
    });
  });
}

/** The status codes of every response in `text` (pipelined responses included). */
export function statuses(text: string): number[] {
  return [...text.matchAll(/(?:^|\r\n)HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}
