import { ApiObject, Lazy, Size, Duration } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { Annotations, CONTAINER_PORT, Labels, ROUTER_ADMIN_PORT, SCALER_ADMIN_PORT } from '../../src/contract';
import { admit } from '../network/network-policies';
import { networkPolicyObject } from '../network/policy-object';
import { FUNCTION_PODS, ROUTER_PODS, SCALER_PODS } from '../network/router-policy';
import { alertmanagerConfig, prometheusConfig, ruleGroups } from './generators';
import { ValidationError } from '../errors';
import { volumeClaimLabels } from '../metadata';
import { isDns1123Subdomain, sizeBytes, bytesQuantity, validateKeyReference } from '../validation';
import { GrafanaDashboard } from './dashboard';
import { MonitoringImages } from './images';
import { MonitoringComponents, MonitoringNames, NOBODY_UID, apiObject, componentLabels, contentHash } from './objects';
import { MetricsBindOptions, PrometheusMetricsOptions } from './options';
import { monitoredFunctions, platformAlerts, unknownRuleFunctions, validateRuleOptions, wholeSeconds } from './resolve';
import { renderResources } from './resources';
import { restrictedContainerSecurity, restrictedPodSecurity } from '../pod-security';

export const PROMETHEUS_PORT = 9090;
export const ALERTMANAGER_PORT = 9093;
/** Where the config ConfigMap is mounted; rule files are found relative to it. */
const CONFIG_DIR = '/etc/prometheus';
const CONFIG_FILE = 'prometheus.yml';
/** Rule file path relative to the config file (Prometheus resolves `rule_files` against its directory). */
export const RULES_FILE = 'rules/kubefaas.rules.yml';
const DATA_DIR = '/prometheus';
const AM_CONFIG_DIR = '/etc/alertmanager';
const AM_SECRET_DIR = '/etc/alertmanager/secrets';
const AM_URL_FILE = 'receiver-url';
const alertmanagerPodLabels = {
  [Labels.platformComponent]: MonitoringComponents.alertmanager,
  [Labels.name]: MonitoringComponents.alertmanager,
};
const tcp = (port: number) => [{ protocol: 'TCP' as const, port }];
/** No line folding: PromQL stays on one line, readable in `kubectl get cm -o yaml`. */
const YAML_OPTIONS = { lineWidth: 0 } as const;

export interface PrometheusServerProps extends PrometheusMetricsOptions, MetricsBindOptions {}

/**
 * The bundled Prometheus: a single-replica StatefulSet that discovers only kubefaas pods of its own
 * namespace (namespaced Role, pods get/list/watch: all pod discovery needs), loads the kubefaas
 * rules, and optionally sends alerts to an Alertmanager whose receiver URL comes from a Secret.
 * A hash of config and rules in the pod template rolls the pod when either changes.
 */
