import { parse as parseQueryString } from 'node:querystring';
import { HTTP_EVENT_TYPE, Headers as HeaderNames, decodeParams, readAuthInfo } from '../contract';
import { HttpError } from './errors';
import type { AuthInfo, FunctionEvent } from '../contract';

/** Shared empty body: requests without one never allocate. */
export const EMPTY_BODY: Buffer = Buffer.alloc(0);

type IncomingHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Where the headers come from: node's IncomingMessage builds its `headers` object on first read. */
export interface HeaderSource {
  readonly headers: IncomingHeaders;
}

/**
 * The event a handler receives for an HTTP request. Everything that costs work (query parsing,
 * path params, the CloudEvents time string) is computed on first access, because most handlers
 * read only a field or two. CloudEvents attributes honour binary-mode `ce-*` headers when present.
 */
export class HttpEvent implements FunctionEvent {
  readonly #url: string;
  #headerSource: HeaderSource;
  readonly #requestId: string;
  readonly #functionName: string;
  readonly #arrivalMs: number;
  #query?: Record<string, string | string[]>;
  #params?: Record<string, string>;

  constructor(
    readonly method: string,
    url: string,
    headerSource: HeaderSource,
    readonly body: Buffer,
    requestId: string,
    functionName: string,
    arrivalMs: number,
  ) {
    this.#url = url;
    this.#headerSource = headerSource;
    this.#requestId = requestId;
    this.#functionName = functionName;
    this.#arrivalMs = arrivalMs;
  }

  /**
   * Called when the invocation timed out: keeps the headers (a plain object) and lets go of the
   * request (socket, parser, buffers), which a handler that never settles would otherwise keep alive.
   */
  releaseRequest(): void {
    this.#headerSource = { headers: this.#headerSource.headers };
  }

  /** The router's verified caller (`Headers.auth`, base64url JSON); undefined without one or when unreadable. */
  get auth(): AuthInfo | undefined {
    return readAuthInfo(this.headers[HeaderNames.auth]);
  }

  /** Read through to the request, so a handler that never looks at headers never builds the object. */
  get headers(): IncomingHeaders {
    return this.#headerSource.headers;
  }

  get id(): string {
    return headerString(this.headers['ce-id']) ?? this.#requestId;
  }

  get source(): string {
    return headerString(this.headers['ce-source']) ?? `/kubefaas/http/${this.#functionName}`;
  }

  get type(): string {
    return headerString(this.headers['ce-type']) ?? HTTP_EVENT_TYPE;
  }

  get time(): string {
    return headerString(this.headers['ce-time']) ?? new Date(this.#arrivalMs).toISOString();
  }

  get path(): string {
    const q = this.#url.indexOf('?');
    return q === -1 ? this.#url : this.#url.slice(0, q);
  }

  get query(): Readonly<Record<string, string | string[]>> {
    if (!this.#query) {
      const q = this.#url.indexOf('?');
      this.#query = q === -1 ? {} : (parseQueryString(this.#url.slice(q + 1)) as Record<string, string | string[]>);
    }
    return this.#query;
  }

  get params(): Readonly<Record<string, string>> {
    if (!this.#params) this.#params = decodeParams(this.headers[HeaderNames.params]);
    return this.#params;
  }

  text(): string {
    return this.body.toString('utf8');
  }

  json<T = unknown>(): T {
    try {
      return JSON.parse(this.body.toString('utf8')) as T;
    } catch {
      throw new HttpError(400, 'request body is not valid JSON');
    }
  }

  /** Getters are not enumerable; make `JSON.stringify(event)` and logging show the whole event. */
  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      source: this.source,
      type: this.type,
      time: this.time,
      method: this.method,
      path: this.path,
      headers: this.headers,
      query: this.query,
      params: this.params,
      body: this.text(),
    };
  }
}

function headerString(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
