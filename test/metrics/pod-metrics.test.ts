/**
 * The shipped runtime and router bundles, as real processes: their /metrics pass
 * `promtool check metrics`, carry the contract's names, and a `traceparent` sent to the router
 * reaches the function and its log lines.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { spawn } from 'child_process';
import { Env, MetricNames, RouteTable } from '../../src/contract';
import { PodProcess, startPod } from './pod-processes';

/** `promtool check metrics` reads the exposition from stdin and prints one line per problem. */
function promtoolCheckMetrics(exposition: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
    child.stdin.end(exposition);
  });
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

describe('runtime and router /metrics', () => {
  let dir: string;
  let runtime: PodProcess;
  let router: PodProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubefaas-podmetrics-'));
    writeFileSync(
      join(dir, 'handler.js'),
      `module.exports = async (event, context) => {
      context.log.info('handling', { path: event.path });
      if (event.path === '/fail') throw new Error('boom');
      return { traceparent: event.headers.traceparent ?? null };
    };`,
    );
    runtime = await startPod('runtime', {
      [Env.HANDLER_PATH]: join(dir, 'handler.js'),
      [Env.FUNCTION_NAME]: 'hello',
      [Env.TIMEOUT_MS]: '5000',
    });
    const table: RouteTable = {
      version: 1,
      functions: { hello: { url: runtime.url, timeoutMs: 5000 } },
      routes: [
        { function: 'hello', methods: ['GET'], path: '/hello' },
        { function: 'hello', methods: ['GET'], path: '/fail' },
      ],
    };
    writeFileSync(join(dir, 'routes.json'), JSON.stringify(table));
    router = await startPod('router', { [Env.ROUTES_PATH]: join(dir, 'routes.json') });
    // Traffic of every kind, so every series family has samples.
    for (const url of [
      `${router.url}/hello`,
      `${router.url}/hello`,
      `${router.url}/fail`,
      // By name on the admin listener (the function did not opt in to public by-name calls).
      `${router.adminUrl}/function/hello`,
      `${router.url}/nowhere`,
    ]) {
      const res = await fetch(url);
      await res.arrayBuffer();
    }
  });

  afterAll(async () => {
    await Promise.all([router?.stop(), runtime?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test.each(['runtime', 'router'] as const)('%s: promtool check metrics finds no problem', async (which) => {
    const pod = which === 'runtime' ? runtime : router;
    const res = await fetch(`${pod.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    const result = await promtoolCheckMetrics(body);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  test('promtool check metrics does flag a badly named metric (the check can fail)', async () => {
    const result = await promtoolCheckMetrics(
      '# HELP request_latency_ms x\n# TYPE request_latency_ms counter\nrequest_latency_ms 1\n',
    );
    expect(result.output).not.toBe('');
  });

  test('the runtime exposes the contract metrics with the documented labels', async () => {
    const body = await (await fetch(`${runtime.metricsUrl}/metrics`)).text();
    expect(body).toMatch(
      new RegExp(`^${MetricNames.functionInvocations}\\{function="hello",trigger="http",outcome="success"\\} 3$`, 'm'),
    );
    expect(body).toMatch(
      new RegExp(`^${MetricNames.functionInvocations}\\{function="hello",trigger="http",outcome="error"\\} 1$`, 'm'),
    );
    expect(body).toMatch(
      new RegExp(`^${MetricNames.functionDuration}_count\\{function="hello",trigger="http"\\} 4$`, 'm'),
    );
    expect(body).toMatch(new RegExp(`^${MetricNames.functionInFlight}\\{function="hello"\\} 0$`, 'm'));
    expect(body).toMatch(new RegExp(`^${MetricNames.functionColdStarts}\\{function="hello"\\} 1$`, 'm'));
  });

  test('the router exposes the contract metrics with the documented labels', async () => {
    const body = await (await fetch(`${router.metricsUrl}/metrics`)).text();
    expect(body).toMatch(
      new RegExp(
        `^${MetricNames.routerRequests}\\{route="/hello",method="GET",status="200",function="hello"\\} 2$`,
        'm',
      ),
    );
    expect(body).toMatch(
      new RegExp(
        `^${MetricNames.routerRequests}\\{route="/fail",method="GET",status="500",function="hello"\\} 1$`,
        'm',
      ),
    );
    expect(body).toMatch(
      new RegExp(`^${MetricNames.routerRequests}\\{route="",method="GET",status="404",function=""\\} 1$`, 'm'),
    );
    expect(body).toMatch(new RegExp(`^${MetricNames.routerUpstreamDuration}_count\\{function="hello"\\} 4$`, 'm'));
    expect(body).toMatch(new RegExp(`^${MetricNames.routerRequestDuration}_count\\{function="hello"\\} 4$`, 'm'));
    // Only on the admin listener: the public one answers 404.
    expect((await fetch(`${router.url}/metrics`)).status).toBe(404);
  });

  test('traceparent flows router -> function -> function logs', async () => {
    const res = await fetch(`${router.url}/hello`, { headers: { traceparent: TRACEPARENT } });
    const body = (await res.json()) as { traceparent: string | null };
    // Same trace, whatever span id the router chose for its hop.
    expect(body.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    // Log lines are batched per event-loop turn; poll briefly for the handler's line.
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !line; i++) {
      line = runtime.logs.find((l) => l.msg === 'handling' && l.requestId === requestId);
      if (!line) await new Promise((r) => setTimeout(r, 20));
    }
    expect(line).toEqual(expect.objectContaining({ function: 'hello', requestId, traceId: TRACE_ID }));
  });

  test('without an incoming traceparent the router starts a trace the function sees', async () => {
    const body = (await (await fetch(`${router.url}/hello`)).json()) as { traceparent: string | null };
    expect(body.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
    expect(body.traceparent!.slice(3, 35)).not.toBe('0'.repeat(32));
  });
});
