import { Construct } from 'constructs';
import { ValidationError } from '../errors';
import { isDns1123Label } from '../validation';
import { OperatorMonitoring } from './operator-monitoring';
import { MetricsBinding, MetricsBindOptions, OperatorMetricsOptions, PrometheusMetricsOptions } from './options';
import { PrometheusServer } from './prometheus-server';

export type MetricsMode = 'prometheus' | 'operator' | 'none';

/**
 * How a platform is monitored: `Metrics.prometheus()` bundles a Prometheus server,
 * `Metrics.operator()` emits PodMonitor/ServiceMonitor + PrometheusRule objects for an existing
 * Prometheus Operator, `Metrics.none()` emits nothing. The runtime and router serve `/metrics`
 * either way.
 */
export abstract class Metrics {
  /** A bundled Prometheus (StatefulSet) that scrapes the platform's pods and evaluates the rules. */
  public static prometheus(options: PrometheusMetricsOptions = {}): Metrics {
    return new BundledPrometheus(options);
  }

  /** prometheus-operator objects for a Prometheus that already runs in the cluster. */
  public static operator(options: OperatorMetricsOptions = {}): Metrics {
    return new PrometheusOperator(options);
  }

  /** No monitoring objects. */
  public static none(): Metrics {
    return new NoMetrics();
  }

  public abstract readonly mode: MetricsMode;

  /** Creates the monitoring objects under `scope`; called once by the Platform. */
  public abstract bind(scope: Construct, options: MetricsBindOptions): MetricsBinding;
}

class BundledPrometheus extends Metrics {
  public readonly mode = 'prometheus';
  constructor(private readonly options: PrometheusMetricsOptions) {
    super();
  }

  public bind(scope: Construct, options: MetricsBindOptions): MetricsBinding {
    const server = new PrometheusServer(scope, 'Metrics', { ...this.options, ...options });
    return { scrapers: [{ podSelector: { matchLabels: server.podLabels } }], workloads: server.workloads };
  }
}

class PrometheusOperator extends Metrics {
  public readonly mode = 'operator';
  constructor(private readonly options: OperatorMetricsOptions) {
    super();
  }

  public bind(scope: Construct, options: MetricsBindOptions): MetricsBinding {
    new OperatorMonitoring(scope, 'Metrics', { ...this.options, ...options });
    const scraper = this.options.scraper ?? { namespace: 'monitoring' };
    if (!isDns1123Label(scraper.namespace)) {
      throw new ValidationError(
        scope,
        `metrics scraper namespace "${scraper.namespace}" is not a valid namespace name`,
        'Name the namespace the Prometheus pods run in',
      );
    }
    // A selector for someone else's pods: any label keys are fine here (unlike labels we set).
    const podLabels = { ...(scraper.podLabels ?? { 'app.kubernetes.io/name': 'prometheus' }) };
    return {
      scrapers: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': scraper.namespace } },
          podSelector: { matchLabels: podLabels },
        },
      ],
      workloads: [],
    };
  }
}

class NoMetrics extends Metrics {
  public readonly mode = 'none';
  public bind(): MetricsBinding {
    return { scrapers: [], workloads: [] };
  }
}
