import type { IncomingMessage } from 'node:http';
import type { RequestHead } from './request-head';

/**
 * True when the request carries a body. Requests without one (most GETs) are never read at all:
 * attaching data/end listeners to an empty request is a measurable cost (perf-notes.md).
 */
export function hasBody(head: RequestHead): boolean {
  if (head.transferEncoding) return true;
  const length = head.contentLength;
  return length !== undefined && length !== '0';
}

/** The declared content-length, or undefined for chunked bodies. */
export function declaredLength(head: RequestHead): number | undefined {
  const length = head.contentLength;
  return length === undefined ? undefined : Number(length);
}

export type BodyFailure = 'too-large' | 'aborted';

/**
 * Buffers the request body up to `limit` bytes. Past the limit it stops reading at once (the caller
 * answers 413 and closes the connection) instead of buffering the rest; a client that goes away
 * mid-body yields 'aborted'. `done` is called exactly once.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  done: (failure: BodyFailure | undefined, body: Buffer) => void,
): void {
  const chunks: Buffer[] = [];
  let received = 0;
  let finished = false;

  const finish = (failure: BodyFailure | undefined, body: Buffer): void => {
    if (finished) return;
    finished = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    done(failure, body);
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > limit) {
      req.pause();
      finish('too-large', Buffer.alloc(0));
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = (): void => finish(undefined, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
  const onClose = (): void => {
    if (!req.complete) finish('aborted', Buffer.alloc(0));
  };

  req.on('data', onData);
  req.on('end', onEnd);
  req.on('close', onClose);
}
