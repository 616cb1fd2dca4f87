/**
 * Runs synthesized pods as local processes, the way the kubelet would start them: the container's
 * env (literals, and secretKeyRefs filled from an in-memory stand-in for the user's Secret), the
 * synthesized nats.conf on a real nats-server (only ports and paths a laptop lacks rewritten), and
 * the runtime/router/cron bundles.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Env, QueueEnv } from '../../src/contract';
import { freePort } from './nats-server';
import { waitFor } from './support';

export type K8sObject = Record<string, any>;

const root = resolve(__dirname, '..', '..');
export const Bundles = {
  runtime: join(root, 'lib', 'pod', 'runtime.js'),
  router: join(root, 'lib', 'pod', 'router.js'),
  cron: join(root, 'lib', 'pod', 'cron.js'),
} as const;

export function containerOf(o: K8sObject): K8sObject {
  return (o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec).containers[0];
}

export async function httpStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

export class SynthesizedPods {
  readonly dir = mkdtempSync(join(tmpdir(), 'kubefaas-synth-pods-'));
  /** What the user put in the auth Secret: one password per key (= NATS user). */
  private readonly secret = new Map<string, string>();
  private readonly procs: ChildProcess[] = [];
  natsUrl = '';
  natsLog = '';

  constructor(
    readonly objects: readonly K8sObject[],
    private readonly authSecret = 'kubefaas-nats-auth',
  ) {}

  find(kind: string, name: string): K8sObject {
    const found = this.objects.find((o) => o.kind === kind && o.metadata?.name === name);
    if (!found) throw new Error(`no ${kind}/${name} in the synthesized objects`);
    return found;
  }

  passwordFor(key: string): string {
    if (!this.secret.has(key)) this.secret.set(key, `k${randomBytes(24).toString('hex')}`);
    return this.secret.get(key)!;
  }

  /** The container's env as the kubelet builds it, plus `overrides`. */
  envOf(o: K8sObject, overrides: Record<string, string> = {}): Record<string, string> {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
    for (const e of containerOf(o).env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.secretKeyRef) {
        if (e.valueFrom.secretKeyRef.name !== this.authSecret)
          throw new Error(`unexpected Secret ${e.valueFrom.secretKeyRef.name}`);
        env[e.name] = this.passwordFor(e.valueFrom.secretKeyRef.key);
      }
    }
    return { ...env, ...overrides };
  }

  spawn(command: string, args: string[], env: Record<string, string>): { proc: ChildProcess; output: () => string } {
    const proc = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(proc);
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    return { proc, output: () => out };
  }

  /** nats-server with the synthesized nats.conf; `rewrite` adapts more paths (e.g. the TLS directory). */
  async startNats(rewrite: (conf: string) => string = (c) => c): Promise<string> {
    const port = await freePort();
    const monitor = await freePort();
    const conf = rewrite(
      String(this.find('ConfigMap', 'kubefaas-nats-config').data['nats.conf'])
        .replace(/^port: 4222$/m, `host: 127.0.0.1\nport: ${port}`)
        .replace(/^http_port: 8222$/m, `http_port: ${monitor}`)
        .replace(/^pid_file: .*$/m, `pid_file: "${join(this.dir, 'nats.pid')}"`)
        .replace(/store_dir: .*$/m, `store_dir: "${join(this.dir, 'js')}"`),
    );
    mkdirSync(join(this.dir, 'js'), { recursive: true });
    writeFileSync(join(this.dir, 'nats.conf'), conf);
    const server = this.spawn(
      'nats-server',
      ['-c', join(this.dir, 'nats.conf')],
      this.envOf(this.find('StatefulSet', 'kubefaas-nats'), { SERVER_NAME: 'test' }),
    );
    server.proc.stderr!.on('data', (c: Buffer) => (this.natsLog += c.toString()));
    this.natsUrl = `nats://127.0.0.1:${port}`;
    await waitFor('nats-server healthy', async () => {
      if (server.proc.exitCode !== null) throw new Error(`nats-server exited: ${server.output()}`);
      return fetch(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`).then(
        (r) => r.ok,
        () => false,
      );
    });
    return this.natsUrl;
  }

  /** A function pod: the runtime bundle with the function's synthesized env and code. */
  async startFunction(
    name: string,
    overrides: Record<string, string> = {},
  ): Promise<{ port: number; output: () => string }> {
    const port = await freePort();
    const handler = join(this.dir, `${name}.js`);
    // The code ConfigMap the Deployment mounts (content-hashed name: `<fn>-code-<hash>`).
    const volumes = this.find('Deployment', name).spec.template.spec.volumes as Array<{
      name: string;
      configMap?: { name: string };
    }>;
    const codeMap = volumes.find((v) => v.configMap?.name.startsWith(`${name}-code-`))!.configMap!.name;
    writeFileSync(handler, String(this.find('ConfigMap', codeMap).data['index.js']));
    const pod = this.spawn(
      process.execPath,
      [Bundles.runtime],
      this.envOf(this.find('Deployment', name), {
        [Env.PORT]: String(port),
        [Env.HANDLER_PATH]: handler,
        [Env.DRAIN_DELAY_MS]: '0',
        [QueueEnv.NATS_URL]: this.natsUrl,
        ...overrides,
      }),
    );
    return { port, output: pod.output };
  }

  dispose(): void {
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A CA and a server certificate for 127.0.0.1, as cert-manager would put them in the Secret. */
export function makeCertificates(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=kubefaas test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kubefaas-nats', '-keyout', 'tls.key', '-out', 'tls.csr');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(
    'x509',
    '-req',
    '-in',
    'tls.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.ext',
    '-out',
    'tls.crt',
  );
}
