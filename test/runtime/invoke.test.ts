/**
 * `context.invoke` between two runtime processes (the bundle that ships), issue 16 part 4: a caller
 * whose handler is written against `kubefaas/refs` and bundled with it, and a callee it reaches
 * straight through `KUBEFAAS_INVOKE_TARGETS` (no router in between). The callee is told the caller's
 * remaining time and honours it, the trace continues, a non-2xx answer is a typed InvokeError, and
 * only idempotent calls are retried. Last, the router: a client cannot send the deadline header.
 */
import { Env, INVOKE_TIMEOUT_HEADER } from '../../src/contract';
import { bundleHandler } from '../refs/bundle';
import {
  ConfigMapDir,
  freePort,
  killAllRouters,
  startRouter,
  table,
  request as routerRequest,
} from '../router/harness';
import { RuntimeProcess, stopAll } from './process';

/** The callee: reports what it was told, and misbehaves on request (by path). */
const CALLEE = `
const counts = {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
module.exports = async (event, context) => {
  const key = event.path + (event.query.key ? ':' + event.query.key : '');
  counts[key] = (counts[key] || 0) + 1;
  switch (event.path) {
    case '/count':
      return counts;
    case '/slow':
      await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
      context.log.info('slow call aborted', { reason: String(context.signal.reason.message) });
      return 'too late';
    case '/reject':
      throw Object.assign(new Error('no such sku: ' + event.json().sku), { status: 404 });
    case '/flaky':
      if (counts[key] % 2 === 1) return new Response('busy, try again', { status: 503 });
      return { attempts: counts[key], method: event.method };
    default:
      return {
        input: event.body.length ? event.json() : null,
        method: event.method,
        path: event.path,
        contentType: event.headers['content-type'] ?? null,
        traceparent: event.headers.traceparent ?? null,
        timeoutHeader: event.headers['${INVOKE_TIMEOUT_HEADER}'] ?? null,
        remainingMs: context.deadline - Date.now(),
      };
  }
};`;

/** The caller: a typed handler that calls `quote` (and a few wrong things) and reports what came back. */
const CALLER = `
import { defineHandler, fn, http, InvokeError } from 'kubefaas/refs';

interface Quote { input: { sku: string }; traceparent: string | null; timeoutHeader: string | null; remainingMs: number }
const quote = fn<{ sku: string }, Quote>('quote');
const gone = fn<void, unknown>('gone');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function report(err: unknown) {
  if (!(err instanceof InvokeError)) return { caught: 'other', message: (err as Error).message };
  return { caught: 'InvokeError', name: err.name, status: err.status, body: err.body, message: err.message, functionName: err.functionName };
}

export default defineHandler(http(), async (event, ctx) => {
  const started = Date.now();
  try {
    switch (event.path) {
      case '/price':
        return await ctx.invoke(quote, { sku: 'x-1' });
      case '/after': {
        await sleep(Number(event.query.ms));
        const answer = await ctx.invoke(quote, { sku: 'late' });
        return { ...answer, callerRemainingMs: ctx.deadline - Date.now() };
      }
      case '/slow': {
        try {
          await ctx.invoke(quote, { sku: 's' }, { path: '/slow', timeoutMs: 500 });
        } catch (err) {
          return { ...report(err), waitedMs: Date.now() - started };
        }
        return 'unexpected';
      }
      case '/reject':
        return await ctx.invoke(quote, { sku: 'nope' }, { path: '/reject' });
      case '/uncaught':
        await ctx.invoke(quote, { sku: 'nope' }, { path: '/reject' });
        return 'unexpected';
      case '/flaky-post':
        return await ctx.invoke(quote, { sku: 'f' }, { path: '/flaky?key=post' });
      case '/flaky-get':
        return await ctx.invoke(quote, undefined as never, { method: 'GET', path: '/flaky?key=get' });
      case '/gone-get':
        return await ctx.invoke(gone, undefined, { method: 'GET' });
      case '/gone-post':
        return await ctx.invoke(gone, undefined);
      case '/count':
        return await ctx.invoke(quote, undefined as never, { method: 'GET', path: '/count' });
      case '/odd-path':
        return await ctx.invoke(quote, { sku: 'p' }, { path: '//elsewhere.example/x?key=1' });
      case '/undeclared':
        return await ctx.invoke('nobody', {});
      case '/async':
        return await ctx.invokeAsync(quote, { sku: 'a' });
    }
  } catch (err) {
    if (event.path === '/uncaught') throw err;
    return report(err);
  }
  return 'no such case';
});
`;

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

