/**
 * Issue 16 parts 3 and 6 at synth: the platform graph built from triggers and declared edges, its
 * warnings and errors (with construct paths), the least privilege derived from it (NATS publish
 * permissions, invokes egress/ingress), and the files synth writes next to the manifests.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Testing } from 'cdk8s';
import {
  ContainerFunction,
  CronTrigger,
  HttpTrigger,
  NodeFunction,
  Platform,
  Queue,
  QueueTrigger,
  Topic,
  type GraphFile,
  type PlatformGraph,
} from '../../constructs';
import { clearWarnings, recordedWarnings } from '../../constructs/placement/warnings';
import {
  GRAPH_FILES,
  QueueEnv,
  renderDot,
  renderGraphMarkdown,
  renderMermaid,
  topicSubject,
  DEFAULT_QUEUE_CONFIG,
} from '../../src/contract';
import { INLINE, envOf, errorOf, expectValid, find, synth, type K8sObject } from './helpers';

beforeEach(() => clearWarnings());

/**
 * Every edge kind: an HTTP route and a public by-name path, a cron trigger, public async calls, a
 * consumed topic, declared publishes, a response and a dead-letter topic, an invoke.
 */
function pipeline(app: App = Testing.app()): Platform {
  const platform = new Platform(app, 'shop', { namespace: 'shop', queue: Queue.nats() });
  new NodeFunction(platform, 'intake', {
    code: INLINE,
    triggers: [new HttpTrigger({ path: '/orders', methods: ['POST'] })],
    publishes: ['orders'],
    invokes: ['pricer'],
  });
  new NodeFunction(platform, 'pricer', {
    code: INLINE,
    invocation: { async: true },
    triggers: [new QueueTrigger({ topic: 'orders', responseTopic: 'orders.priced', errorTopic: 'orders.failed' })],
  });
  new NodeFunction(platform, 'report', {
    code: INLINE,
    invocation: { byName: true, byNameMethods: ['GET'] },
    triggers: [new CronTrigger({ name: 'hourly', schedule: '0 * * * *', timeZone: 'UTC' })],
    publishes: ['reports'],
  });
  new Topic(platform, 'orders.priced', { external: true });
  new Topic(platform, 'reports', { external: true });
  return platform;
}

const queueUsers = (objects: readonly K8sObject[]): string =>
  String(find(objects, 'ConfigMap', 'kubefaas-nats-config').data['nats.conf']);

/** The `publish: { allow: [...] }` subjects of one NATS user in nats.conf. */
function publishAllowOf(objects: readonly K8sObject[], user: string): string[] {
  const line = queueUsers(objects)
    .split('\n')
    .find((l) => l.includes(`user: "${user}"`));
  if (!line) throw new Error(`no NATS user ${user}`);
  return JSON.parse(line.match(/publish: \{ allow: (\[[^\]]*\])/)![1]) as string[];
}

