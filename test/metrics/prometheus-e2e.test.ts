/**
 * A real Prometheus (Debian's binary) scrapes a platform run by the local runner and evaluates the
 * synthesized rules. The config is the synthesized one with two local substitutions: Kubernetes
 * discovery becomes static targets that carry the pod metadata labels discovery would attach (so
 * the shipped relabeling derives `component`/`function` for real, and keeps each component's
 * metrics port: the router is offered on both its ports and scraped on its admin one only), and the
 * steps that rewrite the address to the pod IP's port are dropped (locally every process has its own port).
 */
import { ChildProcess, spawn } from 'child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { App } from 'cdk8s';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { Code, HttpTrigger, Metrics, NodeFunction, Platform } from '../../constructs';
import { CONTAINER_PORT, Labels, MetricNames, PART_OF, ROUTER_ADMIN_PORT } from '../../src/contract';
import { RecordingRules, podLabelMeta } from '../../constructs/metrics/generators';
import { startLocalPlatform, type LocalPlatform } from '../../src/local';

const NS = 'shop';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, promql: string): Promise<Sample[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: Sample[] } };
  if (body.status !== 'success') throw new Error(`query failed: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** Polls until `check` returns a value (bounded: the test fails with the last state if never). */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

describe('a real Prometheus scraping the local runner', () => {
  let dir: string;
  let platform: LocalPlatform | undefined;
  let prometheus: ChildProcess | undefined;
  let promUrl: string;
  let promLog = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubefaas-prom-e2e-'));
    const outdir = join(dir, 'manifests');
    const app = new App({ outdir });
    const faas = new Platform(app, 'faas', { namespace: NS, metrics: Metrics.prometheus({ ephemeral: true }) });
    new NodeFunction(faas, 'hello', {
      code: Code.fromInline(
        'module.exports = async (event) => event.path === "/boom" ? (() => { throw new Error("boom"); })() : "hi";',
      ),
      triggers: [
        new HttpTrigger({ path: '/hello', methods: ['GET'] }),
        new HttpTrigger({ path: '/boom', methods: ['GET'] }),
      ],
    });
    app.synth();

    platform = await startLocalPlatform({
      manifestsDir: outdir,
      port: 0,
      env: { PATH: process.env.PATH },
      log: () => undefined,
    });

    // The synthesized Prometheus config and rules, from the manifests.
    const objects = readdirSync(outdir).flatMap((f) =>
      parseAllDocuments(readFileSync(join(outdir, f), 'utf8')).map((d) => d.toJS()),
    );
    const configMap = (name: string) => objects.find((o) => o?.kind === 'ConfigMap' && o.metadata.name === name);
    const config = parse(configMap('kubefaas-prometheus').data['prometheus.yml']);
    const rules = configMap('kubefaas-prometheus-rules').data;

    const fn = platform.functions.get('hello')!;
    const target = (address: string, pod: string, labels: Record<string, string>) => ({
      targets: [address],
      labels: {
        [podLabelMeta(Labels.partOf)]: PART_OF,
        __meta_kubernetes_namespace: NS,
        __meta_kubernetes_pod_name: pod,
        __meta_kubernetes_pod_phase: 'Running',
        ...labels,
      },
    });
    const [job] = config.scrape_configs;
    delete job.kubernetes_sd_configs;
    const portLabel = (n: number) => ({ __meta_kubernetes_pod_container_port_number: String(n) });
    const router = { [podLabelMeta(Labels.platformComponent)]: 'router' };
    job.static_configs = [
      target(`127.0.0.1:${fn.port}`, 'hello-0', {
        [podLabelMeta(Labels.function)]: 'hello',
        ...portLabel(CONTAINER_PORT),
      }),
      // The router pod's two container ports, as discovery lists them: only the admin one is scraped.
      target(`127.0.0.1:${platform.port}`, 'router-0', { ...router, ...portLabel(CONTAINER_PORT) }),
      target(`127.0.0.1:${platform.adminPort}`, 'router-0', { ...router, ...portLabel(ROUTER_ADMIN_PORT) }),
    ];
    job.relabel_configs = job.relabel_configs.filter(
      (r: { target_label?: string }) => r.target_label !== '__address__',
    );
    config.global.scrape_interval = '1s';
    config.global.evaluation_interval = '1s';
    delete config.alerting;
    mkdirSync(join(dir, 'prom', 'rules'), { recursive: true });
    writeFileSync(join(dir, 'prom', 'prometheus.yml'), stringify(config));
    for (const [file, content] of Object.entries(rules))
      writeFileSync(join(dir, 'prom', 'rules', file), String(content));

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prom', 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (c: Buffer) => {
      promLog += c.toString();
    });
    prometheus.stderr!.on('data', (c: Buffer) => {
      promLog += c.toString();
    });
    await eventually(
      'Prometheus to be ready',
      async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined),
      30_000,
    );
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('invocation counts become non-zero after requests, with the labels the rules expect', async () => {
    for (let i = 0; i < 5; i++) await (await fetch(`${platform!.url}/hello`)).text();
    await (await fetch(`${platform!.url}/boom`)).text();

    const invocations = await eventually('invocations in Prometheus', async () => {
      const r = await query(
        promUrl,
        `sum by (namespace, function, component) (${MetricNames.functionInvocations}{outcome="success"})`,
      );
      return r.length === 1 && Number(r[0].value[1]) >= 5 ? r : undefined;
    }).catch((err) => {
      throw new Error(`${err.message}\nprometheus log:\n${promLog.slice(-2000)}`);
    });
    expect(invocations[0].metric).toEqual({ namespace: NS, function: 'hello', component: 'function' });

    const routed = await eventually('router requests in Prometheus', async () => {
      const r = await query(
        promUrl,
        `sum by (namespace, component) (${MetricNames.routerRequests}{function="hello", status="200"})`,
      );
      return r.length === 1 && Number(r[0].value[1]) >= 5 ? r : undefined;
    });
    expect(routed[0].metric).toEqual({ namespace: NS, component: 'router' });

    const up = await query(promUrl, 'up');
    expect(up.map((s) => [s.metric.component, s.metric.function, s.value[1]]).sort()).toEqual([
      ['function', 'hello', '1'],
      ['router', undefined, '1'],
    ]);
    // The router target that is up is its admin listener.
    expect(up.find((s) => s.metric.component === 'router')?.metric.instance).toBe(`127.0.0.1:${platform!.adminPort}`);
  });

  test('the synthesized recording rules evaluate on the scraped series', async () => {
    for (let i = 0; i < 5; i++) await (await fetch(`${platform!.url}/boom`)).text();
    const ratio = await eventually('the error ratio recording rule', async () => {
      const r = await query(promUrl, `${RecordingRules.functionErrorRatio}{namespace="${NS}", function="hello"}`);
      return r.length === 1 && Number(r[0].value[1]) > 0 ? r : undefined;
    });
    expect(Number(ratio[0].value[1])).toBeLessThanOrEqual(1);
  });
});
