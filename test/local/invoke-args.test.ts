/**
 * Which router `kubefaas invoke` calls: --router, --port, else the one running `kubefaas dev` found
 * through the runners' state files (injected here; cli.test.ts runs the real lookup), else :8080.
 */
import { parseInvokeArgs } from '../../src/cli/invoke';
import type { LiveRunner } from '../../src/local/control';

const runner = (routerPort: number): LiveRunner => ({
  pid: process.pid,
  routerPort,
  routerUrl: `http://127.0.0.1:${routerPort}`,
  routerAdminUrl: `http://127.0.0.1:${routerPort + 1}`,
  controlUrl: 'http://127.0.0.1:1',
});
const noStdin = (): Buffer => Buffer.alloc(0);
const urlOf = (argv: string[], runners: LiveRunner[]): string | undefined =>
  parseInvokeArgs(argv, noStdin, () => runners)?.url;

test('without --router or --port: the only running runner, whatever its port', () => {
  expect(urlOf(['hello'], [runner(3000)])).toBe('http://127.0.0.1:3000/function/hello');
});

test('no runner running: the default port', () => {
  expect(urlOf(['hello'], [])).toBe('http://127.0.0.1:8080/function/hello');
});

test('several runners: a usage error that lists their ports', () => {
  expect(() => urlOf(['hello'], [runner(3000), runner(8080)])).toThrow(
    /2 kubefaas dev runners are running \(router ports 3000, 8080\); pick one with --port/,
  );
});

test('--port and --router win over the runners; both at once, or a bad port, are usage errors', () => {
  expect(urlOf(['hello', '--port', '4000'], [runner(3000)])).toBe('http://127.0.0.1:4000/function/hello');
  expect(urlOf(['hello', '--router', 'http://10.0.0.1:81/'], [runner(3000)])).toBe('http://10.0.0.1:81/function/hello');
  expect(() => urlOf(['hello', '-p', '1', '--router', 'http://x'], [])).toThrow(/give one/);
  expect(() => urlOf(['hello', '-p', '0'], [])).toThrow(/--port must be a port number/);
  expect(() => urlOf(['hello', '-p', 'abc'], [])).toThrow(/--port must be a port number/);
});

test('--trigger uses the discovered runner too', () => {
  const request = parseInvokeArgs(['hello', '--trigger', 'cron/nightly'], noStdin, () => [runner(3000)]);
  expect(request?.trigger).toEqual({ kind: 'cron', function: 'hello', name: 'nightly', routerPort: 3000 });
});
