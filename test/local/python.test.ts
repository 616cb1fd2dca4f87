/**
 * PythonFunctions in the local runner: planned from the synthesized manifests onto the local python3
 * (a version different from the image's is a warning), and served end to end through the router.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { connect } from 'nats';
import {
  Code,
  HttpTrigger,
  Platform,
  PythonFunction,
  PythonRuntime,
  Queue,
  QueueTrigger,
  Topic,
} from '../../constructs';
import { startLocalPlatform, type LocalPlatform } from '../../src/local';
import { Manifests, type KubeObject } from '../../src/local/manifests';
import { planLocalRun } from '../../src/local/plan';
import { localPython, pythonImageVersion } from '../../src/local/python';
import { testPython } from '../runtime-python/process';
import { get, LogCapture, tempDir } from './helpers';

const SOURCE =
  'import sys\n\ndef main(event, context):\n    return {"python": "%d.%d" % sys.version_info[:2], "body": event.text()}\n';

function synthObjects(runtime = PythonRuntime.PYTHON_3_13): KubeObject[] {
  const platform = new Platform(Testing.app(), 'faas', { namespace: 'faas' });
  new PythonFunction(platform, 'py', {
    code: Code.fromInline(SOURCE),
    handler: 'handler.main',
    runtime,
    invocation: { byName: true },
    triggers: [new HttpTrigger({ path: '/py', methods: ['GET', 'POST'] })],
  });
  return Testing.synth(platform) as KubeObject[];
}

function planOf(objects: KubeObject[], developerEnv: Record<string, string> = { PATH: process.env.PATH ?? '' }) {
  const ports = new Map<string, number>();
  let next = 40000;
  for (const o of objects) if (o.kind === 'Deployment') ports.set(o.metadata!.name!, next++);
  return planLocalRun(new Manifests(objects), {
    runDir: '/run/kf',
    projectDir: '/project',
    routerPort: 8080,
    routerAdminPort: 8081,
    ports,
    developerEnv,
  });
}

beforeAll(() => testPython());

describe('planning a PythonFunction', () => {
  it('runs the runtime from the materialized ConfigMaps on the local python3, warning about a version mismatch', () => {
    const local = localPython();
    const result = planOf(synthObjects());
    const py = result.processes.find((p) => p.name === 'py')!;
    expect(py.command).toBe('python3');
    expect(py.args).toEqual(['/run/kf/py/volumes/runtime/kubefaas_main.py']);
    expect(py.env.KUBEFAAS_CODE_DIR).toBe('/run/kf/py/volumes/function');
    expect(py.env.KUBEFAAS_HANDLER).toBe('handler.main');
    expect([...py.volumes.find((v) => v.name === 'runtime')!.files!.keys()]).toContain('kubefaas_main.py');
    const mismatch = result.warnings.filter((w) => /runs Python/.test(w));
    if (pythonImageVersion(PythonRuntime.PYTHON_3_13.image) === local.version!.split('.').slice(0, 2).join('.'))
      expect(mismatch).toEqual([]);
    else
      expect(mismatch).toEqual([
        `py: image ${PythonRuntime.PYTHON_3_13.image} runs Python 3.13 but the local python3 is ${local.version}; behaviour may differ`,
      ]);
  });

  it('no warning when the versions agree; skipped with the Debian package named when python3 is missing', () => {
    const local = localPython();
    const minor = local.version!.split('.').slice(0, 2).join('.');
    const same = planOf(synthObjects(PythonRuntime.fromImage(`python:${local.version}-slim`, minor)));
    expect(same.warnings.filter((w) => /runs Python/.test(w))).toEqual([]);
    const missing = planOf(synthObjects(), { PATH: '/nonexistent', KUBEFAAS_PYTHON: '/nonexistent/python3' });
    expect(missing.skipped).toContainEqual({
      name: 'py',
      reason: expect.stringMatching(/cannot be run here: install the Debian package `python3`/),
    });
  });
});

describe('a PythonFunction through the local router', () => {
  const project = tempDir('python-local');
  const log = new LogCapture();
  let platform: LocalPlatform;

  beforeAll(async () => {
    const dir = path.join(project, 'dist');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'app.k8s.json'),
      JSON.stringify({ kind: 'List', apiVersion: 'v1', items: synthObjects() }),
    );
    platform = await startLocalPlatform({
      manifestsDir: dir,
      cwd: project,
      port: 0,
      env: { PATH: process.env.PATH },
      log: log.sink,
    });
  });
  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(project, { recursive: true, force: true });
  });

  it('answers through the router with the local interpreter', async () => {
    const local = localPython().version!.split('.').slice(0, 2).join('.');
    expect(await get(`${platform.url}/py`, { method: 'POST', body: 'hi' })).toEqual({
      status: 200,
      body: JSON.stringify({ python: local, body: 'hi' }),
    });
    expect((await get(`${platform.url}/function/py`)).status).toBe(200);
  });
});

const QUEUE_SOURCE = String.raw`
def main(event, context):
    if event.type == "dev.kubefaas.http.request":
        context.publish("orders", {"item": event.text()})
        return "published"
    if event.type == "dev.kubefaas.queue.message":
        return {"priced": event.json()["item"]}
    return "async " + event.text()
`;

describe('a PythonFunction on the local queue (kubefaas dev starts nats-server)', () => {
  const project = tempDir('python-local-queue');
  const log = new LogCapture();
  let platform: LocalPlatform;

  beforeAll(async () => {
    const p = new Platform(Testing.app(), 'faas', { namespace: 'faas', queue: Queue.nats() });
    new PythonFunction(p, 'pyq', {
      code: Code.fromInline(QUEUE_SOURCE),
      handler: 'handler.main',
      publishes: ['orders'],
      invocation: { async: true },
      triggers: [
        new HttpTrigger({ path: '/order', methods: ['POST'] }),
        new QueueTrigger({ topic: 'orders', responseTopic: 'orders.done' }),
      ],
    });
    const dir = path.join(project, 'dist');
    fs.mkdirSync(dir, { recursive: true });
    // Its HTTP route publishes what its queue trigger consumes: a loop in the (per-function) graph that
    // ends after one hop.
    new Topic(p, 'orders', { allowCycle: true });
    fs.writeFileSync(
      path.join(dir, 'app.k8s.json'),
      JSON.stringify({ kind: 'List', apiVersion: 'v1', items: Testing.synth(p) }),
    );
    platform = await startLocalPlatform({
      manifestsDir: dir,
      cwd: project,
      port: 0,
      env: { PATH: process.env.PATH },
      log: log.sink,
    });
  }, 90_000);
  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(project, { recursive: true, force: true });
  });

  it('publishes, consumes its topic and answers async calls, with the synthesized env on the local queue', async () => {
    const nc = await connect({ servers: `127.0.0.1:${platform.functions.get('kubefaas-nats')!.port}` });
    try {
      const sub = nc.subscribe('topics.orders.done', { max: 1 });
      await nc.flush();
      expect(await get(`${platform.url}/order`, { method: 'POST', body: 'pear' })).toEqual({
        status: 200,
        body: 'published',
      });
      for await (const m of sub) expect(JSON.parse(Buffer.from(m.data).toString())).toEqual({ priced: 'pear' });
    } finally {
      await nc.close();
    }
    const accepted = await fetch(`${platform.url}/async-function/pyq`, { method: 'POST', body: 'job' });
    expect(accepted.status).toBe(202);
    const callId = accepted.headers.get('x-call-id')!;
    let state: Record<string, any> = {};
    for (let i = 0; i < 200 && state.state !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = (await (await fetch(`${platform.url}/async-function/pyq/${callId}`)).json()) as Record<string, any>;
    }
    expect(state).toMatchObject({ state: 'succeeded', result: { body: 'async job' } });
  });
});
