import { badResponse } from './errors';

/** Receives the parts of one response as they are parsed. */
export interface ResponseSink {
  /** The final (non-1xx) status and the raw header list `[name, value, …]` (latin1 strings, names as sent). */
  onHead(status: number, headers: string[]): void;
  /** A piece of the decoded body: a view into the socket's buffer, not a copy. */
  onBody(chunk: Buffer): void;
}

const enum State {
  Head,
  /** Content-Length body: `remaining` bytes to go. */
  LengthBody,
  /** No framing: the body ends when the connection does. */
  CloseBody,
  ChunkSize,
  ChunkData,
  /** The CRLF after a chunk's data: `remaining` bytes of it to go. */
  ChunkDataEnd,
  Trailers,
  Done,
}

/** Heads (and each chunk-size or trailer line) larger than this are refused rather than buffered. */
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 8 * 1024;
const CRLF_CRLF = Buffer.from('\r\n\r\n', 'latin1');
const CR = 13;
const LF = 10;
/** tchar (RFC 9110 §5.6.2) by character code: header names are checked per response, so no regex. */
const TCHAR: Uint8Array = (() => {
  const table = new Uint8Array(128);
  for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    table[c.charCodeAt(0)] = 1;
  return table;
})();
const FORBIDDEN_IN_VALUE = /[\0\r\n]/;
const DIGITS = /^[0-9]{1,15}$/;
const HEX_SIZE = /^[0-9A-Fa-f]{1,12}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d{1,6})/i;

/**
 * An incremental HTTP/1.x response parser for one connection: status line and headers, then a
 * Content-Length, chunked or close-delimited body. Bytes can arrive split anywhere. It is strict
 * where leniency would let a function smuggle a second response past the router (both Content-Length
 * and Transfer-Encoding, conflicting lengths, bare LF line ends, obsolete header folding).
 */
export class ResponseParser {
  private state = State.Done;
  private headRequest = false;
  /** Bytes of an incomplete head, kept between packets. */
  private pendingHead: Buffer | undefined;
  /** An incomplete chunk-size or trailer line, kept between packets. */
  private pendingLine = '';
  private remaining = 0;
  private keepAliveResponse = true;
  private keepAliveHintMs: number | undefined;
  /** The last `Keep-Alive` value seen on this connection and its timeout, if it had one. */
  private lastHint: string | undefined;
  private lastHintMs: number | undefined;
  private receivedAny = false;

  constructor(private readonly sink: ResponseSink) {}

  /** Prepares for the response to the next request. A response to HEAD never has a body. */
  expect(headRequest: boolean): void {
    this.state = State.Head;
    this.headRequest = headRequest;
    this.pendingHead = undefined;
    this.pendingLine = '';
    this.keepAliveResponse = true;
    this.keepAliveHintMs = undefined;
    this.receivedAny = false;
  }

  /** The current response has been read to its end. */
  get complete(): boolean {
    return this.state === State.Done;
  }

  /** The final head was parsed (1xx heads do not count). */
  get headReceived(): boolean {
    return this.state !== State.Head && this.receivedAny;
  }

  /** Any byte of the response arrived. */
  get started(): boolean {
    return this.receivedAny;
  }

  /** The function allows another request on this connection after the current response. */
  get keepAlive(): boolean {
    return this.keepAliveResponse;
  }

  /** How long the function says it keeps an idle connection (`Keep-Alive: timeout=N`), if it says. */
  get keepAliveTimeoutMs(): number | undefined {
    return this.keepAliveHintMs;
  }

  /**
   * Consumes bytes of the response and returns how many it used: fewer than `buf.length` only when
   * the response ended inside `buf`. Throws an `UpstreamError` on a malformed response.
   */
  execute(buf: Buffer): number {
    if (buf.length > 0) this.receivedAny = true;
    let offset = 0;
    while (offset < buf.length) {
      switch (this.state) {
        case State.Head:
          offset = this.readHead(buf, offset);
          break;
        case State.LengthBody: {
          const take = Math.min(this.remaining, buf.length - offset);
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.Done;
          this.sink.onBody(offset === 0 && take === buf.length ? buf : buf.subarray(offset, offset + take));
          offset += take;
          break;
        }
        case State.CloseBody:
          this.sink.onBody(offset === 0 ? buf : buf.subarray(offset));
          offset = buf.length;
          break;
        case State.ChunkSize:
          offset = this.readLine(buf, offset, (line) => this.chunkSize(line));
          break;
        case State.ChunkData: {
          const take = Math.min(this.remaining, buf.length - offset);
          this.remaining -= take;
          if (this.remaining === 0) {
            this.state = State.ChunkDataEnd;
            this.remaining = 2;
          }
          this.sink.onBody(buf.subarray(offset, offset + take));
          offset += take;
          break;
        }
        case State.ChunkDataEnd:
          if (buf[offset] !== (this.remaining === 2 ? CR : LF)) throw badResponse('chunk data not followed by CRLF');
          offset++;
          if (--this.remaining === 0) this.state = State.ChunkSize;
          break;
        case State.Trailers:
          // Trailers are not relayed (the router's response to the client is already framed).
          offset = this.readLine(buf, offset, (line) => {
            if (line === '') this.state = State.Done;
          });
          break;
        case State.Done:
          return offset;
      }
    }
    return offset;
  }