let callee: RuntimeProcess;
let caller: RuntimeProcess;

beforeAll(async () => {
  callee = await RuntimeProcess.start(CALLEE, { [Env.FUNCTION_NAME]: 'quote', [Env.TIMEOUT_MS]: '20000' });
  const nobodyListens = await freePort();
  caller = await RuntimeProcess.start(bundleHandler(CALLER), {
    [Env.FUNCTION_NAME]: 'shop',
    [Env.TIMEOUT_MS]: '3000',
    [Env.INVOKE_TARGETS]: JSON.stringify({
      quote: `http://127.0.0.1:${callee.port}`,
      gone: `http://127.0.0.1:${nobodyListens}`,
    }),
  });
});

afterAll(async () => {
  killAllRouters();
  await stopAll();
});

const post = (path: string, headers: Record<string, string> = {}) => caller.request(path, { method: 'POST', headers });

test('a typed call answers with the callee’s JSON; the trace continues with a new span', async () => {
  const res = await post('/price', { traceparent: TRACEPARENT });
  expect(res.status).toBe(200);
  const answer = res.json();
  expect(answer).toMatchObject({ input: { sku: 'x-1' }, method: 'POST', contentType: 'application/json' });
  const [version, traceId, spanId, flags] = String(answer.traceparent).split('-');
  expect({ version, traceId, flags }).toEqual({ version: '00', traceId: TRACE_ID, flags: '01' });
  expect(spanId).toMatch(/^[0-9a-f]{16}$/);
  expect(spanId).not.toBe('00f067aa0ba902b7');
});

test('options.path is a path on the callee, even one that looks like another host', async () => {
  const res = await post('/odd-path');
  expect(res.status).toBe(200);
  expect(res.json()).toMatchObject({ path: '//elsewhere.example/x', input: { sku: 'p' } });
});

test('the deadline is propagated: the callee is told the caller’s remaining time, and its deadline is no later', async () => {
  const res = await post('/after?ms=1000');
  expect(res.status).toBe(200);
  const { timeoutHeader, remainingMs, callerRemainingMs } = res.json();
  const told = Number(timeoutHeader);
  // The caller had 3000 ms and spent at least 1000 of them before calling.
  expect(told).toBeLessThanOrEqual(2000);
  expect(told).toBeGreaterThan(0);
  // The callee (timeout 20 s) takes the caller's remaining time as its own.
  expect(remainingMs).toBeLessThanOrEqual(told);
  expect(remainingMs).toBeGreaterThan(told - 1000);
  expect(callerRemainingMs).toBeLessThanOrEqual(told);
});

test('when the time is up the callee’s signal aborts and the caller gets an InvokeError 504', async () => {
  const res = await post('/slow');
  expect(res.status).toBe(200);
  const outcome = res.json();
  expect(outcome).toMatchObject({ caught: 'InvokeError', name: 'InvokeError', status: 504, functionName: 'quote' });
  expect(outcome.message).toContain("no answer within the time left to 'shop'");
  // options.timeoutMs (500) bounded the call, not the caller's 3 s.
  expect(outcome.waitedMs).toBeLessThan(2500);
  // The callee stops working at the same moment: by its own (shortened) deadline, or because the
  // caller, whose timer runs out at the same time, hung up first.
  const aborted = await callee.waitForLog((l) => l.msg === 'slow call aborted');
  expect(aborted.reason).toMatch(
    /timed out after \d+ ms \(the time its calling function had left\)|client disconnected/,
  );
});

