import type { CallbackOutcome } from './call-state';
import { errorMessage } from './api-errors';

export interface CallbackRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export interface CallbackPolicy {
  /** POSTs per callback before it is recorded as undelivered. @default 5 */
  readonly attempts?: number;
  /** Delay before the 2nd attempt, doubled after each failure. @default 500 */
  readonly initialDelayMs?: number;
  /** Time one POST may take. @default 10000 */
  readonly timeoutMs?: number;
  /** Callbacks a replica POSTs at once, per function (its own slots, never the function's). @default 16 */
  readonly concurrency?: number;
}

export const DEFAULT_CALLBACK_POLICY = {
  attempts: 5,
  initialDelayMs: 500,
  timeoutMs: 10_000,
  concurrency: 16,
} as const;

/** One POST's result: `final` when retrying cannot change it (delivered, an invalid URL, a 4xx other than 408/429). */
export interface CallbackAttempt {
  readonly final: boolean;
  readonly outcome: CallbackOutcome;
}

/**
 * POSTs an async call's result to its callback URL once. Never throws: network errors, 408, 429 and
 * 5xx are reported as retryable, the rest as final. Retries (with their backoff) are the callback
 * queue's, so a slow receiver holds a callback slot, never a handler slot (callback-queue.ts).
 */
export async function postCallback(req: CallbackRequest, attempt: number, timeoutMs: number): Promise<CallbackAttempt> {
  let url: URL;
  try {
    url = new URL(req.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported scheme ${url.protocol}`);
  } catch (err) {
    return {
      final: true,
      outcome: { url: req.url, delivered: false, attempts: 0, error: `invalid callback URL: ${errorMessage(err)}` },
    };
  }
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: req.headers as Record<string, string>,
      body: req.body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    const status = res.status;
    await res.arrayBuffer().catch(() => undefined);
    if (status >= 200 && status < 300)
      return { final: true, outcome: { url: req.url, delivered: true, attempts: attempt, status } };
    const retryable = status === 408 || status === 429 || status >= 500;
    return {
      final: !retryable,
      outcome: { url: req.url, delivered: false, attempts: attempt, status, error: `callback answered ${status}` },
    };
  } catch (err) {
    return { final: false, outcome: { url: req.url, delivered: false, attempts: attempt, error: errorMessage(err) } };
  }
}