  /** The connection ended. Completes a close-delimited body; throws if the response was cut short. */
  finishOnEnd(): void {
    if (this.state === State.CloseBody) {
      this.state = State.Done;
      return;
    }
    if (this.state !== State.Done) throw badResponse('connection closed before the end of the response');
  }

  private readHead(buf: Buffer, offset: number): number {
    const pending = this.pendingHead;
    const data =
      pending === undefined
        ? offset === 0
          ? buf
          : buf.subarray(offset)
        : Buffer.concat([pending, buf.subarray(offset)]);
    // A split CRLFCRLF may start in the previous packet: search from 3 bytes before the new ones.
    const end = data.indexOf(CRLF_CRLF, pending === undefined ? 0 : Math.max(0, pending.length - 3));
    if (end === -1) {
      if (data.length > MAX_HEAD_BYTES) throw badResponse('response head too large');
      this.pendingHead = pending === undefined ? Buffer.from(data) : data;
      return buf.length;
    }
    if (end > MAX_HEAD_BYTES) throw badResponse('response head too large');
    this.pendingHead = undefined;
    this.parseHead(data.toString('latin1', 0, end));
    return offset + end + 4 - (pending === undefined ? 0 : pending.length);
  }

  private parseHead(head: string): void {
    const lineEnd = head.indexOf('\r\n');
    const statusLine = lineEnd === -1 ? head : head.slice(0, lineEnd);
    const status = statusOf(statusLine);
    const http10 = statusLine.charCodeAt(7) === 48; /* 0 */
    const headers: string[] = [];
    let contentLength: number | undefined;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    let keepAliveHint: string | undefined;
    let start = lineEnd === -1 ? head.length : lineEnd + 2;
    while (start < head.length) {
      let end = head.indexOf('\r\n', start);
      if (end === -1) end = head.length;
      const line = head.slice(start, end);
      start = end + 2;
      const colon = line.indexOf(':');
      if (colon <= 0) throw badResponse('malformed header line');
      const name = line.slice(0, colon);
      if (!isToken(name)) throw badResponse('malformed header name');
      const value = trimOws(line, colon + 1);
      if (FORBIDDEN_IN_VALUE.test(value)) throw badResponse('malformed header value');
      headers.push(name, value);
      switch (name.length) {
        case 10: {
          const lower = name.toLowerCase();
          if (lower === 'connection') connection = connection === undefined ? value : `${connection},${value}`;
          else if (lower === 'keep-alive') keepAliveHint = value;
          break;
        }
        case 14:
          if (name.toLowerCase() === 'content-length') contentLength = parseContentLength(value, contentLength);
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding')
            transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
          break;
        default:
          break;
      }
    }
    if (status < 200) {
      // 100 Continue (never asked for: the router does not send Expect) and 103 Early Hints are
      // skipped; 101 would switch protocols, which the router never requests.
      if (status === 101) throw badResponse('unexpected 101 Switching Protocols');
      return; // stays in State.Head for the final response
    }
    if (transferEncoding !== undefined && contentLength !== undefined)
      throw badResponse('both Content-Length and Transfer-Encoding');
    this.keepAliveResponse = http10 ? hasToken(connection, 'keep-alive') : !hasToken(connection, 'close');
    if (keepAliveHint !== undefined) {
      // A function sends the same hint with every response: parse each distinct one once.
      if (keepAliveHint !== this.lastHint) {
        const m = KEEP_ALIVE_TIMEOUT.exec(keepAliveHint);
        this.lastHint = keepAliveHint;
        this.lastHintMs = m === null ? undefined : Number(m[1]) * 1000;
      }
      if (this.lastHintMs !== undefined) this.keepAliveHintMs = this.lastHintMs;
    }
    if (this.headRequest || status === 204 || status === 304) {
      this.state = State.Done;
    } else if (transferEncoding !== undefined) {
      if (lastToken(transferEncoding) === 'chunked') {
        this.state = State.ChunkSize;
      } else {
        // Not chunked last: the body runs until the connection closes (RFC 9112 §6.3).
        this.state = State.CloseBody;
        this.keepAliveResponse = false;
      }
    } else if (contentLength !== undefined) {
      this.remaining = contentLength;
      this.state = contentLength === 0 ? State.Done : State.LengthBody;
    } else {
      this.state = State.CloseBody;
      this.keepAliveResponse = false;
    }
    this.sink.onHead(status, headers);
  }