test('the runtime honours the header itself: a shorter deadline shortens the timeout, a longer one does not lengthen it', async () => {
  const shortened = await callee.request('/slow', { method: 'POST', headers: { [INVOKE_TIMEOUT_HEADER]: '300' } });
  expect(shortened.status).toBe(504);
  expect(shortened.json().error).toBe('function timed out after 300 ms (the time its calling function had left)');
  const longer = await callee.request('/', { method: 'POST', headers: { [INVOKE_TIMEOUT_HEADER]: '999999999' } });
  expect(longer.json().remainingMs).toBeLessThanOrEqual(20000);
  const garbage = await callee.request('/', { method: 'POST', headers: { [INVOKE_TIMEOUT_HEADER]: '-5' } });
  expect(garbage.json().remainingMs).toBeGreaterThan(15000);
});

test('a non-2xx answer is an InvokeError with the callee’s status and body; left uncaught it is the caller’s 500, not a 404', async () => {
  const caught = await post('/reject');
  expect(caught.json()).toMatchObject({
    caught: 'InvokeError',
    status: 404,
    body: { error: 'no such sku: nope' },
    functionName: 'quote',
  });
  expect(caught.json().message).toBe("context.invoke('quote'): answered 404: no such sku: nope");
  const uncaught = await post('/uncaught');
  expect(uncaught.status).toBe(500);
  expect(uncaught.text).not.toContain('no such sku');
});

test('only idempotent calls are retried: a POST that got 503 is not repeated, a GET is', async () => {
  const postOutcome = await post('/flaky-post');
  expect(postOutcome.json()).toMatchObject({ caught: 'InvokeError', status: 503, body: 'busy, try again' });
  const getOutcome = await post('/flaky-get');
  expect(getOutcome.status).toBe(200);
  expect(getOutcome.json()).toEqual({ attempts: 2, method: 'GET' });
  const counts = (await post('/count')).json();
  expect(counts['/flaky:post']).toBe(1);
  expect(counts['/flaky:get']).toBe(2);
});

test('an unreachable callee: a GET is tried three times, a POST once, then InvokeError 502', async () => {
  const get = (await post('/gone-get')).json();
  expect(get).toMatchObject({ caught: 'InvokeError', status: 502, functionName: 'gone' });
  expect(get.message).toMatch(/unreachable \(.*ECONNREFUSED.*\) \(after 3 attempts\)$/);
  const once = (await post('/gone-post')).json();
  expect(once).toMatchObject({ caught: 'InvokeError', status: 502 });
  expect(once.message).not.toContain('attempts');
});

test('a function not declared in `invokes` is refused, naming the declaration to add; invokeAsync needs a queue', async () => {
  expect((await post('/undeclared')).json()).toEqual({
    caught: 'other',
    message:
      "context.invoke('nobody'): function 'shop' does not declare it; add it to the function's `invokes` (e.g. invokes: [fn('nobody')])",
  });
  expect((await post('/async')).json().message).toContain('the platform has no queue');
});

test('through the router, a client’s deadline header never reaches the function (both HTTP paths)', async () => {
  const routes = new ConfigMapDir(
    table({ quote: `http://127.0.0.1:${callee.port}` }, [{ function: 'quote', methods: ['POST'], path: '/quote' }]),
  );
  try {
    const router = await startRouter(routes.file);
    const fast = await routerRequest(router.port, {
      method: 'POST',
      path: '/quote',
      headers: { [INVOKE_TIMEOUT_HEADER]: '1', 'content-type': 'application/json' },
      body: '{"sku":"r"}',
    });
    expect(fast.status).toBe(200);
    expect(fast.json()).toMatchObject({ input: { sku: 'r' }, timeoutHeader: null });
    // Chunked: the node:http path.
    const chunked = await routerRequest(router.port, {
      method: 'POST',
      path: '/quote',
      headers: { [INVOKE_TIMEOUT_HEADER]: '1', 'transfer-encoding': 'chunked', 'content-type': 'application/json' },
      body: '{"sku":"c"}',
    });
    expect(chunked.status).toBe(200);
    expect(chunked.json()).toMatchObject({ input: { sku: 'c' }, timeoutHeader: null });
    await router.stop();
  } finally {
    routes.remove();
  }
});