export class PrometheusServer extends Construct {
  /** Pod labels of the Prometheus pod (what NetworkPolicies must admit). */
  public readonly podLabels: Record<string, string>;
  /** The StatefulSets this construct runs (Prometheus, and Alertmanager when configured). */
  public readonly workloads: ApiObject[] = [];
  private renderedRules: string | undefined;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: PrometheusServerProps,
  ) {
    super(scope, id);
    const { namespace } = props;
    const labels = componentLabels(props.commonLabels, MonitoringComponents.prometheus);
    this.podLabels = {
      [Labels.platformComponent]: MonitoringComponents.prometheus,
      [Labels.name]: MonitoringComponents.prometheus,
    };
    const name = MonitoringNames.prometheus;
    const meta = { namespace, labels };

    const retention = wholeSeconds(this, 'metrics retention', props.retention ?? Duration.days(15));
    if (retention < 3600)
      throw new ValidationError(this, 'metrics retention must be at least 1 hour', 'Use e.g. Duration.days(15)');
    const interval = wholeSeconds(this, 'metrics scrapeInterval', props.scrapeInterval ?? Duration.seconds(15));
    if (interval < 1)
      throw new ValidationError(
        this,
        'metrics scrapeInterval must be at least 1 second',
        'Use e.g. Duration.seconds(15)',
      );
    const storageBytes = sizeBytes(
      this,
      'metrics storage',
      props.storage ?? Size.gibibytes(10),
      64 * 1024 * 1024,
      64 * 1024 ** 4,
    );
    if (props.storageClass !== undefined && !isDns1123Subdomain(props.storageClass)) {
      throw new ValidationError(
        this,
        `metrics storageClass "${props.storageClass}" is not a valid StorageClass name`,
        'Use the name of a StorageClass of your cluster',
      );
    }
    validateRuleOptions(this, props.rules);
    this.node.addValidation({ validate: () => unknownRuleFunctions(props.functions(), props.rules) });
    const alertmanager = props.alertmanager;
    if (alertmanager) {
      validateKeyReference(
        this,
        'metrics alertmanager.receiverSecret',
        alertmanager.receiverSecret?.name,
        alertmanager.receiverSecret?.key,
      );
    }

    const config = stringify(
      prometheusConfig({
        namespace,
        ruleFiles: [RULES_FILE],
        scrapeInterval: `${interval}s`,
        externalLabels: props.externalLabels,
        alertmanager: alertmanager
          ? `${MonitoringNames.alertmanager}.${namespace}.svc:${ALERTMANAGER_PORT}`
          : undefined,
      }),
      YAML_OPTIONS,
    );
    const rules = (): string =>
      (this.renderedRules ??= stringify(
        {
          groups: ruleGroups({
            namespace,
            functions: monitoredFunctions(this, props.functions(), props.rules),
            platform: platformAlerts(this, props.rules),
          }),
        },
        YAML_OPTIONS,
      ));

    apiObject(this, 'ServiceAccount', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      name,
      ...meta,
      body: { automountServiceAccountToken: false },
    });
    apiObject(this, 'Role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      name,
      ...meta,
      body: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }] },
    });
    apiObject(this, 'RoleBinding', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      name,
      ...meta,
      body: {
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    });
    apiObject(this, 'Config', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name,
      ...meta,
      body: { data: { [CONFIG_FILE]: config } },
    });
    apiObject(this, 'Rules', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: MonitoringNames.prometheusRules,
      ...meta,
      body: { data: Lazy.any({ produce: () => ({ [RULES_FILE.split('/').pop()!]: rules() }) }) },
    });
    apiObject(this, 'Service', {
      apiVersion: 'v1',
      kind: 'Service',
      name,
      ...meta,
      body: {
        spec: {
          type: 'ClusterIP',
          selector: this.podLabels,
          ports: [{ name: 'web', port: PROMETHEUS_PORT, targetPort: 'web', protocol: 'TCP' }],
        },
      },
    });

    const dataVolume = props.ephemeral ? [{ name: 'data', emptyDir: { sizeLimit: bytesQuantity(storageBytes) } }] : [];
    const claims = props.ephemeral
      ? []
      : [
          {
            metadata: { name: 'data', labels: volumeClaimLabels(labels) },
            spec: {
              accessModes: ['ReadWriteOnce'],
              resources: { requests: { storage: bytesQuantity(storageBytes) } },
              ...(props.storageClass ? { storageClassName: props.storageClass } : {}),
            },
          },
        ];
    const args = [
      `--config.file=${CONFIG_DIR}/${CONFIG_FILE}`,
      `--storage.tsdb.path=${DATA_DIR}`,
      `--storage.tsdb.retention.time=${retention}s`,
      // Keep a margin below the volume so compaction never fills it.
      `--storage.tsdb.retention.size=${Math.floor((storageBytes * 0.85) / (1024 * 1024))}MB`,
      `--web.listen-address=:${PROMETHEUS_PORT}`,
    ];
    this.workloads.push(
      apiObject(this, 'StatefulSet', {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        name,
        ...meta,
        body: {
          spec: {
            serviceName: name,
            replicas: 1,
            selector: { matchLabels: this.podLabels },
            template: {
              metadata: {
                labels,
                annotations: { [Annotations.configHash]: Lazy.any({ produce: () => contentHash(config, rules()) }) },
              },
              spec: {
                serviceAccountName: name,
                // Kubernetes service discovery talks to the API server with this token.
                automountServiceAccountToken: true,
                securityContext: restrictedPodSecurity(NOBODY_UID),
                containers: [
                  {
                    name: 'prometheus',
                    image: MonitoringImages.prometheus,
                    imagePullPolicy: 'IfNotPresent',
                    args,
                    ports: [{ name: 'web', containerPort: PROMETHEUS_PORT, protocol: 'TCP' }],
                    readinessProbe: {
                      httpGet: { path: '/-/ready', port: 'web' },
                      periodSeconds: 10,
                      failureThreshold: 3,
                    },
                    livenessProbe: {
                      httpGet: { path: '/-/healthy', port: 'web' },
                      initialDelaySeconds: 30,
                      periodSeconds: 15,
                      failureThreshold: 4,
                    },
                    resources: renderResources(this, 'metrics resources', props.resources, {
                      cpuRequest: Cpu.millis(100),
                      cpuLimit: Cpu.units(1),
                      memoryRequest: Size.mebibytes(256),
                      memoryLimit: Size.gibibytes(1),
                    }),
                    securityContext: restrictedContainerSecurity(),
                    volumeMounts: [
                      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                      { name: 'rules', mountPath: `${CONFIG_DIR}/${RULES_FILE.split('/')[0]}`, readOnly: true },
                      { name: 'data', mountPath: DATA_DIR },
                    ],
                  },
                ],
                volumes: [
                  { name: 'config', configMap: { name } },
                  { name: 'rules', configMap: { name: MonitoringNames.prometheusRules } },
                  ...dataVolume,
                ],
              },
            },
            volumeClaimTemplates: claims,
          },
        },
      }),
    );

    // In: the configured clients (nobody by default). Out: DNS, the API server (pod discovery), the
    // pods it scrapes (functions on the container port, the router on its admin port), Alertmanager.
    networkPolicyObject(this, 'NetworkPolicy', {
      name,
      namespace,
      labels,
      podSelector: { matchLabels: this.podLabels },
      ingress: () => admit(props.network.prometheusClients, tcp(PROMETHEUS_PORT)),
      egress: () => [
        ...props.network.dns,
        ...props.network.apiServer,
        { to: [FUNCTION_PODS], ports: tcp(CONTAINER_PORT) },
        { to: [ROUTER_PODS], ports: tcp(ROUTER_ADMIN_PORT) },
        ...(props.scaler ? [{ to: [SCALER_PODS], ports: tcp(SCALER_ADMIN_PORT) }] : []),
        ...(alertmanager
          ? [{ to: [{ podSelector: { matchLabels: alertmanagerPodLabels } }], ports: tcp(ALERTMANAGER_PORT) }]
          : []),
      ],
    });
    if (alertmanager) this.addAlertmanager(props, alertmanager);
    if (props.dashboard !== false) new GrafanaDashboard(this, 'Dashboard', { namespace, labels: props.commonLabels });
  }

  private addAlertmanager(
    props: PrometheusServerProps,
    options: NonNullable<PrometheusMetricsOptions['alertmanager']>,
  ): void {
    const { namespace } = props;
    const name = MonitoringNames.alertmanager;
    const labels = componentLabels(props.commonLabels, MonitoringComponents.alertmanager);
    const podLabels = alertmanagerPodLabels;
    // In: Prometheus sending alerts. Out: DNS and the receivers (the webhook URL is in a Secret).
    networkPolicyObject(this, 'AlertmanagerNetworkPolicy', {
      name,
      namespace,
      labels,
      podSelector: { matchLabels: podLabels },
      ingress: () => [{ from: [{ podSelector: { matchLabels: this.podLabels } }], ports: tcp(ALERTMANAGER_PORT) }],
      egress: () => [...props.network.dns, ...props.network.alertmanagerReceivers],
    });
    const meta = { namespace, labels };
    const config = stringify(
      alertmanagerConfig({
        receiverType: options.receiverType ?? 'webhook',
        urlFile: `${AM_SECRET_DIR}/${AM_URL_FILE}`,
        slackChannel: options.slackChannel,
      }),
      YAML_OPTIONS,
    );
    apiObject(this, 'AlertmanagerConfig', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name,
      ...meta,
      body: { data: { 'alertmanager.yml': config } },
    });
    apiObject(this, 'AlertmanagerService', {
      apiVersion: 'v1',
      kind: 'Service',
      name,
      ...meta,
      body: {
        spec: {
          type: 'ClusterIP',
          selector: podLabels,
          ports: [{ name: 'web', port: ALERTMANAGER_PORT, targetPort: 'web', protocol: 'TCP' }],
        },
      },
    });
    this.workloads.push(
      apiObject(this, 'AlertmanagerStatefulSet', {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        name,
        ...meta,
        body: {
          spec: {
            serviceName: name,
            replicas: 1,
            selector: { matchLabels: podLabels },
            template: {
              metadata: { labels, annotations: { [Annotations.configHash]: contentHash(config) } },
              spec: {
                automountServiceAccountToken: false,
                securityContext: restrictedPodSecurity(NOBODY_UID),
                containers: [
                  {
                    name: 'alertmanager',
                    image: MonitoringImages.alertmanager,
                    imagePullPolicy: 'IfNotPresent',
                    args: [
                      `--config.file=${AM_CONFIG_DIR}/alertmanager.yml`,
                      '--storage.path=/alertmanager',
                      `--web.listen-address=:${ALERTMANAGER_PORT}`,
                      // One replica: no gossip cluster to join.
                      '--cluster.listen-address=',
                    ],
                    ports: [{ name: 'web', containerPort: ALERTMANAGER_PORT, protocol: 'TCP' }],
                    readinessProbe: { httpGet: { path: '/-/ready', port: 'web' }, periodSeconds: 10 },
                    livenessProbe: { httpGet: { path: '/-/healthy', port: 'web' }, periodSeconds: 15 },
                    resources: renderResources(this, 'metrics alertmanager.resources', options.resources, {
                      cpuRequest: Cpu.millis(10),
                      memoryRequest: Size.mebibytes(32),
                      memoryLimit: Size.mebibytes(128),
                    }),
                    securityContext: restrictedContainerSecurity(),
                    volumeMounts: [
                      { name: 'config', mountPath: AM_CONFIG_DIR, readOnly: true },
                      { name: 'receiver', mountPath: AM_SECRET_DIR, readOnly: true },
                      { name: 'data', mountPath: '/alertmanager' },
                    ],
                  },
                ],
                volumes: [
                  { name: 'config', configMap: { name } },
                  {
                    name: 'receiver',
                    secret: {
                      secretName: options.receiverSecret.name,
                      items: [{ key: options.receiverSecret.key, path: AM_URL_FILE }],
                    },
                  },
                  { name: 'data', emptyDir: { sizeLimit: '64Mi' } },
                ],
              },
            },
          },
        },
      }),
    );
  }
}
