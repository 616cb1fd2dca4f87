import { execFile } from 'child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { Chart, Duration, Testing } from 'cdk8s';
import { Metrics, MonitoredFunctionInfo } from '../../constructs/metrics';
import { NetworkPolicies } from '../../constructs/network/network-policies';
import { K8sObject } from '../support/validate';

export const NAMESPACE = 'faas';
export const COMMON_LABELS = { 'app.kubernetes.io/part-of': 'kubefaas', 'app.kubernetes.io/managed-by': 'kubefaas' };
/** The default NetworkPolicies options, rendered (what a Platform passes to its metrics). */
export const NETWORK = NetworkPolicies.perComponent()._resolve(new Chart(Testing.app(), 'network'), NAMESPACE);

export const SAMPLE_FUNCTIONS: MonitoredFunctionInfo[] = [
  { name: 'hello', timeout: Duration.seconds(10) },
  { name: 'analytics', timeout: Duration.seconds(10) },
  { name: 'resize', timeout: Duration.seconds(60), alerts: { errorRatio: { threshold: 0.2 } } },
  { name: 'batch', timeout: Duration.seconds(10), minReplicas: 0 },
];

/** Synthesizes only what a metrics setup emits for a platform of `functions`. */
export function synthMetrics(
  metrics: Metrics,
  functions: readonly MonitoredFunctionInfo[] = SAMPLE_FUNCTIONS,
): K8sObject[] {
  const chart = new Chart(Testing.app(), 'platform');
  metrics.bind(chart, {
    namespace: NAMESPACE,
    functions: () => functions,
    commonLabels: COMMON_LABELS,
    network: NETWORK,
  });
  return Testing.synth(chart) as K8sObject[];
}

export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found)
    throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`);
  return found;
}

export interface ToolResult {
  readonly code: number;
  readonly output: string;
}

/** Runs a command to completion; never rejects, so tests can assert on the output. */
export function run(command: string, args: readonly string[], cwd?: string): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** A temporary directory with `files` written into it (relative paths), removed by `cleanup`. */
export function tempFiles(files: Record<string, string>): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-metrics-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