  /** Collects one CRLF-terminated line (possibly split across packets) and hands it to `onLine`. */
  private readLine(buf: Buffer, offset: number, onLine: (line: string) => void): number {
    const lf = buf.indexOf(LF, offset);
    if (lf === -1) {
      this.pendingLine += buf.toString('latin1', offset);
      if (this.pendingLine.length > MAX_LINE_BYTES) throw badResponse('chunk line too long');
      return buf.length;
    }
    const line = this.pendingLine + buf.toString('latin1', offset, lf);
    this.pendingLine = '';
    if (line.length > MAX_LINE_BYTES) throw badResponse('chunk line too long');
    if (line.charCodeAt(line.length - 1) !== CR) throw badResponse('bare LF in chunked body');
    onLine(line.slice(0, -1));
    return lf + 1;
  }

  /** `1a;name=value` → 26 (extensions ignored); 0 starts the trailer section. */
  private chunkSize(line: string): void {
    const semicolon = line.indexOf(';');
    const size = (semicolon === -1 ? line : line.slice(0, semicolon)).replace(/[ \t]+$/, '');
    if (!HEX_SIZE.test(size)) throw badResponse('malformed chunk size');
    const bytes = parseInt(size, 16);
    if (bytes === 0) {
      this.state = State.Trailers;
    } else {
      this.state = State.ChunkData;
      this.remaining = bytes;
    }
  }
}

function isToken(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 127 || TCHAR[c] === 0) return false;
  }
  return name.length > 0;
}

/** `HTTP/1.1 200 OK` → 200; anything else is not a response we understand. */
function statusOf(line: string): number {
  if (
    !line.startsWith('HTTP/1.') ||
    (line.charCodeAt(7) !== 48 && line.charCodeAt(7) !== 49) ||
    line.charCodeAt(8) !== 32
  ) {
    throw badResponse('malformed status line');
  }
  if (line.length < 12 || (line.length > 12 && line.charCodeAt(12) !== 32)) throw badResponse('malformed status line');
  const d1 = line.charCodeAt(9) - 48;
  const d2 = line.charCodeAt(10) - 48;
  const d3 = line.charCodeAt(11) - 48;
  if (d1 < 1 || d1 > 9 || d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) throw badResponse('malformed status code');
  return d1 * 100 + d2 * 10 + d3;
}

/** Value of a header line after the colon, without leading/trailing spaces and tabs. */
function trimOws(line: string, from: number): string {
  let start = from;
  let end = line.length;
  while (start < end && (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9)) start++;
  while (end > start && (line.charCodeAt(end - 1) === 32 || line.charCodeAt(end - 1) === 9)) end--;
  return start === from && end === line.length ? line.slice(from) : line.slice(start, end);
}

/** A Content-Length value (also a repeated or comma-separated one, if every copy agrees). */
function parseContentLength(value: string, previous: number | undefined): number {
  // Nearly always one plain number: no split, no array.
  if (previous === undefined && DIGITS.test(value)) return Number(value);
  let length = previous;
  for (const part of value.split(',')) {
    const digits = part.trim();
    if (!DIGITS.test(digits)) throw badResponse('malformed Content-Length');
    const n = Number(digits);
    if (length !== undefined && length !== n) throw badResponse('conflicting Content-Length values');
    length = n;
  }
  return length as number;
}

function hasToken(list: string | undefined, token: string): boolean {
  if (list === undefined) return false;
  if (list.indexOf(',') === -1) return list.trim().toLowerCase() === token;
  for (const part of list.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

function lastToken(list: string): string {
  const comma = list.lastIndexOf(',');
  return (comma === -1 ? list : list.slice(comma + 1)).trim().toLowerCase();
}
