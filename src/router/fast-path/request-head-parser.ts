/**
 * Parses complete request heads with llhttp, the HTTP parser node:http itself runs — reached
 * through node's `_http_common` module, since node exposes no public API for it. This keeps
 * the fast path from having an HTTP grammar of its own: it accepts exactly the requests node
 * accepts, and anything llhttp rejects or that needs more than a head goes to node:http.
 *
 * The module is internal to node, so everything is probed once at startup: when the parser is
 * missing or behaves differently (another node version), `createHeadParser()` returns undefined
 * and the router serves every connection with node:http alone.
 */

/** What the fast path needs from a request head. */
export interface RequestHead {
  readonly method: string;
  /** The request target as sent. */
  readonly url: string;
  /** Flat `[name, value, …]` list, as `IncomingMessage.rawHeaders`. */
  readonly rawHeaders: string[];
  /** HTTP/1.1 (false: HTTP/1.0). */
  readonly http11: boolean;
  /** The client may send another request on this connection (llhttp's reading of Connection and version). */
  readonly keepAlive: boolean;
  /** Bytes of body that follow the head (its Content-Length); 0 when there is none. */
  readonly bodyLength: number;
}

/** Parses one complete head (up to and including the blank line). */
export interface HeadParser {
  /**
   * Returns undefined when the bytes are not one complete, valid request head whose body (if any)
   * is framed by Content-Length — chunked bodies, upgrades, CONNECT, malformed heads, HTTP/1.1
   * without Host (node:http answers 400, RFC 9112 §3.2): node:http must serve those.
   */
  parse(head: Buffer): RequestHead | undefined;
}

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  [callback: number]: unknown;
}

interface HttpCommon {
  readonly HTTPParser: {
    new (): LlhttpParser;
    readonly REQUEST: number;
    readonly kOnHeaders: number;
    readonly kOnHeadersComplete: number;
    readonly kOnBody: number;
    readonly kOnMessageComplete: number;
    readonly kOnExecute: number;
    readonly kLenientNone: number;
  };
  readonly methods: readonly string[];
}

/** node:http's default `maxHeaderSize`: a longer head goes to node:http, which answers 431. */
export const MAX_HEAD_BYTES = 16 * 1024;

interface ParsedHead extends RequestHead {
  readonly upgrade: boolean;
  /** HTTP/1.0 or HTTP/1.1 (llhttp also accepts other versions in a request line). */
  readonly http1: boolean;
}

class LlhttpHeadParser implements HeadParser {
  private readonly parser: LlhttpParser;
  private readonly resource = {};
  // Results of the callbacks of the current `execute`.
  private head: ParsedHead | undefined;
  private complete = false;
  /** Headers and URL llhttp hands over early when a head has more than 32 headers. */
  private earlyHeaders: string[] = [];
  private earlyUrl = '';
  private reset = true;

  constructor(private readonly common: HttpCommon) {
    const { HTTPParser } = common;
    this.parser = new HTTPParser();
    this.parser[HTTPParser.kOnHeaders] = (headers: string[], url: string): void => {
      this.earlyHeaders.push(...headers);
      this.earlyUrl += url;
    };
    this.parser[HTTPParser.kOnHeadersComplete] = (
      versionMajor: number,
      versionMinor: number,
      headers: string[] | undefined,
      method: number,
      url: string | undefined,
      _statusCode: number,
      _statusMessage: string,
      upgrade: boolean,
      shouldKeepAlive: boolean,
    ): void => {
      const rawHeaders =
        headers === undefined
          ? this.earlyHeaders
          : this.earlyHeaders.length === 0
            ? headers
            : [...this.earlyHeaders, ...headers];
      this.head = {
        method: common.methods[method],
        url: url === undefined ? this.earlyUrl : this.earlyUrl + url,
        rawHeaders,
        http11: versionMajor === 1 && versionMinor === 1,
        keepAlive: shouldKeepAlive,
        bodyLength: 0,
        upgrade,
        http1: versionMajor === 1 && (versionMinor === 0 || versionMinor === 1),
      };
    };
    this.parser[HTTPParser.kOnBody] = (): void => undefined;
    this.parser[HTTPParser.kOnMessageComplete] = (): void => {
      this.complete = true;
    };
    this.parser[HTTPParser.kOnExecute] = (): void => undefined;
  }

