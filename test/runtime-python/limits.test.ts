/**
 * Deadlines, limits, slow and vanishing clients, the thread pool, start-up errors and the SIGTERM
 * drain of the Python runtime, as real processes over real sockets.
 */
import { request } from '../runtime/process';
import { RawClient } from '../router/raw-client';
import { PythonRuntimeProcess, stopAllPython } from './process';

const HANDLER = String.raw`
import asyncio, signal, threading, time
gate = threading.Event()
signal.signal(signal.SIGUSR2, lambda *_: gate.set())

def main(event, context):
    p = event.path
    if p == "/sleep":
        # Cooperative: a sync handler sees the deadline through context.cancelled.
        context.cancelled.wait(10)
        context.log.info("sync handler saw cancellation", cancelled=context.cancelled.is_set())
        return "too late"
    if p == "/block":
        context.log.info("blocked")
        gate.wait(30)
        return "finished after SIGTERM"
    if p == "/busy":
        time.sleep(0.3)
        return "busy done"
    return "ok " + str(len(event.body))

async def amain(event, context):
    if event.path == "/sleep":
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            context.log.info("async handler cancelled")
            raise
    return "ok " + str(len(event.body))
`;

afterEach(stopAllPython);

function refused(port: number): Promise<string> {
  return request(port, '/').then(
    (res) => `answered ${res.status}`,
    (err: NodeJS.ErrnoException) => err.code ?? String(err),
  );
}

describe('deadlines', () => {
  it('a sync handler past the timeout → 504; context.cancelled is set', async () => {
    const rt = await PythonRuntimeProcess.start(HANDLER, { KUBEFAAS_TIMEOUT_MS: '300' });
    const started = Date.now();
    const res = await rt.request('/sleep', { headers: { 'x-request-id': 't-1' } });
    expect(Date.now() - started).toBeLessThan(5000);
    expect([res.status, res.json()]).toEqual([504, { error: 'function timed out after 300 ms', requestId: 't-1' }]);
    expect(await rt.waitForLog((l) => l.msg === 'sync handler saw cancellation')).toMatchObject({
      cancelled: true,
      requestId: 't-1',
    });
    expect(await rt.requestLog('t-1')).toMatchObject({ status: 504 });
    expect((await rt.request('/metrics')).text).toMatch(
      /kubefaas_function_invocations_total\{function="test-fn",trigger="http",outcome="timeout"\} 1/,
    );
    // The connection pool and the runtime carry on.
    expect((await rt.request('/fast')).text).toBe('ok 0');
  });

  it('an async handler past the timeout → 504 and the coroutine is cancelled', async () => {
    const rt = await PythonRuntimeProcess.start(HANDLER, { KUBEFAAS_TIMEOUT_MS: '300' }, { handler: 'handler.amain' });
    const res = await rt.request('/sleep', { headers: { 'x-request-id': 'a-1' } });
    expect(res.status).toBe(504);
    await rt.waitForLog((l) => l.msg === 'async handler cancelled' && l.requestId === 'a-1');
    expect((await rt.request('/x')).text).toBe('ok 0');
  });

  it('a slow client that never finishes its body → 504 and the connection is closed', async () => {
    const rt = await PythonRuntimeProcess.start(HANDLER, { KUBEFAAS_TIMEOUT_MS: '400' });
    const client = await RawClient.open(rt.port);
    try {
      client.send('POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\nx-request-id: slow-1\r\n\r\nonly part');
      const res = await client.read();
      expect(res.status).toBe(504);
      expect(res.headers.connection).toBe('close');
      expect(await client.closedWithin(5000)).toBe(true);
    } finally {
      client.close();
    }
    expect(await rt.requestLog('slow-1')).toMatchObject({ status: 504 });
  });

  it('a client that goes away mid-body is logged as 499 and is not an invocation', async () => {
    const rt = await PythonRuntimeProcess.start(HANDLER);
    const client = await RawClient.open(rt.port);
    client.send('POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\nx-request-id: gone-1\r\n\r\npart');
    await new Promise((r) => setTimeout(r, 50));
    client.close();
    expect(await rt.requestLog('gone-1')).toMatchObject({ status: 499 });
    const metrics = (await rt.request('/metrics')).text;
    expect(metrics).toMatch(/kubefaas_function_in_flight\{function="test-fn"\} 0/);
    expect(metrics).toMatch(/outcome="success"\} 0/);
  });
});

