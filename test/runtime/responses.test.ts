import { RuntimeProcess, stopAll } from './process';

// One handler that answers differently per path, so one process covers every mapping.
const HANDLER = `
async function asyncHandler(event, context) {
  switch (event.path) {
    case '/string': return 'héllo';
    case '/buffer': return Buffer.from([1, 2, 3]);
    case '/uint8': return new Uint8Array([4, 5]);
    case '/object': return { ok: true, n: 1 };
    case '/array': return [1, 'two'];
    case '/undefined': return undefined;
    case '/null': return null;
    case '/response':
      return new Response('created!', { status: 201, headers: { 'x-custom': 'yes', 'content-type': 'text/x-test' } });
    case '/throw': throw new Error('secret internal detail');
    case '/throw-404': { const e = new Error('no such thing'); e.status = 404; throw e; }
    case '/json': return { got: event.json() };
    case '/echo':
      return {
        id: event.id, source: event.source, type: event.type, time: event.time,
        method: event.method, path: event.path, query: event.query, params: event.params,
        text: event.text(), bodyIsBuffer: Buffer.isBuffer(event.body),
        functionName: context.functionName, requestId: context.requestId,
        deadlineInFuture: context.deadline > Date.now(),
      };
    case '/log':
      context.log.info('hello from handler', { answer: 42 });
      return 'logged';
    case '/publish':
      try { await context.publish('topic-a', { x: 1 }); return 'published'; }
      catch (err) { return { publishError: err.message }; }
    default: return 'async path is ' + event.path;
  }
}
module.exports = function handler(event, context) {
  // Returning a non-promise takes the runtime's synchronous fast path.
  if (event.path.startsWith('/sync/')) return 'sync path is ' + event.path;
  return asyncHandler(event, context);
};
`;

let runtime: RuntimeProcess;

beforeAll(async () => {
  runtime = await RuntimeProcess.start(HANDLER, { KUBEFAAS_FUNCTION_NAME: 'mapper' });
});
afterAll(stopAll);

describe('return value mapping', () => {
  test('string → 200 text/plain utf-8', async () => {
    const res = await runtime.request('/string');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.text).toBe('héllo');
  });

  test('Buffer and Uint8Array → 200 application/octet-stream', async () => {
    const buffer = await runtime.request('/buffer');
    expect(buffer.status).toBe(200);
    expect(buffer.headers['content-type']).toBe('application/octet-stream');
    expect([...buffer.body]).toEqual([1, 2, 3]);
    const bytes = await runtime.request('/uint8');
    expect(bytes.headers['content-type']).toBe('application/octet-stream');
    expect([...bytes.body]).toEqual([4, 5]);
  });

  test('object and array → 200 JSON', async () => {
    const obj = await runtime.request('/object');
    expect(obj.status).toBe(200);
    expect(obj.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(obj.json()).toEqual({ ok: true, n: 1 });
    expect((await runtime.request('/array')).json()).toEqual([1, 'two']);
  });

  test('undefined and null → 204 without body', async () => {
    for (const path of ['/undefined', '/null']) {
      const res = await runtime.request(path);
      expect(res.status).toBe(204);
      expect(res.body.length).toBe(0);
    }
  });

  test('a Fetch Response keeps its status, headers and body', async () => {
    const res = await runtime.request('/response');
    expect(res.status).toBe(201);
    expect(res.headers['x-custom']).toBe('yes');
    expect(res.headers['content-type']).toBe('text/x-test');
    expect(res.text).toBe('created!');
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  test('a thrown error → 500 JSON with request id, no stack or message; the stack goes to the log', async () => {
    const res = await runtime.request('/throw', { headers: { 'x-request-id': 'req-throw-1' } });
    expect(res.status).toBe(500);
    const body = res.json();
    expect(body.requestId).toBe('req-throw-1');
    expect(typeof body.error).toBe('string');
    expect(res.text).not.toContain('secret internal detail');
    expect(res.text).not.toMatch(/\bat .*:\d+/); // no stack frames
    const logged = await runtime.waitForLog((l) => l.level === 'error' && l.requestId === 'req-throw-1');
    const error = logged.error as { message: string; stack: string };
    expect(error.message).toBe('secret internal detail');
    expect(error.stack).toContain('secret internal detail');
  });

  test('an error with a 4xx status maps to that status with its message', async () => {
    const res = await runtime.request('/throw-404');
    expect(res.status).toBe(404);
    expect(res.json().error).toBe('no such thing');
  });

  test('event.json() on invalid JSON → 400', async () => {
    const res = await runtime.request('/json', {
      method: 'POST',
      body: '{not json',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.json().error).toMatch(/not valid JSON/);
    const ok = await runtime.request('/json', { method: 'POST', body: '{"a":[1]}' });
    expect(ok.json()).toEqual({ got: { a: [1] } });
  });

  test('a synchronous handler result is served too', async () => {
    const res = await runtime.request('/sync/else');
    expect(res.status).toBe(200);
    expect(res.text).toBe('sync path is /sync/else');
  });
});

describe('event and context', () => {
  test('event carries CloudEvents attributes, request fields, params from the router header and the body', async () => {
    const params = encodeURIComponent(JSON.stringify({ id: '42', name: 'a b' }));
    const res = await runtime.request('/echo?x=1&x=2&y=z', {
      method: 'PUT',
      body: 'payload',
      headers: { 'x-kubefaas-params': params, 'x-request-id': 'req-echo' },
    });
    const echo = res.json();
    expect(echo).toMatchObject({
      id: 'req-echo',
      source: '/kubefaas/http/mapper',
      type: 'dev.kubefaas.http.request',
      method: 'PUT',
      path: '/echo',
      query: { x: ['1', '2'], y: 'z' },
      params: { id: '42', name: 'a b' },
      text: 'payload',
      bodyIsBuffer: true,
      functionName: 'mapper',
      requestId: 'req-echo',
      deadlineInFuture: true,
    });
    expect(new Date(echo.time).toISOString()).toBe(echo.time);
  });

  test('malformed params header yields empty params instead of failing', async () => {
    const res = await runtime.request('/echo', { headers: { 'x-kubefaas-params': '%7Bbroken' } });
    expect(res.status).toBe(200);
    expect(res.json().params).toEqual({});
  });

  test('request id: echoed when given, generated (and unique) when not', async () => {
    const given = await runtime.request('/string', { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');
    const a = await runtime.request('/string');
    const b = await runtime.request('/string');
    expect(a.headers['x-request-id']).toBeTruthy();
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  test('handler logs and the request log are JSON lines carrying the request id and trace id', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await runtime.request('/log', {
      headers: { 'x-request-id': 'req-log-1', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    const handlerLine = await runtime.waitForLog((l) => l.msg === 'hello from handler');
    expect(handlerLine).toMatchObject({
      level: 'info',
      function: 'mapper',
      requestId: 'req-log-1',
      traceId,
      answer: 42,
    });
    const requestLine = await runtime.waitForLog((l) => l.msg === 'request' && l.requestId === 'req-log-1');
    expect(requestLine).toMatchObject({
      level: 'info',
      function: 'mapper',
      method: 'GET',
      path: '/log',
      status: 200,
      traceId,
    });
    expect(typeof requestLine.durationMs).toBe('number');
    expect(typeof requestLine.time).toBe('string');
  });

  test('context.publish() rejects clearly while the platform has no queue', async () => {
    const res = await runtime.request('/publish');
    expect(res.json().publishError).toMatch(/no queue configured for this platform/);
  });
});
