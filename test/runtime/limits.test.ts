import * as http from 'node:http';
import * as net from 'node:net';
import { MetricNames } from '../../src/contract';
import { RuntimeProcess, stopAll } from './process';

// `/block` waits until the test sends SIGUSR2 (no timing involved); `/hang` never finishes and
// reports its signal's abort through the logger.
const HANDLER = `
let release;
let gate = new Promise((r) => (release = r));
process.on('SIGUSR2', () => { release(); gate = new Promise((r) => (release = r)); });
module.exports = async function handler(event, context) {
  if (event.path === '/block') { context.log.info('blocked'); await gate; return 'released'; }
  if (event.path === '/hang') {
    context.signal.addEventListener('abort', () =>
      context.log.info('aborted', { reason: String(context.signal.reason && context.signal.reason.message) }));
    context.log.info('hanging');
    return new Promise(() => {});
  }
  if (event.path === '/fail') throw new Error('fail');
  return 'ok ' + event.body.length;
};
`;

afterEach(stopAll);

/** Parses Prometheus text into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

test('timeout → 504 JSON, the signal is aborted, the metrics count a timeout', async () => {
  const runtime = await RuntimeProcess.start(HANDLER, { KUBEFAAS_TIMEOUT_MS: '200' });
  const res = await runtime.request('/hang', { headers: { 'x-request-id': 'req-hang' } });
  expect(res.status).toBe(504);
  expect(res.json()).toEqual({ error: expect.stringMatching(/timed out after 200 ms/), requestId: 'req-hang' });
  const aborted = await runtime.waitForLog((l) => l.msg === 'aborted' && l.requestId === 'req-hang');
  expect(aborted.reason).toMatch(/timed out/);
  const metrics = parseMetrics((await runtime.request('/metrics')).text);
  expect(metrics.get(`${MetricNames.functionInvocations}{function="test-fn",trigger="http",outcome="timeout"}`)).toBe(
    1,
  );
});

test('a handler that blocks the event loop past its timeout → 504, never its late result (async or not)', async () => {
  // The busy loop outlasts the timeout; its result settles in the turn it unblocks, before the
  // deadline timer can fire: only a check of the deadline at the result turns it into the 504.
  const runtime = await RuntimeProcess.start(
    `module.exports = (event) => {
      const end = Date.now() + 400;
      while (Date.now() < end) {}
      if (event.path === '/throw') throw new Error('late failure');
      return event.path === '/sync' ? 'late' : Promise.resolve('late');
    };`,
    { KUBEFAAS_TIMEOUT_MS: '100' },
  );
  for (const path of ['/async', '/sync', '/throw']) {
    const res = await runtime.request(path);
    expect({ path, status: res.status, body: res.json() }).toEqual({
      path,
      status: 504,
      body: { error: 'function timed out after 100 ms', requestId: expect.any(String) },
    });
  }
  const metrics = parseMetrics((await runtime.request('/metrics')).text);
  expect(metrics.get(`${MetricNames.functionInvocations}{function="test-fn",trigger="http",outcome="timeout"}`)).toBe(
    3,
  );
});

test('client disconnect aborts the signal', async () => {
  const runtime = await RuntimeProcess.start(HANDLER);
  const req = http.request({
    host: '127.0.0.1',
    port: runtime.port,
    path: '/hang',
    headers: { 'x-request-id': 'req-gone' },
    agent: false,
  });
  req.on('error', () => {}); // we destroy it ourselves
  req.end();
  await runtime.waitForLog((l) => l.msg === 'hanging' && l.requestId === 'req-gone');
  req.destroy();
  const aborted = await runtime.waitForLog((l) => l.msg === 'aborted' && l.requestId === 'req-gone');
  expect(aborted.reason).toMatch(/client disconnected/);
});

test('a declared body over the limit → 413 at once, without waiting for the rest of the body', async () => {
  const runtime = await RuntimeProcess.start(HANDLER, { KUBEFAAS_MAX_BODY_BYTES: '1024' });
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: runtime.port,
        path: '/upload',
        method: 'POST',
        agent: false,
        headers: { 'content-length': String(10 * 1024 * 1024) },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      },
    );
    req.on('error', reject);
    req.write(Buffer.alloc(100)); // far less than declared: only an early answer can arrive
  });
  expect(status).toBe(413);
});

test('a chunked body growing over the limit → 413; a body within the limit is served', async () => {
  const runtime = await RuntimeProcess.start(HANDLER, { KUBEFAAS_MAX_BODY_BYTES: '1024' });
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: runtime.port, path: '/upload', method: 'POST', agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      },
    );
    req.on('error', reject);
    req.write(Buffer.alloc(600));
    req.write(Buffer.alloc(600)); // chunked (no content-length), 1200 bytes > 1024, never ended
  });
  expect(status).toBe(413);
  const ok = await runtime.request('/upload', { method: 'POST', body: Buffer.alloc(1024) });
  expect(ok.status).toBe(200);
  expect(ok.text).toBe('ok 1024');
});

test('over max concurrency → 429 with Retry-After; in-flight work still completes', async () => {
  const runtime = await RuntimeProcess.start(HANDLER, { KUBEFAAS_MAX_CONCURRENCY: '2' });
  const first = runtime.request('/block', { headers: { 'x-request-id': 'b1' } });
  const second = runtime.request('/block', { headers: { 'x-request-id': 'b2' } });
  await runtime.waitForLog((l) => l.msg === 'blocked' && l.requestId === 'b1');
  await runtime.waitForLog((l) => l.msg === 'blocked' && l.requestId === 'b2');

  const rejected = await runtime.request('/other');
  expect(rejected.status).toBe(429);
  expect(rejected.headers['retry-after']).toBe('1');
  expect(rejected.json().error).toMatch(/too many concurrent requests/);
  const inFlight = parseMetrics((await runtime.request('/metrics')).text);
  expect(inFlight.get(`${MetricNames.functionInFlight}{function="test-fn"}`)).toBe(2);

  runtime.child.kill('SIGUSR2');
  expect((await first).text).toBe('released');
  expect((await second).text).toBe('released');
  expect((await runtime.request('/other')).status).toBe(200);
});

test('/healthz, /readyz and /metrics with correct counts after requests', async () => {
  const runtime = await RuntimeProcess.start(HANDLER, {
    KUBEFAAS_FUNCTION_NAME: 'counted',
    KUBEFAAS_MAX_BODY_BYTES: '10',
  });
  expect((await runtime.request('/healthz')).status).toBe(200);
  expect((await runtime.request('/readyz')).status).toBe(200);

  const before = parseMetrics((await runtime.request('/metrics')).text);
  expect(before.get(`${MetricNames.functionColdStarts}{function="counted"}`)).toBe(0);

  for (let i = 0; i < 3; i++) expect((await runtime.request('/ok')).status).toBe(200);
  expect((await runtime.request('/fail')).status).toBe(500);
  expect((await runtime.request('/ok', { method: 'POST', body: 'more than ten bytes' })).status).toBe(413);

  const res = await runtime.request('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain/);
  const m = parseMetrics(res.text);
  const inv = (outcome: string) =>
    m.get(`${MetricNames.functionInvocations}{function="counted",trigger="http",outcome="${outcome}"}`);
  expect([inv('success'), inv('error'), inv('timeout'), inv('rejected')]).toEqual([3, 1, 0, 1]);
  expect(m.get(`${MetricNames.functionDuration}_count{function="counted",trigger="http"}`)).toBe(4);
  expect(
    m.get(`${MetricNames.functionDuration}_bucket{le="+Inf",function="counted",trigger="http"}`) ??
      m.get(`${MetricNames.functionDuration}_bucket{function="counted",trigger="http",le="+Inf"}`),
  ).toBe(4);
  expect(m.get(`${MetricNames.functionInFlight}{function="counted"}`)).toBe(0);
  expect(m.get(`${MetricNames.functionColdStarts}{function="counted"}`)).toBe(1);
  // The default process metrics are deliberately not exported.
  expect(res.text).not.toContain('process_cpu');
});

test('the runtime does not hold a keep-alive connection open for health probes forever after SIGTERM', async () => {
  const runtime = await RuntimeProcess.start(HANDLER);
  // An idle keep-alive connection must not delay shutdown.
  const socket = net.connect(runtime.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
  await new Promise((resolve) => socket.once('data', resolve));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  runtime.child.kill('SIGTERM');
  await closed;
  expect((await runtime.exited).code).toBe(0);
});
