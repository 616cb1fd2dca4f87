/**
 * What of a caller's headers an async call carries to the function (issue 15 item 10): the same as
 * the sync path forwards, minus the headers only the platform sets — the router's own
 * (`x-kubefaas-auth`, `-function`, `-params`, `-timeout-ms`) and the queue's message-header namespace
 * (`kubefaas-*`, any case) — so a caller can pose as neither.
 */
import { headerRecord } from '../../src/router/async-endpoint';

test('platform and router-owned headers from the caller are dropped; the rest is kept as the function would see it', () => {
  const record = headerRecord([
    'X-Kubefaas-Auth',
    'eyJmb3JnZWQiOnRydWV9',
    'x-kubefaas-function',
    'other',
    'X-Kubefaas-Params',
    '%7B%7D',
    'X-Kubefaas-Timeout-Ms',
    '1',
    'Kubefaas-Attempts',
    '1',
    'kubefaas-error',
    'forged',
    'Content-Type',
    'application/json',
    'X-Custom',
    'a',
    'x-custom',
    'b',
    'Set-Cookie',
    'c=1',
    'X-Kubefaas-Custom',
    'kept: not a name the platform sets',
  ]);
  expect(record).toEqual({
    'content-type': 'application/json',
    'x-custom': 'a, b',
    'set-cookie': ['c=1'],
    'x-kubefaas-custom': 'kept: not a name the platform sets',
  });
});