describe('limits', () => {
  it('413 for a declared body over the limit, without reading it; the response arrives intact', async () => {
    const rt = await PythonRuntimeProcess.start(HANDLER, { KUBEFAAS_MAX_BODY_BYTES: '1000' });
    const ok = await rt.request('/x', { method: 'POST', body: 'a'.repeat(1000) });
    expect([ok.status, ok.text]).toEqual([200, 'ok 1000']);
    // A large upload the runtime does not read: the 413 must still reach the client (no reset).
    const res = await rt
      .request('/x', { method: 'POST', body: Buffer.alloc(4 * 1024 * 1024, 97), headers: { 'x-request-id': 'big-1' } })
      .catch((e: Error) => e);
    expect(res).not.toBeInstanceOf(Error);
    const big = res as Awaited<ReturnType<typeof rt.request>>;
    expect([big.status, big.json()]).toEqual([413, { error: 'request body exceeds 1000 bytes', requestId: 'big-1' }]);
    expect(big.headers.connection).toBe('close');
  });

  it('413 for a chunked body that grows over the limit', async () => {
    const rt = await PythonRuntimeProcess.start(HANDLER, { KUBEFAAS_MAX_BODY_BYTES: '10' });
    const client = await RawClient.open(rt.port);
    try {
      client.send(
        'POST /x HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n',
      );
      const res = await client.read();
      expect(res.status).toBe(413);
      expect(await client.closedWithin(5000)).toBe(true);
    } finally {
      client.close();
    }
    expect((await rt.request('/metrics')).text).toMatch(/outcome="rejected"\} 1/);
  });

  it('429 above maxConcurrency, with retry-after', async () => {
    const rt = await PythonRuntimeProcess.start(HANDLER, { KUBEFAAS_MAX_CONCURRENCY: '1' });
    const first = rt.request('/block');
    await rt.waitForLog((l) => l.msg === 'blocked');
    const second = await rt.request('/x');
    expect([second.status, second.headers['retry-after'], second.json().error]).toEqual([
      429,
      '1',
      'too many concurrent requests (limit 1)',
    ]);
    rt.child.kill('SIGUSR2');
    expect((await first).status).toBe(200);
  });

  it('sync handlers run in the bounded thread pool: the loop keeps answering, extra calls wait', async () => {
    const rt = await PythonRuntimeProcess.start(HANDLER, { KUBEFAAS_PYTHON_THREADS: '2' });
    const started = Date.now();
    const calls = [1, 2, 3, 4].map(() => rt.request('/busy'));
    // Health answers at once although both threads sleep.
    const health = await rt.request('/healthz');
    expect(health.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(250);
    const results = await Promise.all(calls);
    expect(results.map((r) => r.text)).toEqual(['busy done', 'busy done', 'busy done', 'busy done']);
    // 4 calls of 0.3 s on 2 threads take two rounds.
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  });
});

describe('start-up errors', () => {
  it.each([
    [{ 'handler.py': 'def other(e, c):\n    pass\n' }, {}, /handler module 'handler' has no function 'main'/],
    [{ 'handler.py': 'import nonexistent_module_xyz\n' }, {}, /failed to import: ModuleNotFoundError/],
    [{ 'handler.py': 'def main(e, c)\n' }, {}, /failed to import: SyntaxError/],
    [
      { 'handler.py': 'def main(e, c):\n    pass\n' },
      { KUBEFAAS_TIMEOUT_MS: 'soon' },
      /KUBEFAAS_TIMEOUT_MS="soon" is not an integer >= 1/,
    ],
    [{ 'handler.py': 'def main(e, c):\n    pass\n' }, { KUBEFAAS_HANDLER: 'main' }, /must be module\.function/],
  ])('exits 1 with one fatal JSON line on stderr (%#)', async (files, env, message) => {
    const rt = await PythonRuntimeProcess.start(files, env as Record<string, string>, { waitForListening: false });
    expect((await rt.exited).code).toBe(1);
    const line = JSON.parse(rt.stderr.trim());
    expect(line.level).toBe('fatal');
    expect(line.msg).toMatch(message);
  });
});

describe('SIGTERM', () => {
  it('refuses new connections, reports not ready, finishes the call in flight with connection: close, exits 0', async () => {
    const rt = await PythonRuntimeProcess.start(HANDLER);
    const idle = await RawClient.open(rt.port);
    idle.send('GET /x HTTP/1.1\r\nhost: x\r\n\r\n');
    expect((await idle.read()).status).toBe(200);

    const inFlight = rt.request('/block', { headers: { 'x-request-id': 'in-flight' } });
    await rt.waitForLog((l) => l.msg === 'blocked' && l.requestId === 'in-flight');
    rt.child.kill('SIGTERM');
    await rt.waitForLog((l) => l.msg === 'shutting down');
    expect(await refused(rt.port)).toBe('ECONNREFUSED');
    // The idle keep-alive connection is closed, not left to time out.
    expect(await idle.closedWithin(5000)).toBe(true);
    expect(rt.child.exitCode).toBeNull();

    rt.child.kill('SIGUSR2');
    const res = await inFlight;
    expect([res.status, res.text, res.headers.connection]).toEqual([200, 'finished after SIGTERM', 'close']);
    expect(await rt.exited).toEqual({ code: 0, signal: null });
    expect(rt.logs.some((l) => l.msg === 'shut down')).toBe(true);
  });

  it('with work still running past the grace period: exits 1 and says so', async () => {
    const rt = await PythonRuntimeProcess.start(HANDLER, { KUBEFAAS_SHUTDOWN_GRACE_MS: '300' });
    const inFlight = rt.request('/block').catch((err: Error) => err);
    await rt.waitForLog((l) => l.msg === 'blocked');
    rt.child.kill('SIGTERM');
    expect((await rt.exited).code).toBe(1);
    expect(rt.logs.some((l) => l.level === 'warn' && /grace period/.test(l.msg))).toBe(true);
    await inFlight;
  });
});
