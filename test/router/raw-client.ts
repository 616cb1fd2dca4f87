/**
 * A raw TCP client for router tests that must control the bytes on the wire: pipelining, HTTP/1.0,
 * half-close, split heads. Responses are split by a deliberately simple reader (Content-Length,
 * chunked, or until close) that also records how each was framed.
 */
import { type Socket, connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** Header names lower-cased; repeated headers joined with ', '. */
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly framing: 'length' | 'chunked' | 'close' | 'none';
}

export class RawClient {
  readonly socket: Socket;
  /** The code of the first socket error (`ECONNRESET`, `EPIPE`): the peer reset the connection. */
  error: string | undefined = undefined;
  private buffered = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;
  readonly connected: Promise<void>;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    this.connected = new Promise((done, fail) => {
      this.socket.once('connect', done);
      this.socket.once('error', fail);
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake?.();
    });
    const onEnd = (): void => {
      this.ended = true;
      this.wake?.();
    };
    this.socket.on('end', onEnd);
    this.socket.on('close', onEnd);
    this.socket.on('error', (err: NodeJS.ErrnoException) => (this.error ??= err.code ?? err.message));
  }

  static async open(port: number): Promise<RawClient> {
    const client = new RawClient(port);
    await client.connected;
    return client;
  }

  send(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /**
   * Sends `total` bytes (`x`) in 64 KiB writes with backpressure; resolves with how many were
   * written before the connection failed or closed (`total` when all of it went out).
   */
  async sendBody(total: number): Promise<number> {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    while (sent < total && this.error === undefined && !this.socket.destroyed) {
      const n = Math.min(chunk.length, total - sent);
      const ok = await new Promise<boolean>((done) =>
        this.socket.write(n === chunk.length ? chunk : chunk.subarray(0, n), (err) => done(!err)),
      );
      if (!ok) break;
      sent += n;
    }
    return sent;
  }

  /** Ends our side (FIN); the connection stays readable. */
  end(): void {
    this.socket.end();
  }

  /** True once the router closed (or reset) the connection. */
  get closed(): boolean {
    return this.ended;
  }

  /** Waits for the connection to close; resolves true if it did within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.ended && Date.now() < deadline) await this.waitForData(deadline - Date.now());
    return this.ended;
  }

  /** Reads the next response (`head`: the request was HEAD, so no body follows). */
  async read(options: { head?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    for (;;) {
      const parsed = this.tryParse(options.head ?? false);
      if (parsed !== undefined) return parsed;
      if (this.ended)
        throw new Error(
          `connection closed before a complete response; got: ${JSON.stringify(this.buffered.toString('latin1'))}`,
        );
      if (Date.now() > deadline)
        throw new Error(`no complete response in time; got: ${JSON.stringify(this.buffered.toString('latin1'))}`);
      await this.waitForData(deadline - Date.now());
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private waitForData(ms: number): Promise<void> {
    return new Promise((done) => {
      const timer = setTimeout(done, Math.max(1, ms));
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        done();
      };
    });
  }

  private tryParse(head: boolean): RawResponse | undefined {
    const text = this.buffered.toString('latin1');
    const headEnd = text.indexOf('\r\n\r\n');
    if (headEnd === -1) return undefined;
    const [statusLine, ...lines] = text.slice(0, headEnd).split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let rest = text.slice(headEnd + 4);
    const consume = (bodyEnd: number, body: string, framing: RawResponse['framing']): RawResponse => {
      this.buffered = this.buffered.subarray(headEnd + 4 + bodyEnd);
      return { status, headers, body, framing };
    };
    if (head || status === 204 || status === 304) return consume(0, '', 'none');
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (rest.length < length) return undefined;
      return consume(length, rest.slice(0, length), 'length');
    }
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      let body = '';
      let used = 0;
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        if (lineEnd === -1) return undefined;
        const size = parseInt(rest.slice(0, lineEnd), 16);
        if (rest.length < lineEnd + 2 + size + 2) return undefined;
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        used += lineEnd + 2 + size + 2;
        rest = rest.slice(lineEnd + 2 + size + 2);
        if (size === 0) return consume(used, body, 'chunked');
      }
    }
    if (!this.ended) return undefined;
    return consume(rest.length, rest, 'close');
  }
}
