import type { ApiObject } from 'cdk8s';
import type { ResolvedNetwork } from '../network/network-policies';
import { Duration, Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-27';
import {
  DeadLetterAlert,
  ErrorRatioAlert,
  FunctionAlertOverrides,
  LatencyNearTimeoutAlert,
  NoReadyReplicaAlert,
  QueueLagAlert,
  ReceiverType,
  Severity,
} from './generators';

export type {
  DeadLetterAlert,
  ErrorRatioAlert,
  LatencyNearTimeoutAlert,
  NoReadyReplicaAlert,
  QueueLagAlert,
  ReceiverType,
  Severity,
};

/** Per-function alert changes; durations as cdk8s `Duration`s. `false` turns an alert off. */
export type FunctionAlertOptions = FunctionAlertOverrides<Duration>;

/** Alert rules: defaults for every function, overrides by function name, and the router alert. */
export interface AlertRuleOptions {
  /**
   * Changes applied to every function's alerts.
   * @default the defaults listed in docs/metrics.md
   */
  readonly defaults?: FunctionAlertOptions;
  /**
   * Changes for single functions, by function name (applied after `defaults`; a function's own
   * `alerts` prop, when the Platform passes one, wins over these).
   * @default none
   */
  readonly functions?: { readonly [functionName: string]: FunctionAlertOptions };
  /**
   * Router 5xx ratio alert; `false` disables it.
   * @default threshold 0.05 for 5 minutes, severity warning
   */
  readonly routerErrorRatio?: Partial<ErrorRatioAlert<Duration>> | false;
}

/** CPU and memory of a container; unset fields take the component's documented default. */
export interface ComponentResources {
  /** @default component specific (see the option that takes this) */
  readonly cpu?: { readonly request?: Cpu; readonly limit?: Cpu };
  /** @default component specific (see the option that takes this) */
  readonly memory?: { readonly request?: Size; readonly limit?: Size };
}

export interface AlertmanagerOptions {
  /**
   * The Secret key holding the receiver URL (webhook URL, or Slack incoming-webhook URL). The
   * Secret must exist in the platform namespace; kubefaas never reads it at synth time.
   */
  readonly receiverSecret: { readonly name: string; readonly key: string };
  /** @default 'webhook' */
  readonly receiverType?: ReceiverType;
  /** Slack channel for `receiverType: 'slack'`. @default the incoming webhook's channel */
  readonly slackChannel?: string;
  /** @default requests 10m CPU / 32Mi memory, memory limit 128Mi */
  readonly resources?: ComponentResources;
}

export interface PrometheusMetricsOptions {
  /** Size of the PersistentVolumeClaim for the TSDB. @default Size.gibibytes(10) */
  readonly storage?: Size;
  /**
   * Keep data in an emptyDir instead of a PersistentVolumeClaim (lost when the pod moves). `storage`
   * then becomes the emptyDir size limit.
   * @default false
   */
  readonly ephemeral?: boolean;
  /** StorageClass of the claim. @default the cluster's default StorageClass */
  readonly storageClass?: string;
  /** How long samples are kept. @default Duration.days(15) */
  readonly retention?: Duration;
  /** @default requests 100m CPU / 256Mi memory, limits 1 CPU / 1Gi memory */
  readonly resources?: ComponentResources;
  /** Scrape and rule evaluation interval. @default Duration.seconds(15) */
  readonly scrapeInterval?: Duration;
  /** External labels on every series and alert (e.g. `{ cluster: 'prod' }`). @default none */
  readonly externalLabels?: { readonly [name: string]: string };
  /** Run an Alertmanager and send alerts to it. @default no Alertmanager (alerts visible in Prometheus only) */
  readonly alertmanager?: AlertmanagerOptions;
  /** @default the default rules */
  readonly rules?: AlertRuleOptions;
  /** Emit the Grafana dashboard ConfigMap. @default true */
  readonly dashboard?: boolean;
}

export interface OperatorMetricsOptions {
  /**
   * Discover targets through a PodMonitor (each pod) or a ServiceMonitor (each Service endpoint).
   * @default 'PodMonitor'
   */
  readonly monitor?: 'PodMonitor' | 'ServiceMonitor';
  /**
   * Labels on the monitor and the PrometheusRule, so the Prometheus selects them
   * (kube-prometheus-stack selects `release: <helm release>` by default).
   * @default none
   */
  readonly labels?: { readonly [name: string]: string };
  /**
   * Where the operator's Prometheus pods run, for the NetworkPolicy that lets them scrape functions.
   * @default namespace 'monitoring', pods labelled `app.kubernetes.io/name: prometheus`
   */
  readonly scraper?: { readonly namespace: string; readonly podLabels?: { readonly [name: string]: string } };
  /** Scrape interval. @default Duration.seconds(15) */
  readonly scrapeInterval?: Duration;
  /** @default the default rules */
  readonly rules?: AlertRuleOptions;
  /** Emit the Grafana dashboard ConfigMap. @default true */
  readonly dashboard?: boolean;
}

/** What a metrics setup needs to know about one function. */
export interface MonitoredFunctionInfo {
  readonly name: string;
  readonly timeout: Duration;
  /** Functions that may scale to zero get no "no ready replica" alert unless asked for. @default 1 */
  readonly minReplicas?: number;
  /** The function's own alert changes (win over the platform's). @default none */
  readonly alerts?: FunctionAlertOptions;
  /** False for pods Prometheus does not scrape: no "no ready replica" alert for them. @default true */
  readonly scraped?: boolean;
}

export interface MetricsBindOptions {
  readonly namespace: string;
  /** Called at synth time, so functions added after the platform was created are included. */
  readonly functions: () => readonly MonitoredFunctionInfo[];
  /** Labels every object gets (part-of, managed-by). */
  readonly commonLabels: { readonly [name: string]: string };
  /** DNS, API server, clients and receivers for the NetworkPolicies of the pods a mode runs. */
  readonly network: ResolvedNetwork;
  /**
   * The platform runs the KEDA scaler (`Autoscaling.keda()`), which is scraped on its admin port.
   * @default false
   */
  readonly scaler?: boolean;
}

/** A NetworkPolicy peer, in the shape of the Kubernetes API. */
export interface NetworkPolicyPeerSpec {
  readonly podSelector?: { readonly matchLabels: { readonly [name: string]: string } };
  readonly namespaceSelector?: { readonly matchLabels: { readonly [name: string]: string } };
}

export interface MetricsBinding {
  /** Peers that must reach function and router pods on the container port to scrape them. */
  readonly scrapers: readonly NetworkPolicyPeerSpec[];
  /** The pods this mode runs (a bundled Prometheus, Alertmanager), so the platform can place them. */
  readonly workloads: readonly ApiObject[];
}
