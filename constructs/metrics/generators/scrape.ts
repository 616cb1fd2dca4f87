/**
 * How Prometheus finds kubefaas pods and which labels their series get. One list of relabel steps,
 * rendered two ways: snake_case for the bundled Prometheus's `kubernetes_sd_configs` job and
 * camelCase for a prometheus-operator PodMonitor/ServiceMonitor, so both modes label series alike
 * and the same rules work on either.
 */
import { CONTAINER_PORT, Endpoints, Labels, PART_OF } from '../../../src/contract';

/** Pod components Prometheus scrapes (the `component` target label). */
export const ScrapedComponents = {
  function: 'function',
  router: 'router',
} as const;

/** Container port name of functions and the router; PodMonitors select the endpoint by it. */
export const METRICS_PORT_NAME = 'http';

/** Pod annotation that opts a pod out of scraping (value `"false"`), the community convention. */
export const SCRAPE_ANNOTATION = 'prometheus.io/scrape';

/** Scrape interval of every kubefaas target. */
export const SCRAPE_INTERVAL = '15s';

/** `__meta_kubernetes_pod_label_<name>` for a label, with the sanitizing Prometheus applies. */
export function podLabelMeta(label: string): string {
  return `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

export function podAnnotationMeta(annotation: string): string {
  return `__meta_kubernetes_pod_annotation_${annotation.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/** One relabel step, in the union of the fields both renderings need. */
export interface RelabelStep {
  readonly sourceLabels?: readonly string[];
  readonly targetLabel?: string;
  readonly regex?: string;
  readonly replacement?: string;
  readonly action?: 'replace' | 'keep' | 'drop';
}

/**
 * Steps that turn pod metadata into the `component` and `function` target labels, and drop pods
 * that are not ours to scrape. Shared by both modes.
 */
export function labelingSteps(): RelabelStep[] {
  const components = Object.values(ScrapedComponents).join('|');
  return [
    // Opt-out for pods that do not serve our metrics (a ContainerFunction image, say).
    { sourceLabels: [podAnnotationMeta(SCRAPE_ANNOTATION)], regex: 'false', action: 'drop' },
    {
      sourceLabels: [podLabelMeta(Labels.platformComponent)],
      regex: '(.+)',
      targetLabel: 'component',
      replacement: '$1',
      action: 'replace',
    },
    // A function pod carries the function label and no component label.
    {
      sourceLabels: [podLabelMeta(Labels.function)],
      regex: '(.+)',
      targetLabel: 'component',
      replacement: ScrapedComponents.function,
      action: 'replace',
    },
    {
      sourceLabels: [podLabelMeta(Labels.function)],
      regex: '(.+)',
      targetLabel: 'function',
      replacement: '$1',
      action: 'replace',
    },
    { sourceLabels: ['component'], regex: components, action: 'keep' },
  ];
}

/**
 * Steps only the plain `kubernetes_sd_configs` job needs (the operator generates its own for the
 * namespace, pod and port selection).
 */
function discoverySteps(): RelabelStep[] {
  return [
    { sourceLabels: [podLabelMeta(Labels.partOf)], regex: PART_OF, action: 'keep' },
    { sourceLabels: ['__meta_kubernetes_pod_container_init'], regex: 'true', action: 'drop' },
    // Pending pods stay (as down targets) so "no ready replica" sees a pod that cannot start.
    { sourceLabels: ['__meta_kubernetes_pod_phase'], regex: 'Succeeded|Failed', action: 'drop' },
    // One target per container port is generated; keep the serving port (or a container declaring none).
    { sourceLabels: ['__meta_kubernetes_pod_container_port_number'], regex: `(${CONTAINER_PORT})?`, action: 'keep' },
    {
      sourceLabels: ['__meta_kubernetes_pod_ip'],
      regex: '(.+)',
      targetLabel: '__address__',
      replacement: `$1:${CONTAINER_PORT}`,
      action: 'replace',
    },
    // IPv6 pod addresses need brackets.
    {
      sourceLabels: ['__meta_kubernetes_pod_ip'],
      regex: '(.*:.*)',
      targetLabel: '__address__',
      replacement: `[$1]:${CONTAINER_PORT}`,
      action: 'replace',
    },
    { sourceLabels: ['__meta_kubernetes_namespace'], targetLabel: 'namespace', action: 'replace' },
    { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'pod', action: 'replace' },
  ];
}

/** A relabel step in prometheus.yml's snake_case. */
export function toPrometheusRelabel(step: RelabelStep): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (step.sourceLabels) out.source_labels = [...step.sourceLabels];
  if (step.regex !== undefined) out.regex = step.regex;
  if (step.targetLabel) out.target_label = step.targetLabel;
  if (step.replacement !== undefined) out.replacement = step.replacement;
  if (step.action) out.action = step.action;
  return out;
}

/** A relabel step in the operator's camelCase (`RelabelConfig`). */
export function toOperatorRelabel(step: RelabelStep): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (step.sourceLabels) out.sourceLabels = [...step.sourceLabels];
  if (step.regex !== undefined) out.regex = step.regex;
  if (step.targetLabel) out.targetLabel = step.targetLabel;
  if (step.replacement !== undefined) out.replacement = step.replacement;
  if (step.action) out.action = step.action;
  return out;
}

export interface PrometheusConfigInput {
  readonly namespace: string;
  /** Rule files, as Prometheus will see their paths. */
  readonly ruleFiles: readonly string[];
  /** `host:port` of Alertmanager, if any. */
  readonly alertmanager?: string;
  /** @default SCRAPE_INTERVAL */
  readonly scrapeInterval?: string;
  /** Extra external labels (e.g. cluster name) on every series sent to Alertmanager. */
  readonly externalLabels?: Readonly<Record<string, string>>;
}

/** The scrape job that discovers kubefaas pods of one namespace. */
export function podScrapeJob(namespace: string): Record<string, unknown> {
  return {
    job_name: 'kubefaas',
    metrics_path: Endpoints.metrics,
    // The runtime's own `function` label equals the target's; honouring it avoids `exported_function`.
    honor_labels: true,
    kubernetes_sd_configs: [
      {
        role: 'pod',
        namespaces: { names: [namespace] },
        // Filtering at the API server keeps the watch small in busy namespaces.
        selectors: [{ role: 'pod', label: `${Labels.partOf}=${PART_OF}` }],
      },
    ],
    relabel_configs: [...discoverySteps(), ...labelingSteps()].map(toPrometheusRelabel),
  };
}

/** prometheus.yml of the bundled server, as an object (the construct renders it as YAML). */
export function prometheusConfig(input: PrometheusConfigInput): Record<string, unknown> {
  const interval = input.scrapeInterval ?? SCRAPE_INTERVAL;
  const config: Record<string, unknown> = {
    global: {
      scrape_interval: interval,
      evaluation_interval: interval,
      ...(input.externalLabels && Object.keys(input.externalLabels).length > 0
        ? { external_labels: { ...input.externalLabels } }
        : {}),
    },
    rule_files: [...input.ruleFiles],
    scrape_configs: [podScrapeJob(input.namespace)],
  };
  if (input.alertmanager) {
    config.alerting = { alertmanagers: [{ static_configs: [{ targets: [input.alertmanager] }] }] };
  }
  return config;
}
