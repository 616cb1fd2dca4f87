/**
 * The Python runtime's contract over real sockets, for a sync (`def`, thread pool) and an async
 * (`async def`, event loop) handler: return rules, errors, events, request ids, logs, metrics.
 */
import { MetricNames } from '../../src/contract';
import { RawClient } from '../router/raw-client';
import { PythonRuntimeProcess, stopAllPython } from './process';

const HANDLER = String.raw`
import asyncio, json
from kubefaas import Response, HttpError

def respond(event, context):
    p = event.path
    if p == "/text": return "héllo"
    if p == "/bytes": return b"\x00\x01\xff"
    if p == "/dict": return {"a": 1, "ü": [1, 2]}
    if p == "/list": return [1, "two", None]
    if p == "/number": return 42
    if p == "/none": return None
    if p == "/response": return Response("created", status=201, headers={"x-custom": "yes", "set-cookie": ["a=1", "b=2"]})
    if p == "/response-json": return Response({"ok": True}, status=202)
    if p == "/response-own-id": return Response("x", headers={"x-request-id": "mine"})
    if p == "/bad-header": return Response("x", headers={"x-bad": "a\r\nb: c"})
    if p == "/unserializable": return {"s": {1, 2}}
    if p == "/boom": raise RuntimeError("db password is hunter2")
    if p == "/http-error": raise HttpError(409, "already exists")
    if p == "/status-attr":
        e = ValueError("teapot"); e.status_code = 418; raise e
    if p == "/json": return {"got": event.json()}
    if p == "/echo":
        return {
            "method": event.method, "path": event.path, "query": event.query, "params": event.params,
            "headers": {k: v for k, v in event.headers.items() if k.startswith("x-")},
            "text": event.text(), "id": event.id, "type": event.type, "source": event.source,
            "time": event.time, "requestId": context.request_id, "function": context.function_name,
            "remaining": context.remaining() > 0, "traceId": context.trace_id,
        }
    if p == "/auth": return {"auth": event.auth}
    if p == "/log":
        context.log.info("resizing", extra={"size": len(event.body)}, kind="test")
        context.log.warn("careful")
        try:
            raise KeyError("k")
        except KeyError:
            context.log.exception("caught")
        return "logged"
    if p == "/publish":
        context.publish("t", {})
    return "fallback"

def main(event, context):
    return respond(event, context)

async def amain(event, context):
    await asyncio.sleep(0)
    return respond(event, context)
`;

afterAll(stopAllPython);

