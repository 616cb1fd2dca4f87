import { Duration, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { Endpoints, Labels, PART_OF } from '../../src/contract';
import {
  METRICS_PORTS,
  ScrapedComponents,
  componentOnlyStep,
  labelingSteps,
  ruleGroups,
  toOperatorRelabel,
} from './generators';
import { ValidationError } from '../errors';
import { validateLabels } from '../validation';
import { GrafanaDashboard } from './dashboard';
import { MonitoringNames, apiObject } from './objects';
import { MetricsBindOptions, OperatorMetricsOptions } from './options';
import { monitoredFunctions, platformAlerts, unknownRuleFunctions, validateRuleOptions, wholeSeconds } from './resolve';

export interface OperatorMonitoringProps extends OperatorMetricsOptions, MetricsBindOptions {}

/**
 * For clusters running the Prometheus Operator: a PodMonitor (or ServiceMonitor) selecting the
 * platform's pods and a PrometheusRule with the same rule groups the bundled server loads. The
 * relabelings are the bundled server's, so series carry the same `component`/`function` labels.
 */
export class OperatorMonitoring extends Construct {
  constructor(scope: Construct, id: string, props: OperatorMonitoringProps) {
    super(scope, id);
    const { namespace } = props;
    // The user's labels (e.g. `release: kps`) let the operator's Prometheus select these objects.
    const objectLabels = { ...props.commonLabels, ...validateLabels(this, props.labels ?? {}) };
    const interval = wholeSeconds(this, 'metrics scrapeInterval', props.scrapeInterval ?? Duration.seconds(15));
    if (interval < 1)
      throw new ValidationError(
        this,
        'metrics scrapeInterval must be at least 1 second',
        'Use e.g. Duration.seconds(15)',
      );
    validateRuleOptions(this, props.rules);
    this.node.addValidation({ validate: () => unknownRuleFunctions(props.functions(), props.rules) });
    // One endpoint per metrics port: functions on `http`, the router on `admin` (container port
    // names for a PodMonitor, the same Service port names for a ServiceMonitor).
    // The scaler only exists with KEDA; an endpoint for it otherwise would select nothing.
    const components = Object.values(ScrapedComponents).filter((c) => c !== ScrapedComponents.scaler || props.scaler);
    const endpoints = components.map((component) => ({
      port: METRICS_PORTS[component].name,
      path: Endpoints.metrics,
      interval: `${interval}s`,
      honorLabels: true,
      relabelings: [...labelingSteps(), componentOnlyStep(component)].map(toOperatorRelabel),
    }));
    const selector = { matchLabels: { [Labels.partOf]: PART_OF } };
    const namespaceSelector = { matchNames: [namespace] };
    if ((props.monitor ?? 'PodMonitor') === 'PodMonitor') {
      apiObject(this, 'PodMonitor', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PodMonitor',
        name: MonitoringNames.monitor,
        namespace,
        labels: objectLabels,
        body: { spec: { selector, namespaceSelector, podMetricsEndpoints: endpoints } },
      });
    } else {
      apiObject(this, 'ServiceMonitor', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        name: MonitoringNames.monitor,
        namespace,
        labels: objectLabels,
        body: { spec: { selector, namespaceSelector, endpoints } },
      });
    }
    apiObject(this, 'PrometheusRule', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      name: MonitoringNames.rule,
      namespace,
      labels: objectLabels,
      body: {
        spec: Lazy.any({
          produce: () => ({
            groups: ruleGroups({
              namespace,
              functions: monitoredFunctions(this, props.functions(), props.rules),
              platform: platformAlerts(this, props.rules),
            }),
          }),
        }),
      },
    });
    if (props.dashboard !== false) new GrafanaDashboard(this, 'Dashboard', { namespace, labels: props.commonLabels });
  }
}