  parse(bytes: Buffer): RequestHead | undefined {
    if (this.reset) {
      this.parser.initialize(
        this.common.HTTPParser.REQUEST,
        this.resource,
        MAX_HEAD_BYTES,
        this.common.HTTPParser.kLenientNone,
      );
      this.reset = false;
    }
    this.head = undefined;
    this.complete = false;
    if (this.earlyHeaders.length > 0) this.earlyHeaders = [];
    this.earlyUrl = '';
    const result = this.parser.execute(bytes);
    // Set by the callbacks during execute (which TypeScript cannot see).
    const head = this.head as ParsedHead | undefined;
    if (
      typeof result !== 'number' ||
      result !== bytes.length ||
      head === undefined ||
      head.upgrade ||
      !head.http1 ||
      head.method === 'CONNECT' ||
      (head.http11 && !hasHeader(head.rawHeaders, 'host'))
    ) {
      this.reset = true;
      return undefined;
    }
    if (!this.complete) {
      // llhttp accepted the head and waits for a body. It refuses duplicate or malformed
      // Content-Length and Content-Length beside Transfer-Encoding, so one valid Content-Length
      // here frames the body exactly; without one the body is chunked: node:http's job. The body
      // bytes are taken as they are, so the parser starts afresh for the next head.
      this.reset = true;
      // `Expect: 100-continue` waits for an interim answer before sending the body: node:http's job.
      const length = contentLengthOf(head.rawHeaders);
      return length === undefined || length === 0 || hasHeader(head.rawHeaders, 'expect')
        ? undefined
        : { ...head, bodyLength: length };
    }
    // One complete message without a body: the parser is at a message boundary, ready for the next
    // head. After a message that ends its connection, though, llhttp refuses further data.
    if (!head.keepAlive) this.reset = true;
    return head;
  }
}

function hasHeader(rawHeaders: readonly string[], lowerCaseName: string): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].length === lowerCaseName.length && rawHeaders[i].toLowerCase() === lowerCaseName) return true;
  }
  return false;
}

/** The value of the (single, llhttp-validated) Content-Length header, if there is one. */
function contentLengthOf(rawHeaders: readonly string[]): number | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      const value = rawHeaders[i + 1].trim();
      return /^[0-9]{1,15}$/.test(value) ? Number(value) : undefined;
    }
  }
  return undefined;
}

/** The llhttp-backed parser, or undefined when this node does not provide one that works as expected. */
export function createHeadParser(): HeadParser | undefined {
  let parser: HeadParser;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const common = require('_http_common') as HttpCommon;
    if (typeof common?.HTTPParser !== 'function' || !Array.isArray(common.methods)) return undefined;
    parser = new LlhttpHeadParser(common);
    if (!selfTest(parser)) return undefined;
  } catch {
    return undefined;
  }
  return parser;
}

/** A few known heads must parse exactly as expected before the fast path is trusted. */
function selfTest(parser: HeadParser): boolean {
  const get = parser.parse(Buffer.from('GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n', 'latin1'));
  const withBody = parser.parse(Buffer.from('POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n', 'latin1'));
  const chunked = parser.parse(
    Buffer.from('POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1'),
  );
  const http10 = parser.parse(Buffer.from('HEAD / HTTP/1.0\r\n\r\n', 'latin1'));
  const bad = parser.parse(Buffer.from('GET / HTTP/1.1\r\nBad Header: x\r\n\r\n', 'latin1'));
  const again = parser.parse(Buffer.from('DELETE /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'latin1'));
  const afterClose = parser.parse(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'));
  const noHost = parser.parse(Buffer.from('GET / HTTP/1.1\r\n\r\n', 'latin1'));
  return (
    get !== undefined &&
    get.method === 'GET' &&
    get.url === '/a?b=1' &&
    get.http11 &&
    get.keepAlive &&
    get.bodyLength === 0 &&
    get.rawHeaders.join('|') === 'Host|x|X-A|1' &&
    withBody?.bodyLength === 3 &&
    chunked === undefined &&
    http10 !== undefined &&
    http10.method === 'HEAD' &&
    !http10.http11 &&
    !http10.keepAlive &&
    bad === undefined &&
    again !== undefined &&
    again.method === 'DELETE' &&
    !again.keepAlive &&
    afterClose !== undefined &&
    noHost === undefined
  );
}