describe.each([
  ['sync', 'handler.main'],
  ['async', 'handler.amain'],
])('Python runtime, %s handler', (_kind, handler) => {
  let rt: PythonRuntimeProcess;
  beforeAll(async () => {
    rt = await PythonRuntimeProcess.start(HANDLER, {}, { handler });
  });
  afterAll(() => rt.stop());

  it('str → 200 text, bytes → 200 octet-stream, dict/list/number → 200 JSON, None → 204', async () => {
    const text = await rt.request('/text');
    expect([text.status, text.headers['content-type'], text.text]).toEqual([200, 'text/plain; charset=utf-8', 'héllo']);
    const bytes = await rt.request('/bytes');
    expect([bytes.status, bytes.headers['content-type'], [...bytes.body]]).toEqual([
      200,
      'application/octet-stream',
      [0, 1, 255],
    ]);
    const dict = await rt.request('/dict');
    expect([dict.status, dict.headers['content-type'], dict.text]).toEqual([
      200,
      'application/json; charset=utf-8',
      '{"a":1,"ü":[1,2]}',
    ]);
    expect((await rt.request('/list')).json()).toEqual([1, 'two', null]);
    expect((await rt.request('/number')).text).toBe('42');
    const none = await rt.request('/none');
    expect([none.status, none.text, none.headers['content-length']]).toEqual([204, '', undefined]);
    expect(none.headers['x-request-id']).toBeTruthy();
  });

  it('Response(...) is sent as is, with the request id unless it sets its own', async () => {
    const res = await rt.request('/response');
    expect([res.status, res.text, res.headers['x-custom'], res.headers['content-type']]).toEqual([
      201,
      'created',
      'yes',
      'text/plain; charset=utf-8',
    ]);
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers['x-request-id']).toBeTruthy();
    const json = await rt.request('/response-json');
    expect([json.status, json.json()]).toEqual([202, { ok: true }]);
    expect((await rt.request('/response-own-id')).headers['x-request-id']).toBe('mine');
  });

  it('an exception → 500 JSON with the request id and no details; the stack goes to the log', async () => {
    const res = await rt.request('/boom', { headers: { 'x-request-id': 'boom-1' } });
    expect(res.status).toBe(500);
    expect(res.json()).toEqual({
      error: 'internal error: the function failed; see its logs for this request id',
      requestId: 'boom-1',
    });
    expect(res.text).not.toMatch(/hunter2|Traceback/);
    const line = await rt.waitForLog((l) => l.msg === 'handler failed' && l.requestId === 'boom-1');
    expect(line).toMatchObject({
      level: 'error',
      function: 'test-fn',
      error: { name: 'RuntimeError', message: 'db password is hunter2' },
    });
    expect((line.error as { stack: string }).stack).toMatch(/Traceback[\s\S]*handler\.py/);
    expect(await rt.requestLog('boom-1')).toMatchObject({ status: 500 });
  });

  it('unserializable results and invalid response headers → 500, never a broken response', async () => {
    expect((await rt.request('/unserializable')).status).toBe(500);
    const bad = await rt.request('/bad-header');
    expect(bad.status).toBe(500);
    expect(bad.headers.b).toBeUndefined();
  });

  it('HttpError and exceptions with a 4xx status/status_code answer with that status and message', async () => {
    const conflict = await rt.request('/http-error', { headers: { 'x-request-id': 'c-1' } });
    expect([conflict.status, conflict.json()]).toEqual([409, { error: 'already exists', requestId: 'c-1' }]);
    expect((await rt.request('/status-attr')).status).toBe(418);
    const notJson = await rt.request('/json', { method: 'POST', body: '{nope' });
    expect([notJson.status, notJson.json().error]).toEqual([400, 'request body is not valid JSON']);
    expect((await rt.request('/json', { method: 'POST', body: '{"a":[1]}' })).json()).toEqual({ got: { a: [1] } });
  });

  it("event.auth is the router's verified caller (x-kubefaas-auth), None without one or when unreadable", async () => {
    const jwt = { type: 'jwt', subject: 'u-1', claims: { sub: 'u-1', scope: 'orders' } };
    const header = Buffer.from(JSON.stringify(jwt), 'utf8').toString('base64url');
    expect((await rt.request('/auth', { headers: { 'x-kubefaas-auth': header } })).json()).toEqual({ auth: jwt });
    expect((await rt.request('/auth')).json()).toEqual({ auth: null });
    expect((await rt.request('/auth', { headers: { 'x-kubefaas-auth': '%%%not-base64' } })).json()).toEqual({
      auth: null,
    });
  });

  it('builds the event: method, path, query, params, headers, body and CloudEvents fields', async () => {
    const res = await rt.request('/echo?a=1&a=2&b=&c=x%20y', {
      method: 'PUT',
      body: 'payload',
      headers: {
        'x-kubefaas-params': encodeURIComponent(JSON.stringify({ id: '42', n: 1 })),
        'X-Two': 'b',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        'ce-type': 'com.example.thing',
      },
    });
    const body = res.json();
    expect(body).toMatchObject({
      method: 'PUT',
      path: '/echo',
      query: { a: ['1', '2'], b: '', c: 'x y' },
      params: { id: '42' },
      text: 'payload',
      type: 'com.example.thing',
      source: '/kubefaas/http/test-fn',
      function: 'test-fn',
      remaining: true,
      traceId: '0af7651916cd43dd8448eb211c80319c',
    });
    expect(body.headers['x-two']).toBe('b');
    expect(body.id).toBe(body.requestId);
    expect(body.requestId).toBe(res.headers['x-request-id']);
    expect(new Date(body.time).toISOString()).toBe(body.time);
    const line = await rt.requestLog(body.requestId);
    expect(line).toMatchObject({
      level: 'info',
      function: 'test-fn',
      method: 'PUT',
      path: '/echo',
      status: 200,
      traceId: '0af7651916cd43dd8448eb211c80319c',
    });
    expect(typeof line.durationMs).toBe('number');
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
  });

  it('keeps a sensible incoming x-request-id and replaces an overlong one', async () => {
    expect((await rt.request('/text', { headers: { 'x-request-id': 'abc-123' } })).headers['x-request-id']).toBe(
      'abc-123',
    );
    const long = 'x'.repeat(201);
    const generated = (await rt.request('/text', { headers: { 'x-request-id': long } })).headers['x-request-id'];
    expect(generated).not.toBe(long);
    expect(generated).toMatch(/^[0-9a-z]+-[0-9a-z]+$/);
  });

  it('context.log writes one-line JSON with the request id and the fields given', async () => {
    const res = await rt.request('/log', { method: 'POST', body: 'abcd', headers: { 'x-request-id': 'log-1' } });
    expect(res.text).toBe('logged');
    expect(await rt.waitForLog((l) => l.msg === 'resizing')).toMatchObject({
      level: 'info',
      function: 'test-fn',
      requestId: 'log-1',
      size: 4,
      kind: 'test',
    });
    expect(await rt.waitForLog((l) => l.msg === 'careful')).toMatchObject({ level: 'warn', requestId: 'log-1' });
    expect(await rt.waitForLog((l) => l.msg === 'caught')).toMatchObject({
      level: 'error',
      error: { name: 'KeyError' },
    });
  });

  it('context.publish fails loudly (no queue support yet) → 500', async () => {
    const res = await rt.request('/publish', { headers: { 'x-request-id': 'pub-1' } });
    expect(res.status).toBe(500);
    const line = await rt.waitForLog((l) => l.msg === 'handler failed' && l.requestId === 'pub-1');
    expect((line.error as { message: string }).message).toMatch(/not supported by the Python runtime yet/);
  });

  it('serves /healthz, /readyz and /metrics with the Node runtime metric names and labels', async () => {
    expect((await rt.request('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await rt.request('/readyz')).json()).toEqual({ status: 'ready' });
    await rt.request('/text');
    const metrics = await rt.request('/metrics');
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = metrics.text;
    expect(text).toMatch(new RegExp(`^# TYPE ${MetricNames.functionInvocations} counter$`, 'm'));
    expect(text).toMatch(
      new RegExp(
        `^${MetricNames.functionInvocations}\\{function="test-fn",trigger="http",outcome="success"\\} [1-9]\\d*$`,
        'm',
      ),
    );
    expect(text).toMatch(
      new RegExp(
        `^${MetricNames.functionInvocations}\\{function="test-fn",trigger="http",outcome="error"\\} [1-9]\\d*$`,
        'm',
      ),
    );
    expect(text).toMatch(new RegExp(`^${MetricNames.functionInFlight}\\{function="test-fn"\\} 0$`, 'm'));
    expect(text).toMatch(new RegExp(`^${MetricNames.functionColdStarts}\\{function="test-fn"\\} 1$`, 'm'));
    expect(text).toMatch(
      new RegExp(
        `^${MetricNames.functionDuration}_bucket\\{le="\\+Inf",function="test-fn",trigger="http"\\} [1-9]\\d*$`,
        'm',
      ),
    );
    expect(text).toMatch(
      new RegExp(
        `^${MetricNames.functionDuration}_bucket\\{le="0.0005",function="test-fn",trigger="http"\\} \\d+$`,
        'm',
      ),
    );
    expect(text).toMatch(
      new RegExp(`^${MetricNames.functionDuration}_count\\{function="test-fn",trigger="http"\\} [1-9]\\d*$`, 'm'),
    );
    // The endpoints are not invocations and log no request line.
    expect(rt.logs.some((l) => l.msg === 'request' && String(l.path).startsWith('/healthz'))).toBe(false);
  });

  it('keeps connections alive, answers pipelined requests in order, HEAD without a body, and 100-continue', async () => {
    const client = await RawClient.open(rt.port);
    try {
      client.send('GET /text HTTP/1.1\r\nhost: x\r\n\r\nGET /number HTTP/1.1\r\nhost: x\r\n\r\n');
      // The raw client reads latin-1.
      expect(Buffer.from((await client.read()).body, 'latin1').toString('utf8')).toBe('héllo');
      expect((await client.read()).body).toBe('42');
      client.send('HEAD /text HTTP/1.1\r\nhost: x\r\n\r\n');
      const head = await client.read({ head: true });
      expect([head.status, head.headers['content-length'], head.body]).toEqual([
        200,
        String(Buffer.byteLength('héllo')),
        '',
      ]);
      client.send('POST /json HTTP/1.1\r\nhost: x\r\ncontent-length: 7\r\nexpect: 100-continue\r\n\r\n');
      const cont = await client.read({ head: true });
      expect(cont.status).toBe(100);
      client.send('{"a":1}');
      expect((await client.read()).body).toBe('{"got":{"a":1}}');
      client.send(
        'POST /json HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{"b\r\n4;ext=1\r\n":2}\r\n0\r\n\r\n',
      );
      expect((await client.read()).body).toBe('{"got":{"b":2}}');
      expect(client.closed).toBe(false);
      client.send('GET /text HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
      const last = await client.read();
      expect(last.headers.connection).toBe('close');
      expect(await client.closedWithin(5000)).toBe(true);
    } finally {
      client.close();
    }
  });

  it('HTTP/1.0 closes unless keep-alive is asked for', async () => {
    const client = await RawClient.open(rt.port);
    try {
      client.send('GET /text HTTP/1.0\r\nconnection: keep-alive\r\n\r\n');
      const kept = await client.read();
      expect([kept.status, kept.headers.connection]).toEqual([200, 'keep-alive']);
      client.send('GET /text HTTP/1.0\r\n\r\n');
      expect((await client.read()).status).toBe(200);
      expect(await client.closedWithin(5000)).toBe(true);
    } finally {
      client.close();
    }
  });
});
