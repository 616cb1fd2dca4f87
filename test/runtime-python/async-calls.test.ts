/**
 * Async calls of a Python function end to end: the real router bundle accepts
 * `POST /async-function/<name>` (202 + X-Call-Id, the call stored in JetStream), the Python runtime
 * consumes it, writes its states to the call-state bucket and stores the callback job, and its
 * callback deliverer POSTs the result to a receiver, under the platform's callback policy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Env, MetricNames, QueueEnv, ActivatorEnv } from '../../src/contract';
import { freePort } from '../queue/nats-server';
import { testConfig, useNatsServer, waitFor } from '../queue/support';
import { podNode } from '../support/pod-node';
import { stopAllPython, type PythonRuntimeProcess } from './process';
import { FUNCTION, metricValue, pyAsync, startPythonConsumer } from './queue-support';

const ROUTER_BUNDLE = resolve(__dirname, '..', '..', 'lib', 'pod', 'router.js');
const nats = useNatsServer();

const HANDLER = String.raw`
from kubefaas import HttpError, Response

def main(event, context):
    if event.path == "/fail":
        raise RuntimeError("the password is s3cr3t")
    if event.path == "/conflict":
        raise HttpError(409, "already exists")
    return Response(
        {
            "method": event.method, "path": event.path, "query": event.query, "body": event.text(),
            "type": event.type, "source": event.source, "id": event.id, "callId": event.call_id,
            "custom": event.headers.get("x-custom"), "xCallId": event.headers.get("x-call-id"),
            "requestId": context.request_id,
        },
        status=201, headers={"x-result": "yes"},
    )
`;

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

let dir: string;
let receiver: Server;
let receiverPort: number;
const received: Received[] = [];
/** Statuses the receiver answers with, in turn (then 204). */
let answers: number[] = [];
let router: ChildProcess;
let routerUrl: string;
let rt: PythonRuntimeProcess;
let routerOutput = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubefaas-py-async-'));
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.statusCode = answers.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverPort = (receiver.address() as AddressInfo).port;
  // The router lets callbacks go to the receiver and to a private address the runtime's check refuses.
  const policy = {
    allow: [`http://127.0.0.1:${receiverPort}/`, 'http://10.255.255.1:9/'],
    allowPrivateNetworks: false,
    allowLoopback: true,
  };
  const config = testConfig('py_async');
  rt = await startPythonConsumer(HANDLER, nats.server.url, config, [pyAsync(config, { maxRetries: 1 })], {
    [QueueEnv.CALLBACK_POLICY]: JSON.stringify(policy),
  });
  const routes = join(dir, 'routes.json');
  writeFileSync(
    routes,
    JSON.stringify({
      version: 1,
      // Async calls from outside are the function's opt-in (issue 15 item 9).
      functions: { [FUNCTION]: { url: `http://127.0.0.1:${rt.port}`, timeoutMs: 10_000, invocation: { async: true } } },
      routes: [],
      callbacks: policy,
    }),
  );
  const port = await freePort();
  const adminPort = await freePort();
  routerUrl = `http://127.0.0.1:${port}`;
  router = spawn(podNode(), [ROUTER_BUNDLE], {
    env: {
      PATH: process.env.PATH ?? '',
      [Env.PORT]: String(port),
      [ActivatorEnv.ADMIN_PORT]: String(adminPort),
      [Env.BIND_HOST]: '127.0.0.1',
      [Env.ROUTES_PATH]: routes,
      [QueueEnv.NATS_URL]: nats.server.url,
      [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  router.stdout!.on('data', (c: Buffer) => (routerOutput += c.toString()));
  router.stderr!.on('data', (c: Buffer) => (routerOutput += c.toString()));
  await waitFor('the router', async () => {
    if (router.exitCode !== null) throw new Error(`router exited: ${routerOutput}`);
    // Health is on the admin listener.
    return fetch(`http://127.0.0.1:${adminPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
  });
});

afterAll(async () => {
  router?.kill('SIGKILL');
  await stopAllPython();
  await new Promise((r) => receiver?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function submit(path: string, headers: Record<string, string> = {}, body = 'payload'): Promise<string> {
  let res: Response | undefined;
  // The router's queue connection may still be coming up: 503 until then, never a lost call.
  await waitFor('the router to accept the call', async () => {
    res = await fetch(`${routerUrl}/async-function/${FUNCTION}${path}`, { method: 'POST', body, headers });
    return res.status !== 503;
  });
  expect(res!.status).toBe(202);
  return res!.headers.get('x-call-id')!;
}

async function stateOf(callId: string): Promise<Record<string, any>> {
  const res = await fetch(`${routerUrl}/async-function/${FUNCTION}/${callId}`);
  return (await res.json()) as Record<string, any>;
}

async function finalState(callId: string, until: (s: Record<string, any>) => boolean = () => true) {
  let state: Record<string, any> = {};
  await waitFor(`call ${callId} to finish`, async () => {
    state = await stateOf(callId);
    return (state.state === 'succeeded' || state.state === 'failed') && until(state);
  });
  return state;
}

test('an async call reaches succeeded with its result, and the callback is retried until the receiver takes it', async () => {
  answers = [503];
  const callId = await submit('/reports?x=1', {
    'x-custom': 'yes',
    'x-callback-url': `http://127.0.0.1:${receiverPort}/hook`,
  });
  const state = await finalState(callId, (s) => s.callback !== undefined);
  expect(state).toMatchObject({
    callId,
    function: FUNCTION,
    state: 'succeeded',
    attempts: 1,
    callbackUrl: `http://127.0.0.1:${receiverPort}/hook`,
    callback: { url: `http://127.0.0.1:${receiverPort}/hook`, delivered: true, attempts: 2, status: 204 },
  });
  expect(state.error).toBeUndefined();
  for (const key of ['queuedAt', 'startedAt', 'finishedAt', 'updatedAt']) expect(Date.parse(state[key])).not.toBeNaN();
  expect(state.result).toMatchObject({
    status: 201,
    headers: { 'x-result': 'yes', 'content-type': 'application/json; charset=utf-8' },
    bodyEncoding: 'utf8',
    truncated: false,
  });
  const seen = JSON.parse(state.result.body);
  expect(seen).toEqual({
    method: 'POST',
    path: '/reports',
    query: { x: '1' },
    body: 'payload',
    type: 'dev.kubefaas.async.call',
    source: `/kubefaas/async/${FUNCTION}`,
    id: callId,
    callId,
    custom: 'yes',
    xCallId: callId,
    requestId: callId,
  });

  // Two POSTs: the first answered 503, the retry 204.
  expect(received).toHaveLength(2);
  for (const post of received) {
    expect(post.headers).toMatchObject({
      'x-call-id': callId,
      'x-kubefaas-function': FUNCTION,
      'x-function-status': '201',
      'x-call-state': 'succeeded',
      'x-result': 'yes',
      'content-type': 'application/json; charset=utf-8',
    });
    expect(JSON.parse(post.body)).toEqual(seen);
  }
  received.length = 0;

  expect(await metricValue(rt, `${MetricNames.asyncCalls}{function="${FUNCTION}",state="succeeded"}`)).toBe(1);
  expect(
    await metricValue(rt, `${MetricNames.queueDeliveries}{function="${FUNCTION}",trigger="callback",outcome="retry"}`),
  ).toBe(1);
  expect(
    await metricValue(
      rt,
      `${MetricNames.functionInvocations}{function="${FUNCTION}",trigger="async",outcome="success"}`,
    ),
  ).toBe(1);
});

test('a failing call is retried, then failed with a generic error; the callback carries no secret', async () => {
  const callId = await submit('/fail', { 'x-callback-url': `http://127.0.0.1:${receiverPort}/hook` });
  const state = await finalState(callId, (s) => s.callback !== undefined);
  expect(state).toMatchObject({
    state: 'failed',
    attempts: 2,
    error: `the function failed; see its logs for request id ${callId}`,
    callback: { delivered: true, attempts: 1, status: 204 },
  });
  expect(JSON.stringify(state)).not.toContain('s3cr3t');
  expect(received).toHaveLength(1);
  expect(received[0].headers).toMatchObject({ 'x-call-state': 'failed', 'x-function-status': '500' });
  expect(JSON.parse(received[0].body)).toEqual({
    callId,
    function: FUNCTION,
    state: 'failed',
    error: state.error,
    attempts: 2,
  });
  received.length = 0;
  // The full message is in the function's log, under the call id.
  const line = await rt.waitForLog((l) => l.msg === 'handler failed' && l.requestId === callId);
  expect((line.error as { message: string }).message).toBe('the password is s3cr3t');
});

test("a deliberate 4xx is the call's answer (succeeded, not retried)", async () => {
  const callId = await submit('/conflict');
  const state = await finalState(callId);
  expect(state).toMatchObject({
    state: 'succeeded',
    attempts: 1,
    result: { status: 409, headers: { 'content-type': 'application/json' }, body: '{"error":"already exists"}' },
  });
});

test('a callback to an address the runtime refuses is recorded as refused and never sent', async () => {
  const callId = await submit('/private', { 'x-callback-url': 'http://10.255.255.1:9/hook' });
  const state = await finalState(callId, (s) => s.callback !== undefined);
  expect(state.state).toBe('succeeded');
  expect(state.callback).toEqual({
    url: 'http://10.255.255.1:9/hook',
    delivered: false,
    attempts: 0,
    error: 'callback refused: 10.255.255.1 is a private address (allowPrivateNetworks is off)',
  });
  expect(received).toHaveLength(0);
});
