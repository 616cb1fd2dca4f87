/**
 * The one rule for what a handler returns (README "A handler…", docs/events.md "Results"): a plain
 * object is data — 200 JSON, whatever its fields are called, `{ status, headers, body }` included —
 * and only a Fetch API `Response` (Node) or `kubefaas.Response` (Python) sets the status and headers.
 * The same for every way a function is called: through the router over HTTP, as an async call, and
 * from a queue trigger with a responseTopic. A real app on the local runner with a real nats-server.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect, type Msg, type NatsConnection } from 'nats';
import { LocalPlatform } from '../../src/local';
import { LogCapture, tempDir } from '../local/helpers';

jest.setTimeout(90_000);

const root = path.resolve(__dirname, '..', '..');
/** What the handlers return for `as: 'shape'`: an object that looks like a response but is data. */
const SHAPE = { status: 201, headers: { 'x-rule': 'shape' }, body: 'made' };

const APP = `
const { App } = require(${JSON.stringify(require.resolve('cdk8s'))});
const k = require(${JSON.stringify(path.join(root, 'constructs'))});
const app = new App();
const platform = new k.Platform(app, 'rules', {
  namespace: 'rules',
  queue: k.Queue.nats({ storage: k.Size.gibibytes(1) }),
});
new k.NodeFunction(platform, 'node', {
  code: k.Code.fromAsset('node.js'),
  invocation: { async: true },
  triggers: [
    new k.HttpTrigger({ path: '/node', methods: ['GET'] }),
    new k.QueueTrigger({ topic: 'rules-in', responseTopic: 'rules-out' }),
  ],
});
new k.PythonFunction(platform, 'py', {
  code: k.Code.fromAsset('py'),
  handler: 'handler.main',
  triggers: [new k.HttpTrigger({ path: '/py', methods: ['GET'] })],
});
app.synth();
`;

// `as` from the query (HTTP) or from a JSON body (queue messages and async calls).
const NODE_HANDLER = `module.exports = async (event) => {
  const as = event.query.as ?? (event.text() ? JSON.parse(event.text()).as : undefined);
  if (as === 'shape') return ${JSON.stringify(SHAPE)};
  if (as === 'response') return new Response('made', { status: 201, headers: { 'x-rule': 'response' } });
  return 'plain';
};
`;

const PY_HANDLER = `from kubefaas import Response


def main(event, context):
    mode = event.query.get("as")
    if mode == "shape":
        return ${JSON.stringify(SHAPE)}
    if mode == "response":
        return Response("made", status=201, headers={"x-rule": "response"})
    return "plain"
`;

describe('one rule for returned values: HTTP, async calls and queue triggers, Node and Python', () => {
  const project = tempDir('return-rule');
  const log = new LogCapture();
  let platform: LocalPlatform;
  let nc: NatsConnection;

  beforeAll(async () => {
    fs.writeFileSync(path.join(project, 'app.ts'), APP);
    fs.writeFileSync(path.join(project, 'node.js'), NODE_HANDLER);
    fs.mkdirSync(path.join(project, 'py'));
    fs.writeFileSync(path.join(project, 'py', 'handler.py'), PY_HANDLER);
    platform = await LocalPlatform.start({
      app: 'app.ts',
      cwd: project,
      port: 0,
      log: log.sink,
      readyTimeoutMs: 60_000,
    });
    nc = await connect({ servers: `127.0.0.1:${platform.functions.get('kubefaas-nats')!.port}` });
  });

  afterAll(async () => {
    await nc?.close();
    await platform?.stop();
    fs.rmSync(project, { recursive: true, force: true });
  });

  describe.each(['node', 'py'])('HTTP, %s runtime', (fn) => {
    test('an object shaped like { status, headers, body } is data: 200 JSON of the whole object', async () => {
      const res = await fetch(`${platform.url}/${fn}?as=shape`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('x-rule')).toBeNull();
      expect(await res.json()).toEqual(SHAPE);
    });

    test('a Response sets status, headers and body', async () => {
      const res = await fetch(`${platform.url}/${fn}?as=response`);
      expect(res.status).toBe(201);
      expect(res.headers.get('x-rule')).toBe('response');
      expect(await res.text()).toBe('made');
    });
  });

  /** The reply a queue-triggered call publishes to its responseTopic. */
  async function queueReply(as: string): Promise<Msg> {
    const sub = nc.subscribe('topics.rules-out', { max: 1 });
    await nc.flush();
    await nc.jetstream().publish('topics.rules-in', JSON.stringify({ as }));
    for await (const m of sub) return m;
    throw new Error('no reply on topics.rules-out');
  }

  test('queue trigger: the shaped object is published as JSON data with status 200', async () => {
    const m = await queueReply('shape');
    expect(m.headers?.get('Kubefaas-Status')).toBe('200');
    expect(JSON.parse(Buffer.from(m.data).toString('utf8'))).toEqual(SHAPE);
  });

  test('queue trigger: a Response gives the reply its status and body', async () => {
    const m = await queueReply('response');
    expect(m.headers?.get('Kubefaas-Status')).toBe('201');
    expect(Buffer.from(m.data).toString('utf8')).toBe('made');
  });

  /** The final state of an async call to the node function. */
  async function asyncResult(as: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const res = await fetch(`${platform.url}/async-function/node`, { method: 'POST', body: JSON.stringify({ as }) });
    expect(res.status).toBe(202);
    const callId = res.headers.get('x-call-id');
    for (let i = 0; i < 200; i++) {
      const state = (await (await fetch(`${platform.url}/async-function/node/${callId}`)).json()) as {
        state: string;
        result?: { status: number; headers: Record<string, string>; body: string };
      };
      if (state.state === 'succeeded') return state.result!;
      expect(['queued', 'running']).toContain(state.state);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`async call ${callId} did not succeed in time`);
  }

  test('async call: the same rule for the stored result', async () => {
    const shaped = await asyncResult('shape');
    expect(shaped.status).toBe(200);
    expect(JSON.parse(shaped.body)).toEqual(SHAPE);
    const response = await asyncResult('response');
    expect(response).toMatchObject({ status: 201, body: 'made' });
    expect(response.headers['x-rule']).toBe('response');
  });
});