describe('the graph of a platform', () => {
  test('has a node per entry point, function and topic, and an edge per trigger and declaration', async () => {
    const platform = pipeline();
    const objects = synth(platform);
    await expectValid(objects);
    const graph = platform.graph();
    expect(graph.platform).toBe('shop');
    expect(graph.namespace).toBe('shop');
    expect(graph.nodes.map((n) => n.id)).toEqual([
      'route:POST /orders',
      'cron:report/hourly',
      'async:pricer',
      'route:GET /function/report',
      'function:intake',
      'function:pricer',
      'function:report',
      'topic:orders',
      'topic:orders.failed',
      'topic:orders.priced',
      'topic:reports',
    ]);
    expect(graph.nodes.find((n) => n.id === 'topic:reports')).toEqual({
      id: 'topic:reports',
      kind: 'topic',
      name: 'reports',
      external: true,
      allowCycle: false,
    });
    expect(graph.nodes.find((n) => n.id === 'cron:report/hourly')).toEqual({
      id: 'cron:report/hourly',
      kind: 'cron',
      function: 'report',
      trigger: 'hourly',
      schedule: '0 * * * *',
      timeZone: 'UTC',
    });
    expect(graph.nodes.find((n) => n.id === 'function:pricer')).toMatchObject({ constructPath: 'shop/pricer' });
    expect(graph.edges.map((e) => `${e.from} -${e.kind}-> ${e.to}`)).toEqual([
      'route:POST /orders -http-> function:intake',
      'cron:report/hourly -cron-> function:report',
      'async:pricer -async-> function:pricer',
      'route:GET /function/report -http-> function:report',
      'topic:orders -consumes-> function:pricer',
      'function:pricer -response-> topic:orders.priced',
      'function:pricer -dead-letter-> topic:orders.failed',
      'function:intake -publishes-> topic:orders',
      'function:report -publishes-> topic:reports',
      'function:intake -invokes-> function:pricer',
    ]);
    // Everything is declared where it should be: nothing to warn about.
    expect(recordedWarnings().filter((w) => w.rule.startsWith('graph/'))).toEqual([]);
  });

  test('only public entry points are drawn; cron ticks go to the function with or without a queue', () => {
    const platform = new Platform(Testing.app(), 'p');
    new NodeFunction(platform, 'tick', { code: INLINE, triggers: [new CronTrigger({ schedule: '*/5 * * * *' })] });
    new ContainerFunction(platform, 'img', { image: 'ghcr.io/example/img:1.0.0', invokes: ['tick'] });
    synth(platform);
    expect(platform.graph().edges).toEqual([
      { from: 'cron:tick/tick', to: 'function:tick', kind: 'cron' },
      { from: 'function:img', to: 'function:tick', kind: 'invokes' },
    ]);
  });

  test('the Mermaid and DOT renderings draw every node and edge', () => {
    const graph = pipeline().graph();
    const mermaid = renderMermaid([graph]);
    expect(mermaid.startsWith('flowchart LR\n')).toBe(true);
    expect(mermaid).toContain('n0["POST /orders"]:::route');
    expect(mermaid).toContain('n1{{"cron hourly: 0 * * * * (UTC)"}}:::cron');
    expect(mermaid).toContain('n2[/"POST /async-function/pricer"/]:::async');
    expect(mermaid).toContain('n3["GET /function/report"]:::route');
    expect(mermaid).toContain('n4(["intake"]):::function');
    expect(mermaid).toContain('n7[("orders")]:::topic');
    expect(mermaid).toContain('n10[("reports (external)")]:::external');
    expect(mermaid).toContain('n5 -.->|dead letter| n8');
    expect(mermaid).toContain('n4 -->|publishes| n7');
    expect(mermaid).toContain('n4 ==>|invokes| n5');
    // One line per node and per edge, each in a form Mermaid reads.
    const body = mermaid.split('\n').filter((l) => /^ {2}n\d/.test(l));
    expect(body).toHaveLength(graph.nodes.length + graph.edges.length);
    for (const line of body)
      expect(line).toMatch(/^ {2}n\d+(\S+"[^"]*"\S+:::\w+| (-->|-\.->|==>)(\|[a-z ]+\|)? n\d+)$/);

    const dot = renderDot([graph]);
    expect(dot.startsWith('digraph platform {\n')).toBe(true);
    expect(dot.trimEnd().endsWith('}')).toBe(true);
    expect(dot).toContain('n7 [label="orders", shape=cylinder];');
    expect(dot).toContain('n5 -> n8 [label="dead letter", style=dashed];');
    expect(dot).toContain('n4 -> n5 [label="invokes", style=bold];');
    expect(dot.split('\n').filter((l) => / -> /.test(l))).toHaveLength(graph.edges.length);
  });

  test('labels are escaped for each syntax; several platforms become subgraphs / clusters', () => {
    const tricky: PlatformGraph = {
      platform: 'a"b',
      namespace: 'x',
      nodes: [
        { id: 'route:GET h<"x">/p', kind: 'route', methods: ['GET'], path: '/p"#<x>', host: 'h' },
        { id: 'function:f', kind: 'function', name: 'f', constructPath: 'a/f' },
      ],
      edges: [{ from: 'route:GET h<"x">/p', to: 'function:f', kind: 'http' }],
    };
    const mermaid = renderMermaid([tricky, { ...tricky, platform: 'second' }]);
    expect(mermaid).toContain('n0["GET h/p#34;#35;#60;x#62;"]:::route');
    expect(mermaid).toContain('subgraph p0["a#34;b (namespace x)"]');
    expect(mermaid).toContain('p1_n0 --> p1_n1');
    expect(mermaid).not.toMatch(/"[^"\n]*"[^"\n]*"[^:\n]*:::/); // no stray quote inside a label
    const dot = renderDot([tricky, { ...tricky, platform: 'second' }]);
    expect(dot).toContain('p0_n0 [label="GET h/p\\"#<x>", shape=box];');
    expect(dot).toContain('subgraph cluster_1 {');
  });
});

