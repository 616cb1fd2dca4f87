import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import {
  Code,
  CronTrigger,
  HttpTrigger,
  PythonFunction,
  PythonRuntime,
  Queue,
  QueueTrigger,
  Size,
} from '../../constructs';
import { CONFIGMAP_DATA_LIMIT } from '../../constructs/code';
import { checkHandlerText } from '../../constructs/python-code';
import { PYTHON_RUNTIME_CONFIGMAP } from '../../constructs/python-runtime';
import { CronEnv, Env, NODE_UID, Paths, PythonEnv, PythonPaths, QueueEnv } from '../../src/contract';
import { codeMap, container, envOf, errorOf, expectValid, find, newPlatform, synth } from './helpers';

const FIXTURE = join(__dirname, 'fixtures', 'python', 'ok');

const dirs: string[] = [];
function tempCode(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-py-code-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    const file = join(dir, name);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, content);
  }
  return dir;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function env(objects: ReturnType<typeof synth>, name: string): Record<string, string> {
  return Object.fromEntries(envOf(find(objects, 'Deployment', name)).map((e) => [e.name, e.value]));
}

describe('PythonFunction', () => {
  it('ships the top-level files of the code directory and runs the Python runtime on the pinned image', async () => {
    const platform = newPlatform();
    const fn = new PythonFunction(platform, 'resize', {
      code: Code.fromAsset(FIXTURE),
      handler: 'handler.main',
      triggers: [new HttpTrigger({ path: '/resize', methods: ['POST'] })],
      maxBodySize: Size.mebibytes(2),
    });
    const objects = synth(platform);
    await expectValid(objects);

    const code = codeMap(objects, 'resize');
    expect(Object.keys(code.data).sort()).toEqual(['handler.py', 'util.py']); // .hidden is left out
    const runtime = codeMap(objects, PYTHON_RUNTIME_CONFIGMAP);
    expect(Object.keys(runtime.data)).toEqual(
      expect.arrayContaining(['kubefaas.py', PythonPaths.runtimeMain, 'kubefaas_server.py']),
    );

    const deployment = find(objects, 'Deployment', 'resize');
    const c = container(deployment);
    expect(c.image).toBe(PythonRuntime.PYTHON_3_13.image);
    expect(c.image).toMatch(/^python:3\.13\.\d+-slim-bookworm$/);
    expect(c.command).toEqual(['python3', `${PythonPaths.runtimeDir}/${PythonPaths.runtimeMain}`]);
    expect(env(objects, 'resize')).toMatchObject({
      [Env.HANDLER_PATH]: 'handler.main',
      [PythonEnv.CODE_DIR]: Paths.functionDir,
      [Env.MAX_BODY_BYTES]: String(2 * 1024 * 1024),
      [PythonEnv.THREADS]: '8',
      PYTHONDONTWRITEBYTECODE: '1',
      HOME: '/tmp',
    });
    // Restricted pod security with a numeric non-root uid (the python image's user is root).
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: NODE_UID });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
    expect(c.volumeMounts).toEqual(expect.arrayContaining([{ name: 'tmp', mountPath: '/tmp' }]));
    expect(deployment.spec.template.metadata.annotations['kubefaas.dev/code-hash']).toBe(fn.codeHash);
  });

  it('shares one runtime ConfigMap between functions and rolls pods when the code changes', () => {
    const platform = newPlatform();
    const a = new PythonFunction(platform, 'a', {
      code: Code.fromInline('def main(e, c):\n    return "a"\n'),
      handler: 'handler.main',
    });
    const b = new PythonFunction(platform, 'b', {
      code: Code.fromInline('def main(e, c):\n    return "b"\n'),
      handler: 'handler.main',
    });
    const objects = synth(platform);
    codeMap(objects, PYTHON_RUNTIME_CONFIGMAP); // exactly one, content-hashed and immutable
    expect(codeMap(objects, 'a').metadata.name).not.toBe(codeMap(objects, 'b').metadata.name);
    expect(codeMap(objects, 'a').data).toEqual({ 'handler.py': 'def main(e, c):\n    return "a"\n' });
    expect(a.codeHash).not.toBe(b.codeHash);
  });

  it('ships a single .py file and binary files as binaryData', async () => {
    const dir = tempCode({
      'app.py': 'async def handle(event, context):\n    return b"x"\n',
      'blob.bin': Buffer.from([0xff, 0x00, 0xfe]),
    });
    const platform = newPlatform();
    new PythonFunction(platform, 'one', { code: Code.fromAsset(join(dir, 'app.py')), handler: 'app.handle' });
    new PythonFunction(platform, 'two', {
      code: Code.fromAsset(dir),
      handler: 'app.handle',
      runtime: PythonRuntime.PYTHON_3_12,
    });
    const objects = synth(platform);
    await expectValid(objects);
    expect(Object.keys(codeMap(objects, 'one').data)).toEqual(['app.py']);
    expect(codeMap(objects, 'two').binaryData).toEqual({
      'blob.bin': Buffer.from([0xff, 0x00, 0xfe]).toString('base64'),
    });
    expect(container(find(objects, 'Deployment', 'two')).image).toBe('python:3.12.11-slim-bookworm');
  });

  it('consumes queue triggers, async calls and cron ticks through the queue, like a NodeFunction', async () => {
    const platform = newPlatform({ queue: Queue.nats() });
    new PythonFunction(platform, 'consumer', {
      code: Code.fromInline('def main(event, context):\n    return None\n'),
      handler: 'handler.main',
      triggers: [
        new QueueTrigger({ topic: 'images', responseTopic: 'images.done' }),
        new CronTrigger({ name: 'nightly', schedule: '0 2 * * *' }),
      ],
    });
    const objects = synth(platform);
    await expectValid(objects);
    const e = env(objects, 'consumer');
    expect(e[QueueEnv.NATS_URL]).toBe('nats://kubefaas-nats.kubefaas.svc.cluster.local:4222');
    expect(e[QueueEnv.NATS_USER]).toBe('fn-consumer');
    const subs = JSON.parse(e[QueueEnv.SUBSCRIPTIONS]) as Array<Record<string, unknown>>;
    expect(subs.map((s) => [s.kind, s.subject, s.durable])).toEqual([
      ['async', 'async.consumer', 'consumer_async'],
      ['topic', 'topics.images', 'consumer_topic_images'],
      ['cron', 'cron.consumer.nightly', 'consumer_cron_nightly'],
    ]);
    expect(subs[1]).toMatchObject({
      responseSubject: 'topics.images.done',
      deadLetterSubject: 'topics.dead-letter.consumer',
    });
    // The tick goes through the queue (the function consumes it), not through the router.
    const cron = find(objects, 'CronJob', 'consumer-cron-nightly').spec.jobTemplate.spec.template.spec.containers[0];
    const cronEnv = Object.fromEntries(
      (cron.env as Array<{ name: string; value?: string }>).map((v) => [v.name, v.value]),
    );
    expect(cronEnv[QueueEnv.NATS_URL]).toBeDefined();
    expect(cronEnv[CronEnv.ROUTER_URL]).toBeUndefined();
    // The NATS user of the function may pull and ack its own consumers.
    const conf = String(find(objects, 'ConfigMap', 'kubefaas-nats-config').data['nats.conf']);
    expect(conf).toContain('user: "fn-consumer"');
    expect(conf).toContain('"$JS.API.CONSUMER.MSG.NEXT.KUBEFAAS_TOPICS.consumer_topic_images"');
    // It reaches the queue; it drains with a preStop sleep (the Python runtime has no in-process drain delay).
    const policy = find(objects, 'NetworkPolicy', 'consumer');
    expect(JSON.stringify(policy.spec.egress)).toContain('"port":4222');
    expect(e[Env.DRAIN_DELAY_MS]).toBeUndefined();
    expect(container(find(objects, 'Deployment', 'consumer')).lifecycle).toEqual({
      preStop: { sleep: { seconds: 10 } },
    });
  });

  it('gets no queue env on a platform without a queue; a cron tick then goes through the router', async () => {
    const platform = newPlatform();
    new PythonFunction(platform, 'ticker', {
      code: Code.fromInline('def main(event, context):\n    return None\n'),
      handler: 'handler.main',
      triggers: [new CronTrigger({ schedule: '*/5 * * * *' })],
    });
    const objects = synth(platform);
    await expectValid(objects);
    expect(env(objects, 'ticker')[QueueEnv.NATS_URL]).toBeUndefined();
    const job = objects.find((o) => o.kind === 'CronJob')!;
    const cron = job.spec.jobTemplate.spec.template.spec.containers[0];
    expect((cron.env as Array<{ name: string }>).map((v) => v.name)).toContain(CronEnv.ROUTER_URL);
  });

  describe('handler checks', () => {
    it.each([
      ['', /needs `handler`/],
      ['main', /is not module\.function/],
      ['handler.', /is not module\.function/],
      ['1handler.main', /is not module\.function/],
      ['pkg.handler.main', /module inside a package/],
    ])('rejects the handler %j', (handler, message) => {
      const platform = newPlatform();
      const err = errorOf(() => new PythonFunction(platform, 'f', { code: Code.fromAsset(FIXTURE), handler }));
      expect(err.message).toMatch(message);
      expect(err.message).toContain('platform/f');
    });

    it('names the missing module file and what the code has', () => {
      const err = errorOf(
        () => new PythonFunction(newPlatform(), 'f', { code: Code.fromAsset(FIXTURE), handler: 'missing.main' }),
      );
      expect(err.message).toMatch(/needs missing\.py in the code, which has handler\.py, util\.py/);
    });

    it("parses with Python's ast: a missing function lists the ones defined", () => {
      const err = errorOf(
        () => new PythonFunction(newPlatform(), 'f', { code: Code.fromAsset(FIXTURE), handler: 'handler.nope' }),
      );
      expect(err.message).toMatch(/handler\.py defines no 'nope' \(it defines main, other\)/);
    });

    it('accepts async functions, assignments and imports; rejects classes and syntax errors', () => {
      const make =
        (source: string, handler = 'handler.main') =>
        () =>
          new PythonFunction(newPlatform(), 'f', { code: Code.fromInline(source), handler });
      expect(make('async def main(e, c):\n    return 1\n')).not.toThrow();
      expect(make('def _impl(e, c):\n    return 1\n\nmain = _impl\n')).not.toThrow();
      expect(make('from os.path import join as main\n')).not.toThrow();
      expect(
        make(
          'try:\n    import ujson as json\nexcept ImportError:\n    import json\n\ndef main(e, c):\n    return json.dumps(1)\n',
        ),
      ).not.toThrow();
      expect(errorOf(make('class main:\n    pass\n')).message).toMatch(/'main' in handler\.py is a class/);
      // `    def main` is nested, not top level.
      expect(errorOf(make('def outer():\n    def main(e, c):\n        pass\n')).message).toMatch(
        /defines no 'main' \(it defines outer\)/,
      );
      expect(errorOf(make('def main(e, c)\n    return 1\n')).message).toMatch(
        /handler\.py is not valid Python 3\.\d+: .*line 1/,
      );
    });

    it('falls back to a textual check when python3 cannot be run', () => {
      const saved = process.env.KUBEFAAS_PYTHON;
      process.env.KUBEFAAS_PYTHON = '/nonexistent/python3';
      try {
        const make = (source: string) => () =>
          new PythonFunction(newPlatform(), 'f', { code: Code.fromInline(source), handler: 'handler.main' });
        expect(make('def main(e, c):\n    return 1\n')).not.toThrow();
        expect(errorOf(make('def other(e, c):\n    return 1\n')).message).toMatch(
          /defines no top-level 'main' \(checked textually: no python3 was found/,
        );
      } finally {
        if (saved === undefined) delete process.env.KUBEFAAS_PYTHON;
        else process.env.KUBEFAAS_PYTHON = saved;
      }
    });

    it.each([
      ['def main(event, context):', true],
      ['async def main (event, context):', true],
      ['main = make_handler()', true],
      ['main: Handler = make()', true],
      ['from lib import main', true],
      ['from lib import (a, main)', true],
      ['import lib.impl as main', true],
      ['    def main(e, c):', false],
      ['def mainly(e, c):', false],
      ['main == 1', false],
      ['# def main(e, c):', false],
    ])('textual check of %j: %s', (line, ok) => {
      const check = () => checkHandlerText(newPlatform(), `${line}\n`, 'handler.py', 'main');
      if (ok) expect(check).not.toThrow();
      else expect(check).toThrow(/defines no top-level 'main'/);
    });
  });

  describe('code errors', () => {
    it('reports code over the ConfigMap limit with the sizes and a fix', () => {
      const dir = tempCode({
        'handler.py': 'def main(e, c):\n    return 1\n',
        'data.txt': 'x'.repeat(CONFIGMAP_DATA_LIMIT),
      });
      const err = errorOf(
        () => new PythonFunction(newPlatform(), 'big', { code: Code.fromAsset(dir), handler: 'handler.main' }),
      );
      expect(err.message).toMatch(
        /platform\/big.*the code is 1(\.0)? MiB \(\d+ bytes\); a ConfigMap holds at most 1(\.0)? MiB \(1048576 bytes\)/s,
      );
      expect(err.message).toMatch(/ContainerFunction/);
    });

    it('rejects subdirectories, wheels in the code and a missing path with what to do', () => {
      const sub = tempCode({ 'handler.py': 'def main(e, c):\n    pass\n', 'pkg/__init__.py': '' });
      expect(
        errorOf(() => new PythonFunction(newPlatform(), 'f', { code: Code.fromAsset(sub), handler: 'handler.main' }))
          .message,
      ).toMatch(/has a subdirectory 'pkg'; PythonFunction ships only the top-level files/);
      const wheel = tempCode({ 'handler.py': 'def main(e, c):\n    pass\n', 'dep-1.0-py3-none-any.whl': 'PK' });
      expect(
        errorOf(() => new PythonFunction(newPlatform(), 'f', { code: Code.fromAsset(wheel), handler: 'handler.main' }))
          .message,
      ).toMatch(/has a wheel 'dep-1\.0-py3-none-any\.whl'.*requirements\.txt/s);
      expect(
        errorOf(
          () =>
            new PythonFunction(newPlatform(), 'f', {
              code: Code.fromAsset('/nonexistent/dir'),
              handler: 'handler.main',
            }),
        ).message,
      ).toMatch(/code path \/nonexistent\/dir does not exist/);
      expect(
        errorOf(() => new PythonFunction(newPlatform(), 'f', { code: Code.fromInline('  '), handler: 'handler.main' }))
          .message,
      ).toMatch(/empty source/);
    });

    it('validates the runtime, threads and memory', () => {
      const code = Code.fromInline('def main(e, c):\n    pass\n');
      const make = (props: object) => () =>
        new PythonFunction(newPlatform(), 'f', { code, handler: 'handler.main', ...props });
      expect(errorOf(make({ runtime: PythonRuntime.fromImage('python', '3.13') })).message).toMatch(/no tag/);
      expect(errorOf(make({ runtime: PythonRuntime.fromImage('python:3.13.7-slim', 'three') })).message).toMatch(
        /not a Python 3 major\.minor/,
      );
      expect(errorOf(make({ threads: 0 })).message).toMatch(/threads/);
      expect(errorOf(make({ memory: Size.mebibytes(16) })).message).toMatch(/memory/);
      expect(
        make({
          memory: Size.mebibytes(32),
          runtime: PythonRuntime.fromImage('registry.example.com/python:3.13.7-slim-bookworm', '3.13'),
        }),
      ).not.toThrow();
    });
  });
});

describe('PythonFunction in an app', () => {
  it('synthesizes beside NodeFunctions', async () => {
    const app = Testing.app();
    const platform = newPlatform({}, app);
    new PythonFunction(platform, 'py', { code: Code.fromAsset(FIXTURE), handler: 'handler.other' });
    const objects = synth(platform);
    await expectValid(objects);
    expect(find(objects, 'Service', 'py').spec.ports[0].targetPort).toBe(8080);
  });
});
