import type { CallbackOutcome } from './call-state';
import { errorMessage, } from './api-errors';
import { sleep } from './publisher';

export interface CallbackRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export interface CallbackPolicy {
  /** @default 5 */
  readonly attempts?: number;
  /** Delay before the 2nd attempt, doubled after each failure. @default 500 */
  readonly initialDelayMs?: number;
  /** @default 10000 */
  readonly timeoutMs?: number;
  /** Called while waiting, so the caller can keep its message in progress. @default none */
  readonly onWait?: () => void;
}

/**
 * POSTs an async call's result to its callback URL, retrying network errors, 408, 429 and 5xx
 * with exponential backoff. Never throws: the outcome is recorded in the call state instead, so a
 * broken callback receiver cannot crash the consumer or make the call run again.
 */
export async function deliverCallback(req: CallbackRequest, policy: CallbackPolicy = {}): Promise<CallbackOutcome> {
  const attempts = policy.attempts ?? 5;
  let delay = policy.initialDelayMs ?? 500;
  let status: number | undefined;
  let error: string | undefined;
  let url: URL;
  try {
    url = new URL(req.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported scheme ${url.protocol}`);
  } catch (err) {
    return { url: req.url, delivered: false, attempts: 0, error: `invalid callback URL: ${errorMessage(err)}` };
  }
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: req.headers as Record<string, string>,
        body: req.body,
        signal: AbortSignal.timeout(policy.timeoutMs ?? 10_000),
        redirect: 'manual',
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (status >= 200 && status < 300) return { url: req.url, delivered: true, attempts: attempt, status };
      error = `callback answered ${status}`;
      const retryable = status === 408 || status === 429 || status >= 500;
      if (!retryable) return { url: req.url, delivered: false, attempts: attempt, status, error };
    } catch (err) {
      error = errorMessage(err);
      status = undefined;
    }
    if (attempt < attempts) {
      policy.onWait?.();
      await sleep(delay);
      delay *= 2;
    }
  }
  return { url: req.url, delivered: false, attempts, status, error };
}
