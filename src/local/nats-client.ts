/**
 * The little of the NATS client protocol the local runner needs to watch the local queue: core
 * subscriptions and request/reply (the JetStream API is request/reply on `$JS.API.…`). The runner
 * runs from the installed package, whose dependencies do not include nats.js (the pods carry it in
 * their bundles), and these few protocol lines over one TCP connection to the local, auth-less
 * nats-server are all it takes: `CONNECT`, `PING`/`PONG`, `SUB`, `UNSUB`, `PUB`, and `MSG`/`HMSG` in.
 * The connection is re-established (and subscriptions renewed) when the server restarts.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';

const CRLF = '\r\n';
/** A request with no answer within this is given up (JetStream answers locally in a few ms). */
const REQUEST_TIMEOUT_MS = 2_000;
const RECONNECT_MS = 250;

interface Subscription {
  readonly subject: string;
  readonly onMessage: (payload: Buffer) => void;
}

export class NatsLite {
  private socket: net.Socket | undefined;
  private buffered: Buffer = Buffer.alloc(0);
  private readonly subs = new Map<number, Subscription>();
  private nextSid = 1;
  private readonly inbox = `_INBOX.kfdev.${randomBytes(6).toString('hex')}`;
  private inboxSid = 0;
  private nextRequest = 1;
  private readonly pending = new Map<string, (payload: Buffer | Error) => void>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** Connects to `nats://host:port` (the first of a comma-separated list); resolves once the server answered a PING. */
  static async connect(servers: string): Promise<NatsLite> {
    const url = new URL(
      servers
        .split(',')[0]
        .trim()
        .replace(/^(?!nats:\/\/)/, 'nats://'),
    );
    const client = new NatsLite(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 4222));
    await client.open();
    return client;
  }

  /** Calls `onMessage` with every message published to `subject`; returns how to stop. */
  subscribe(subject: string, onMessage: (payload: Buffer) => void): () => void {
    const sid = this.nextSid++;
    this.subs.set(sid, { subject, onMessage });
    this.write(`SUB ${subject} ${sid}${CRLF}`);
    return () => {
      if (this.subs.delete(sid)) this.write(`UNSUB ${sid}${CRLF}`);
    };
  }

  /** Resolves once the server has processed everything sent before (a PING answered). */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      this.pongs.push(resolve);
      this.write(`PING${CRLF}`);
    });
  }

  /** Publishes `body` to `subject` and resolves with the first reply. */
  request(subject: string, body: string): Promise<Buffer> {
    const token = String(this.nextRequest++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new Error(`no answer to ${subject} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(token, (reply) => {
        clearTimeout(timer);
        this.pending.delete(token);
        if (reply instanceof Error) reject(reply);
        else resolve(reply);
      });
      const payload = Buffer.from(body, 'utf8');
      this.write(`PUB ${subject} ${this.inbox}.${token} ${payload.length}${CRLF}${payload.toString('utf8')}${CRLF}`);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.socket?.destroy();
    this.failPending(new Error('connection closed'));
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port });
      this.socket = socket;
      this.buffered = Buffer.alloc(0);
      let connected = false;
      // The connection's first PONG answers its CONNECT's PING; earlier waiters went with the old one.
      this.pongs = [
        () => {
          connected = true;
          resolve();
        },
      ];
      socket.on('connect', () => {
        const options = { verbose: false, pedantic: false, name: 'kubefaas-dev', lang: 'node', protocol: 1 };
        socket.write(`CONNECT ${JSON.stringify(options)}${CRLF}PING${CRLF}`);
        this.inboxSid = this.nextSid++;
        socket.write(`SUB ${this.inbox}.* ${this.inboxSid}${CRLF}`);
        for (const [sid, sub] of this.subs) socket.write(`SUB ${sub.subject} ${sid}${CRLF}`);
      });
      socket.on('data', (chunk: Buffer) => this.receive(chunk));
      socket.on('error', (err) => {
        if (!connected) reject(err);
      });
      socket.on('close', () => {
        if (this.socket !== socket) return;
        this.socket = undefined;
        this.failPending(new Error('connection to nats-server lost'));
        if (connected && !this.closed) this.scheduleReconnect();
      });
    });
  }

  /** Waiting for PONGs, in the order their PINGs went out. */
  private pongs: Array<() => void> = [];

  private scheduleReconnect(): void {
    this.reconnectTimer = setTimeout(() => {
      if (this.closed) return;
      this.open().catch(() => this.scheduleReconnect());
    }, RECONNECT_MS);
  }

  private write(text: string): void {
    if (this.socket !== undefined && !this.socket.destroyed) this.socket.write(text);
  }

  private failPending(err: Error): void {
    for (const settle of [...this.pending.values()]) settle(err);
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const end = this.buffered.indexOf(CRLF);
      if (end === -1) return;
      const line = this.buffered.toString('utf8', 0, end);
      if (line.startsWith('MSG ') || line.startsWith('HMSG ')) {
        // MSG <subject> <sid> [reply] <bytes>; HMSG <subject> <sid> [reply] <header bytes> <total bytes>
        const parts = line.split(' ');
        const total = Number(parts[parts.length - 1]);
        const headerBytes = parts[0] === 'HMSG' ? Number(parts[parts.length - 2]) : 0;
        const start = end + 2;
        if (this.buffered.length < start + total + 2) return; // the payload is not all here yet
        const payload = this.buffered.subarray(start + headerBytes, start + total);
        this.buffered = this.buffered.subarray(start + total + 2);
        this.deliver(parts[1], Number(parts[2]), payload);
        continue;
      }
      this.buffered = this.buffered.subarray(end + 2);
      if (line === 'PING') this.write(`PONG${CRLF}`);
      else if (line === 'PONG') this.pongs.shift()?.();
    }
  }

  private deliver(subject: string, sid: number, payload: Buffer): void {
    if (sid === this.inboxSid) {
      this.pending.get(subject.slice(this.inbox.length + 1))?.(Buffer.from(payload));
      return;
    }
    this.subs.get(sid)?.onMessage(payload);
  }
}
