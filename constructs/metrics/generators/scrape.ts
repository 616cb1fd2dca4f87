/**
 * How Prometheus finds kubefaas pods and which labels their series get. One list of relabel steps,
 * rendered two ways: snake_case for the bundled Prometheus's `kubernetes_sd_configs` job and
 * camelCase for a prometheus-operator PodMonitor/ServiceMonitor, so both modes label series alike
 * and the same rules work on either.
 */
import {
  ADMIN_PORT_NAME,
  CONTAINER_PORT,
  Endpoints,
  HTTP_PORT_NAME,
  Labels,
  PART_OF,
  ROUTER_ADMIN_PORT,
  SCALER_ADMIN_PORT,
} from '../../../src/contract';

/** Pod components Prometheus scrapes (the `component` target label). */
export const ScrapedComponents = {
  function: 'function',
  router: 'router',
  /** With `Autoscaling.keda()`: the KEDA external scaler (`kubefaas_scaler_*`). */
  scaler: 'scaler',
} as const;

/**
 * Where each scraped component serves `/metrics`: functions on their serving port, the router and
 * the scaler on their admin ports (the router's public port answers 404 there). Port names for the operator's monitors
 * (container ports for a PodMonitor, Service ports for a ServiceMonitor: the same names), numbers
 * for the bundled server's pod discovery.
 */
export const METRICS_PORTS = {
  [ScrapedComponents.function]: { name: HTTP_PORT_NAME, number: CONTAINER_PORT },
  [ScrapedComponents.router]: { name: ADMIN_PORT_NAME, number: ROUTER_ADMIN_PORT },
  [ScrapedComponents.scaler]: { name: ADMIN_PORT_NAME, number: SCALER_ADMIN_PORT },
} as const;

/** Temporary label holding the port a pod target is scraped on (discovery steps). */
const PORT_LABEL = '__tmp_kubefaas_port';

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
 * For a monitor endpoint on `component`'s metrics port: keep only that component's targets (the
 * router's pods also declare the functions' port name `http`, where nothing answers /metrics).
 */
export function componentOnlyStep(component: keyof typeof METRICS_PORTS): RelabelStep {
  return { sourceLabels: ['component'], regex: component, action: 'keep' };
}

/**
 * Steps only the plain `kubernetes_sd_configs` job needs (the operator generates its own for the
 * namespace, pod and port selection).
 */
function discoverySteps(): RelabelStep[] {
  const ports = Object.values(METRICS_PORTS).map((p) => p.number);
  return [
    { sourceLabels: [podLabelMeta(Labels.partOf)], regex: PART_OF, action: 'keep' },
    { sourceLabels: ['__meta_kubernetes_pod_container_init'], regex: 'true', action: 'drop' },
    // Pending pods stay (as down targets) so "no ready replica" sees a pod that cannot start.
    { sourceLabels: ['__meta_kubernetes_pod_phase'], regex: 'Succeeded|Failed', action: 'drop' },
    // One target per container port is generated; keep the metrics ports (or a container declaring
    // none, scraped on the serving port); `portStep` then keeps each component's own.
    {
      sourceLabels: ['__meta_kubernetes_pod_container_port_number'],
      regex: `(${ports.join('|')})?`,
      action: 'keep',
    },
    { targetLabel: PORT_LABEL, replacement: String(CONTAINER_PORT), action: 'replace' },
    {
      sourceLabels: ['__meta_kubernetes_pod_container_port_number'],
      regex: '(\\d+)',
      targetLabel: PORT_LABEL,
      replacement: '$1',
      action: 'replace',
    },
    {
      sourceLabels: ['__meta_kubernetes_pod_ip', PORT_LABEL],
      regex: '(.+);(.+)',
      targetLabel: '__address__',
      replacement: '$1:$2',
      action: 'replace',
    },
    // IPv6 pod addresses need brackets.
    {
      sourceLabels: ['__meta_kubernetes_pod_ip', PORT_LABEL],
      regex: '(.*:.*);(.+)',
      targetLabel: '__address__',
      replacement: '[$1]:$2',
      action: 'replace',
    },
    { sourceLabels: ['__meta_kubernetes_namespace'], targetLabel: 'namespace', action: 'replace' },
    { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'pod', action: 'replace' },
  ];
}

/** After `labelingSteps`: each component on its own metrics port (the router's admin port, not `http`). */
function portStep(): RelabelStep {
  const pairs = Object.entries(METRICS_PORTS).map(([component, port]) => `${component};${port.number}`);
  return { sourceLabels: ['component', PORT_LABEL], regex: pairs.join('|'), action: 'keep' };
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
    relabel_configs: [...discoverySteps(), ...labelingSteps(), portStep()].map(toPrometheusRelabel),
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
