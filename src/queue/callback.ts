import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CallbackUrlPolicy } from '../contract';
import type { CallbackOutcome } from './call-state';
import { errorMessage } from './api-errors';
import { resolveCallbackTarget, type CallbackResolver, type CallbackTarget } from './callback-target';

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
  /** Where callbacks may go (the platform's CallbackPolicy). @default - nowhere: every callback is refused */
  readonly urls?: CallbackUrlPolicy;
  /** Resolves callback hosts. @default the system resolver (dns.lookup) */
  readonly resolve?: CallbackResolver;
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
 * POSTs an async call's result to its callback URL once, if the policy lets it go there (checked
 * with the addresses the host resolves to; the POST connects to the checked address, follows no
 * redirect). Never throws: a refused URL is final and nothing is sent; network errors, 408, 429 and
 * 5xx are reported as retryable, the rest (a 3xx included) as final. Retries (with their backoff)
 * are the callback queue's, so a slow receiver holds a callback slot, never a handler slot
 * (callback-queue.ts).
 */
export async function postCallback(
  req: CallbackRequest,
  attempt: number,
  timeoutMs: number,
  policy: CallbackUrlPolicy | undefined,
  resolve?: CallbackResolver,
): Promise<CallbackAttempt> {
  const target = await resolveCallbackTarget(policy, req.url, resolve);
  if ('refused' in target)
    return {
      final: true,
      outcome: { url: req.url, delivered: false, attempts: 0, error: `callback refused: ${target.refused}` },
    };
  try {
    const status = await post(target, req, timeoutMs);
    if (status >= 200 && status < 300)
      return { final: true, outcome: { url: req.url, delivered: true, attempts: attempt, status } };
    const retryable = status === 408 || status === 429 || status >= 500;
    const redirect = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
    return {
      final: !retryable,
      outcome: {
        url: req.url,
        delivered: false,
        attempts: attempt,
        status,
        error: `callback answered ${status}${redirect}`,
      },
    };
  } catch (err) {
    return { final: false, outcome: { url: req.url, delivered: false, attempts: attempt, error: errorMessage(err) } };
  }
}

/** One POST to the checked address; resolves with the status once the response body is read. */
function post(target: CallbackTarget, req: CallbackRequest, timeoutMs: number): Promise<number> {
  const { url, address } = target;
  const pinned: LookupFunction = (_host, options, callback) => {
    if (options.all) callback(null, [{ address: address.address, family: address.family }]);
    else callback(null, address.address, address.family);
  };
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      {
        method: 'POST',
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port || undefined,
        path: url.pathname + url.search,
        headers: { ...req.headers, 'content-length': String(req.body.byteLength) },
        // Every POST resolves through the check above, never through a pooled socket of another host.
        agent: false,
        lookup: pinned,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        res.on('error', reject);
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.resume();
      },
    );
    request.on('error', reject);
    request.end(req.body);
  });
}