describe('graph checks at synth', () => {
  const warnings = (rule: string) => recordedWarnings().filter((w) => w.rule === rule);

  test('a topic published to that nothing consumes warns, naming the producer and what to add', () => {
    const platform = new Platform(Testing.app(), 'p', { queue: Queue.nats() });
    new NodeFunction(platform, 'audit', { code: INLINE, publishes: ['audit.log'] });
    synth(platform);
    const [w] = warnings('graph/topic-without-consumer');
    expect(w.path).toBe('p/audit');
    expect(w.message).toMatch(
      /topic 'audit\.log' is published to by function 'audit' \(p\/audit, `publishes`\) but no function of the platform consumes it: add a QueueTrigger on 'audit\.log', or declare new Topic\(platform, 'audit\.log', \{ external: true \}\)/,
    );
  });

  test('a consumed topic nothing publishes to warns, naming the consumer; a response topic counts as a producer', () => {
    const platform = new Platform(Testing.app(), 'p', { queue: Queue.nats() });
    new NodeFunction(platform, 'first', {
      code: INLINE,
      triggers: [new QueueTrigger({ topic: 'inbox', responseTopic: 'stage2' })],
    });
    new NodeFunction(platform, 'second', { code: INLINE, triggers: [new QueueTrigger({ topic: 'stage2' })] });
    synth(platform);
    expect(warnings('graph/topic-without-producer').map((w) => [w.path, w.message])).toEqual([
      [
        'p/first',
        expect.stringMatching(
          /^topic 'inbox' is consumed by function 'first' \(p\/first, a QueueTrigger\) but no function of the platform publishes to it: add 'inbox' to the `publishes` of the function that sends it, or declare new Topic\(platform, 'inbox', \{ external: true \}\) if programs outside/,
        ),
      ],
    ]);
    // Dead-letter topics (dead-letter.first, dead-letter.second) need no consumer.
    expect(warnings('graph/topic-without-consumer')).toEqual([]);
  });

  test('`external` topics do not warn; the warning is on the Topic when one is declared', () => {
    const platform = new Platform(Testing.app(), 'p', { queue: Queue.nats() });
    new NodeFunction(platform, 'hook', { code: INLINE, triggers: [new QueueTrigger({ topic: 'webhooks' })] });
    new Topic(platform, 'webhooks', { external: true });
    new NodeFunction(platform, 'noisy', { code: INLINE, publishes: ['chatter'] });
    new Topic(platform, 'chatter');
    synth(platform);
    expect(warnings('graph/topic-without-producer')).toEqual([]);
    expect(warnings('graph/topic-without-consumer').map((w) => w.path)).toEqual(['p/topic-chatter']);
  });

  test('a cycle through topics fails synth naming the loop; allowCycle on one of its topics permits it', () => {
    const build = (allow: boolean) => {
      const platform = new Platform(Testing.app(), 'p', { queue: Queue.nats() });
      new NodeFunction(platform, 'a', {
        code: INLINE,
        triggers: [new QueueTrigger({ topic: 'ping' })],
        publishes: ['pong'],
      });
      new NodeFunction(platform, 'b', {
        code: INLINE,
        triggers: [new QueueTrigger({ topic: 'pong' })],
        invokes: ['c'],
      });
      new NodeFunction(platform, 'c', { code: INLINE, publishes: ['ping'] });
      if (allow) new Topic(platform, 'pong', { allowCycle: true });
      return platform;
    };
    expect(() => synth(build(false))).toThrow(
      /\[p\] a cycle through topics: topic 'ping' → function 'a' → topic 'pong' → function 'b' → function 'c' → topic 'ping', so a message can go round forever\. Break the loop, or declare one of its topics with new Topic\(platform, 'ping', \{ allowCycle: true \}\)/,
    );
    expect(() => synth(build(true))).not.toThrow();
    expect(
      build(true)
        .graph()
        .nodes.find((n) => n.id === 'topic:pong'),
    ).toMatchObject({ allowCycle: true });
  });

  test('a function publishing to the topic it consumes is a cycle too', () => {
    const platform = new Platform(Testing.app(), 'p', { queue: Queue.nats() });
    new NodeFunction(platform, 'echo', {
      code: INLINE,
      triggers: [new QueueTrigger({ topic: 'echo' })],
      publishes: ['echo'],
    });
    expect(() => synth(platform)).toThrow(/a cycle through topics: topic 'echo' → function 'echo' → topic 'echo'/);
  });

  test('bad declarations fail with the construct path and the fix', () => {
    const platform = new Platform(Testing.app(), 'p', { queue: Queue.nats() });
    expect(errorOf(() => new NodeFunction(platform, 'x', { code: INLINE, publishes: ['bad topic'] })).message).toMatch(
      /\[p\/x\] `publishes\[0\]`: invalid topic 'bad topic'/,
    );
    expect(
      errorOf(() => new NodeFunction(platform, 'y', { code: INLINE, publishes: 'orders' as never })).message,
    ).toMatch(/\[p\/y\] `publishes` must be an array/);
    new Topic(platform, 'orders');
    expect(errorOf(() => new Topic(platform, 'orders', { external: true })).message).toMatch(
      /topic 'orders' is already declared by p\/topic-orders/,
    );
    expect(errorOf(() => new Topic(platform, 'a b')).message).toMatch(/\[p\/topic-a b\] invalid topic 'a b'/);
    expect(errorOf(() => new Topic(Testing.chart(), 'lonely')).message).toMatch(/the topic belongs to no platform/);
    expect(errorOf(() => new Topic(new Platform(Testing.app(), 'q'), 'orders')).message).toMatch(
      /\[q\/topic-orders\] platform q has no queue for topic 'orders'\. Give the platform a queue/,
    );
    expect(errorOf(() => new Topic(platform, 'flag', { external: 'yes' as never })).message).toMatch(
      /`external` must be true or false/,
    );
  });

  test('unknown invokes, publishing without a queue, and publishing from a container fail synth', () => {
    const a = new Platform(Testing.app(), 'a', { queue: Queue.nats() });
    new NodeFunction(a, 'caller', { code: INLINE, invokes: ['nobody'] });
    new ContainerFunction(a, 'img', { image: 'ghcr.io/example/img:1.0.0', publishes: ['x'] });
    const message = errorOf(() => synth(a)).message;
    expect(message).toMatch(
      /\[a\/caller\] `invokes` names function 'nobody', but platform a has no function of that name/,
    );
    expect(message).toMatch(
      /\[a\/img\] the function publishes to 'x', but only NodeFunctions and PythonFunctions publish to the queue/,
    );
    const b = new Platform(Testing.app(), 'b');
    new NodeFunction(b, 'p', { code: INLINE, publishes: ['x'] });
    expect(() => synth(b)).toThrow(
      /\[b\/p\] the function publishes to 'x' but platform b has no queue\. Give the platform a queue/,
    );
  });
});

