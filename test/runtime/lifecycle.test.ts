import type { AddressInfo } from 'node:net';
import { createRuntime } from '../../src/runtime/server';
import { request, RuntimeProcess, stopAll } from './process';

const BLOCKING_HANDLER = `
let release;
const gate = new Promise((r) => (release = r));
process.on('SIGUSR2', () => release());
module.exports = async (event, context) => {
  if (event.path === '/block') { context.log.info('blocked'); await gate; return 'finished after SIGTERM'; }
  return 'ok';
};
`;

afterEach(stopAll);

function connectionRefused(port: number): Promise<string> {
  return request(port, '/').then(
    (res) => `answered ${res.status}`,
    (err: NodeJS.ErrnoException) => err.code ?? String(err),
  );
}

test('SIGTERM: refuses new connections, finishes the in-flight request, then exits 0', async () => {
  const runtime = await RuntimeProcess.start(BLOCKING_HANDLER);
  const inFlight = runtime.request('/block', { headers: { 'x-request-id': 'in-flight' } });
  await runtime.waitForLog((l) => l.msg === 'blocked' && l.requestId === 'in-flight');

  runtime.child.kill('SIGTERM');
  await runtime.waitForLog((l) => l.msg === 'shutting down');
  expect(await connectionRefused(runtime.port)).toBe('ECONNREFUSED');
  expect(runtime.child.exitCode).toBeNull(); // still waiting for the in-flight request

  runtime.child.kill('SIGUSR2');
  const res = await inFlight;
  expect(res.status).toBe(200);
  expect(res.text).toBe('finished after SIGTERM');
  expect(res.headers.connection).toBe('close');
  expect(await runtime.exited).toEqual({ code: 0, signal: null });
  expect(runtime.logs.some((l) => l.msg === 'shut down')).toBe(true);
});

test('SIGTERM with work still running past the grace period: exits 1 and says so', async () => {
  const runtime = await RuntimeProcess.start(BLOCKING_HANDLER, { KUBEFAAS_SHUTDOWN_GRACE_MS: '300' });
  const inFlight = runtime.request('/block').catch((err: Error) => err);
  await runtime.waitForLog((l) => l.msg === 'blocked');
  runtime.child.kill('SIGTERM');
  expect((await runtime.exited).code).toBe(1);
  expect(runtime.logs.some((l) => l.level === 'warn' && /grace period/.test(l.msg))).toBe(true);
  await inFlight;
});

describe('handler loading', () => {
  test.each([
    [
      'export default (esbuild CJS shape)',
      'Object.defineProperty(exports, "__esModule", { value: true }); exports.default = () => "default export";',
      'default export',
    ],
    ['module.exports = fn', 'module.exports = () => "module.exports";', 'module.exports'],
    ['named handler export', 'exports.handler = async () => "named";', 'named'],
  ])('%s', async (_name, source, expected) => {
    const runtime = await RuntimeProcess.start(source);
    expect((await runtime.request('/')).text).toBe(expected);
  });

  test('missing handler file → exit 1 with one JSON line naming the file', async () => {
    const runtime = await RuntimeProcess.start(
      '',
      { KUBEFAAS_HANDLER: '/nonexistent/kubefaas/index.js' },
      { waitForListening: false },
    );
    expect((await runtime.exited).code).toBe(1);
    const lines = runtime.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const fatal = JSON.parse(lines[0]);
    expect(fatal.level).toBe('fatal');
    expect(fatal.msg).toContain('/nonexistent/kubefaas/index.js does not exist');
  });

  test('a module that exports no function → exit 1 with a clear message', async () => {
    const runtime = await RuntimeProcess.start(
      'module.exports = { notAFunction: 1 };',
      {},
      { waitForListening: false },
    );
    expect((await runtime.exited).code).toBe(1);
    expect(JSON.parse(runtime.stderr.trim()).msg).toMatch(/exports no function/);
  });

  test('a module that throws while loading → exit 1 with its message', async () => {
    const runtime = await RuntimeProcess.start(
      'throw new Error("bad top-level code");',
      {},
      { waitForListening: false },
    );
    expect((await runtime.exited).code).toBe(1);
    expect(JSON.parse(runtime.stderr.trim()).msg).toMatch(/failed to load: bad top-level code/);
  });

  test('an unusable setting → exit 1 naming the variable', async () => {
    const runtime = await RuntimeProcess.start(
      'module.exports = () => 1;',
      { KUBEFAAS_TIMEOUT_MS: 'soon' },
      { waitForListening: false },
    );
    expect((await runtime.exited).code).toBe(1);
    expect(JSON.parse(runtime.stderr.trim()).msg).toMatch(/KUBEFAAS_TIMEOUT_MS="soon"/);
  });
});

test('in-process createRuntime: not ready once shutdown starts; shutdown waits for in-flight work', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const handlerStarted = new Promise<void>((r) => (started = r));
  const lines: string[] = [];
  const runtime = createRuntime({
    functionName: 'inproc',
    handler: async () => {
      started();
      await gate;
      return 'done';
    },
    logWrite: (chunk) => lines.push(chunk),
  });
  const { port } = (await runtime.listen(0, '127.0.0.1')) as AddressInfo;
  expect((await request(port, '/readyz')).status).toBe(200);
  const pending = request(port, '/work');
  await handlerStarted;

  let shutdownDone = false;
  const shutdown = runtime.shutdown().then((finished) => ((shutdownDone = true), finished));
  expect(runtime.ready).toBe(false);
  expect(runtime.inFlight).toBe(1);
  await new Promise((r) => setImmediate(r));
  expect(shutdownDone).toBe(false);

  release();
  expect((await pending).text).toBe('done');
  expect(await shutdown).toBe(true);
  expect(runtime.server.listening).toBe(false);
  runtime.flushLogs();
  expect(lines.join('')).toContain('"msg":"request"');
});
