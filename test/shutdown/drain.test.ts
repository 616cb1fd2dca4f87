/**
 * Issue 13 item 2, with real processes: after SIGTERM the runtime and the router keep serving for
 * the drain delay (readiness 503, `Connection: close` on keep-alive connections), then close the
 * listener and wait for in-flight work up to the grace derived from the timeout, then exit 0.
 * Timings are the synthesized ones (constructs/shutdown.ts) scaled down: a 5 s function timeout,
 * a 3 s drain delay and a call of 4 s, longer than the drain.
 */
import * as http from 'node:http';
import { shutdownTiming } from '../../constructs/shutdown';
import { Env } from '../../src/contract';
import { ConfigMapDir, eventually, killAllRouters, startRouter } from '../router/harness';
import { RuntimeProcess, request, stopAll } from '../runtime/process';

const TIMEOUT_MS = 5000;
const CALL_MS = 4000;
const timing = shutdownTiming(TIMEOUT_MS, 3000);
const SHUTDOWN_ENV = {
  [Env.DRAIN_DELAY_MS]: String(timing.drainDelayMs),
  [Env.SHUTDOWN_GRACE_MS]: String(timing.graceMs),
};

const HANDLER = `
module.exports = async (event, context) => {
  if (event.path === '/slow') {
    context.log.info('slow call started');
    await new Promise((r) => setTimeout(r, ${CALL_MS}));
    return 'slow call finished';
  }
  return 'quick';
};
`;

jest.setTimeout(60_000);
afterEach(stopAll);
afterAll(killAllRouters);

/** One GET on `agent` (keep-alive) and whether the socket was reused. */
function keepAliveGet(
  agent: http.Agent,
  port: number,
  path: string,
): Promise<{ status: number; text: string; connection?: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text, connection: res.headers.connection, reused: req.reusedSocket }),
      );
    });
    req.on('error', reject);
  });
}

function refused(port: number): Promise<boolean> {
  return request(port, '/').then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED',
  );
}

/**
 * The checks shared by both processes: `port` serves the slow path at /slow and a quick one at
 * /quick, `readyPort` the readiness (the runtime's own port, the router's admin one).
 */
async function expectDrain(
  port: number,
  readyPort: number,
  kill: () => void,
  waitShuttingDown: () => Promise<unknown>,
  exited: Promise<number | null>,
): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const warm = await keepAliveGet(agent, port, '/quick');
    expect(warm).toMatchObject({ status: 200, text: 'quick', reused: false });
    expect(warm.connection).not.toBe('close');

    const before = request(port, '/slow');
    await new Promise((r) => setTimeout(r, 300)); // the call is under way (the runtime logs it)
    kill();
    await waitShuttingDown();
    const sigtermAt = Date.now();

    // Draining: not ready, but still serving new connections and keep-alive ones (which are told to close).
    expect((await request(readyPort, '/readyz')).status).toBe(503);
    const fresh = await request(port, '/quick');
    expect(fresh.status).toBe(200);
    expect(fresh.headers.connection).toBe('close');
    const reused = await keepAliveGet(agent, port, '/quick');
    expect(reused).toMatchObject({ status: 200, text: 'quick', reused: true, connection: 'close' });
    // A call accepted during the drain runs past the listener's close, inside the derived grace.
    const during = request(port, '/slow');
    expect(Date.now() - sigtermAt).toBeLessThan(timing.drainDelayMs); // the checks above really ran during the drain

    await eventually(() => refused(port), 100);
    expect(Date.now() - sigtermAt).toBeGreaterThanOrEqual(timing.drainDelayMs - 50);

    let exitedBeforeAnswers = false;
    void exited.then(() => (exitedBeforeAnswers = true));
    const [a, b] = await Promise.all([before, during]);
    expect(exitedBeforeAnswers).toBe(false);
    expect([a.status, a.text, b.status, b.text]).toEqual([200, 'slow call finished', 200, 'slow call finished']);
    expect(await exited).toBe(0);
  } finally {
    agent.destroy();
  }
}

test('runtime: SIGTERM drains (serves, 503 readiness), then finishes calls longer than the drain within the derived grace and exits 0', async () => {
  const runtime = await RuntimeProcess.start(HANDLER, { [Env.TIMEOUT_MS]: String(TIMEOUT_MS), ...SHUTDOWN_ENV });
  await expectDrain(
    runtime.port,
    runtime.port,
    () => runtime.child.kill('SIGTERM'),
    () => runtime.waitForLog((l) => l.msg === 'shutting down'),
    runtime.exited.then(({ code }) => code),
  );
  expect(runtime.logs.find((l) => l.msg === 'shutting down')).toMatchObject({
    drainDelayMs: 3000,
    graceMs: TIMEOUT_MS + 1000,
  });
});

test('router: SIGTERM drains the same way (both HTTP paths), proxied calls finish, exit 0', async () => {
  const upstream = await RuntimeProcess.start(HANDLER, { [Env.TIMEOUT_MS]: String(TIMEOUT_MS) });
  const routes = new ConfigMapDir({
    version: 1,
    functions: { fn: { url: `http://127.0.0.1:${upstream.port}`, timeoutMs: TIMEOUT_MS } },
    routes: [
      { function: 'fn', methods: ['GET'], path: '/slow' },
      { function: 'fn', methods: ['GET'], path: '/quick' },
    ],
  });
  try {
    const router = await startRouter(routes.file, SHUTDOWN_ENV);
    await expectDrain(
      router.port,
      router.adminPort,
      () => router.proc.kill('SIGTERM'),
      () => router.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'), 'shutdown line'),
      router.exited(),
    );
    expect(router.logs.at(-1)).toMatchObject({ msg: 'stopped' });
  } finally {
    routes.remove();
  }
});