describe('least privilege from the graph', () => {
  test("each function's NATS user publishes only to its declared topics and its triggers' response and dead-letter topics", async () => {
    const objects = synth(pipeline());
    await expectValid(objects);
    const subject = (t: string) => topicSubject(DEFAULT_QUEUE_CONFIG, t);
    const topicsOf = (user: string) =>
      publishAllowOf(objects, user).filter((s) => s.startsWith(`${DEFAULT_QUEUE_CONFIG.topicsPrefix}.`));
    expect(topicsOf('fn-intake')).toEqual([subject('orders')]);
    expect(topicsOf('fn-pricer')).toEqual([subject('orders.priced'), subject('orders.failed')]);
    expect(topicsOf('fn-report')).toEqual([subject('reports')]);
    expect(queueUsers(objects)).not.toContain(`"${DEFAULT_QUEUE_CONFIG.topicsPrefix}.>"`);
    // The runtime gets the same list, to refuse context.publish elsewhere with a clear error.
    const publishesEnv = (fn: string) =>
      envOf(find(objects, 'Deployment', fn)).find((e) => e.name === QueueEnv.PUBLISHES)?.value;
    expect(publishesEnv('intake')).toBe('["orders"]');
    expect(publishesEnv('pricer')).toBe('[]');
  });

  test('`invokes` gives the caller egress to the target and makes the target admit it, like Egress.toFunction', async () => {
    const objects = synth(pipeline());
    await expectValid(objects);
    const policy = (name: string) => find(objects, 'NetworkPolicy', name).spec;
    const toPricer = {
      to: [{ podSelector: { matchLabels: { 'kubefaas.dev/function': 'pricer' } } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    };
    expect(policy('intake').egress).toContainEqual(toPricer);
    expect(policy('report').egress).not.toContainEqual(toPricer);
    expect(policy('pricer').ingress).toContainEqual({
      from: [{ podSelector: { matchLabels: { 'kubefaas.dev/function': 'intake' } } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    });
    expect(JSON.stringify(policy('report').ingress)).not.toContain('"intake"');
  });
});

describe('graph files', () => {
  test('app.synth() writes platform.graph.jsonc and platform.md next to the manifests', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubefaas-graph-'));
    try {
      const app = new App({ outdir });
      const platform = pipeline(app);
      const second = new Platform(app, 'second', { namespace: 'second' });
      new NodeFunction(second, 'solo', { code: INLINE, triggers: [new HttpTrigger({ path: '/solo' })] });
      app.synth();
      expect(fs.readdirSync(outdir).sort()).toEqual([
        GRAPH_FILES.json,
        GRAPH_FILES.markdown,
        'second.k8s.yaml',
        'shop.k8s.yaml',
      ]);
      const file = JSON.parse(fs.readFileSync(path.join(outdir, GRAPH_FILES.json), 'utf8')) as GraphFile;
      expect(file).toEqual({ version: 1, platforms: [platform.graph(), second.graph()] });
      const markdown = fs.readFileSync(path.join(outdir, GRAPH_FILES.markdown), 'utf8');
      expect(markdown).toBe(renderGraphMarkdown(file));
      expect(markdown).toContain('## shop (namespace `shop`)\n\n```mermaid\nflowchart LR\n');
      expect(markdown).toContain('## second (namespace `second`)');
      // A second synth leaves unchanged files alone (watchers see no change).
      const before = fs.statSync(path.join(outdir, GRAPH_FILES.json)).mtimeMs;
      app.synth();
      expect(fs.statSync(path.join(outdir, GRAPH_FILES.json)).mtimeMs).toBe(before);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  test('rendering without an output directory (chart.toJson(), the Pulumi component) creates none', () => {
    const outdir = path.join(os.tmpdir(), `kubefaas-graph-absent-${process.pid}`);
    fs.rmSync(outdir, { recursive: true, force: true });
    pipeline(new App({ outdir })).toJson();
    expect(fs.existsSync(outdir)).toBe(false);
  });
});
