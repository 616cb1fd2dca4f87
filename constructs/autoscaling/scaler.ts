import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import {
  ADMIN_PORT_NAME,
  Annotations,
  Endpoints,
  Labels,
  Paths,
  ROUTER_ADMIN_PORT,
  ROUTER_PEERS_SERVICE,
  SCALER_ADMIN_PORT,
  SCALER_GRPC_PORT,
  SCALER_GRPC_PORT_NAME,
  SCALER_NAME,
  ScalerEnv,
  serviceHost,
} from '../../src/contract';
import { CodeConfigMap } from '../code-config-map';
import { Defaults } from '../defaults';
import { objectMeta } from '../metadata';
import { podBundle } from '../pod-code';
import { admit, type ResolvedNetwork } from '../network/network-policies';
import { networkPolicyObject } from '../network/policy-object';
import { ROUTER_PODS } from '../network/router-policy';
import type { PeerSpec } from '../network/spec';
import type { FargateProfileSelector } from '../placement/fargate-profile';
import { Workload, httpProbe } from '../workload';
import { kedaPods, type ResolvedKeda } from './autoscaling';

/** The scaler finishes open gRPC calls within 5 s of SIGTERM (src/scaler/config.ts); a margin on top. */
const SCALER_TERMINATION_GRACE_SECONDS = 10;

export interface KedaScalerProps {
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly nodeImage: string;
  readonly keda: ResolvedKeda;
  readonly network: ResolvedNetwork;
  /** Read at synth: who scrapes the scaler's /metrics (on its admin port). */
  readonly scrapers: () => readonly PeerSpec[];
  /** Read at synth: selectors of the Fargate profile the placement uses, if kubefaas manages it. */
  readonly fargateSelectors: () => readonly FargateProfileSelector[] | undefined;
}

/**
 * The platform's scaler (src/scaler/, bundled like the router): KEDA's external scaler that the
 * functions' ScaledObjects name. Deployment + Service (gRPC and admin ports) + ServiceAccount
 * without an API token (it finds the routers through DNS, so it needs no RBAC at all) +
 * NetworkPolicy: in, the gRPC port from KEDA's namespace only (and the admin port from the
 * scrapers); out, DNS and the routers' admin port.
 */
export class KedaScaler extends Construct {
  /** `host:port` ScaledObjects put in `scalerAddress`. */
  public readonly address: string;
  public readonly deployment: ApiObject;
  public readonly service: ApiObject;

  constructor(scope: Construct, id: string, props: KedaScalerProps) {
    super(scope, id);
    const { namespace, keda } = props;
    const labels = { [Labels.name]: SCALER_NAME, [Labels.component]: 'scaler' };
    const selector = { [Labels.platformComponent]: 'scaler' };
    const bundle = podBundle('scaler');
    this.address = `${serviceHost(SCALER_NAME, namespace, props.clusterDomain)}:${SCALER_GRPC_PORT}`;

    const code = new CodeConfigMap(this, 'Code', {
      baseName: SCALER_NAME,
      namespace,
      codeOf: SCALER_NAME,
      labels,
      data: { [Paths.scalerFile]: bundle.source },
      sha256: bundle.sha256,
    }).configMapName;

    new ApiObject(this, 'ServiceAccount', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: objectMeta(SCALER_NAME, namespace, labels),
      automountServiceAccountToken: false,
    });

    const routers = `dns:${serviceHost(ROUTER_PEERS_SERVICE, namespace, props.clusterDomain)}:${ROUTER_ADMIN_PORT}`;
    const placement = keda.scaler.placement;
    const workload = new Workload(this, 'Workload', {
      name: SCALER_NAME,
      namespace,
      labels,
      selector,
      podAnnotations: () => ({ [Annotations.codeHash]: bundle.sha256.slice(0, 16) }),
      containerName: 'scaler',
      image: props.nodeImage,
      command: ['node', `${Paths.scalerDir}/${Paths.scalerFile}`],
      env: () => [
        { name: ScalerEnv.GRPC_PORT, value: String(SCALER_GRPC_PORT) },
        { name: ScalerEnv.ADMIN_PORT, value: String(SCALER_ADMIN_PORT) },
        { name: ScalerEnv.ROUTERS, value: routers },
      ],
      resources: { cpuMillis: keda.scaler.cpuMillis, memoryBytes: keda.scaler.memoryBytes },
      // Ready once the routers are polled, so a restarted scaler never answers from a half-built view.
      readinessProbe: httpProbe(Endpoints.ready, 5, 2, SCALER_ADMIN_PORT),
      livenessProbe: httpProbe(Endpoints.health, 10, 3, SCALER_ADMIN_PORT),
      containerPorts: [
        { name: SCALER_GRPC_PORT_NAME, containerPort: SCALER_GRPC_PORT },
        { name: ADMIN_PORT_NAME, containerPort: SCALER_ADMIN_PORT },
      ],
      // The admin port too, for a ServiceMonitor (the NetworkPolicy admits only the scrapers there).
      servicePorts: [
        { name: SCALER_GRPC_PORT_NAME, port: SCALER_GRPC_PORT },
        { name: ADMIN_PORT_NAME, port: SCALER_ADMIN_PORT },
      ],
      tmpBytes: Defaults.componentTmpBytes,
      configMapVolumes: [{ volume: 'scaler-code', configMap: code, mountPath: Paths.scalerDir }],
      scaling: { minReplicas: keda.scaler.replicas, maxReplicas: keda.scaler.replicas },
      terminationGracePeriodSeconds: SCALER_TERMINATION_GRACE_SECONDS,
      serviceAccount: { name: SCALER_NAME, automountToken: false },
      placement: () => placement,
      placementSubject: 'platform component "scaler"',
      networkPolicy: true,
      spreadReplicas: true,
      fargateSelectors: props.fargateSelectors,
    });
    this.deployment = workload.deployment;
    this.service = workload.service;

    const tcp = (port: number) => [{ protocol: 'TCP' as const, port }];
    networkPolicyObject(this, 'NetworkPolicy', {
      name: SCALER_NAME,
      namespace,
      labels,
      podSelector: { matchLabels: selector },
      // KEDA's operator is the only caller of the gRPC port; the scrapers read /metrics on the admin
      // port; probes come from the kubelet, which policies do not see.
      ingress: () => [
        { from: [kedaPods(keda)], ports: tcp(SCALER_GRPC_PORT) },
        ...admit(props.scrapers(), tcp(SCALER_ADMIN_PORT)),
      ],
      egress: () => [...props.network.dns, { to: [ROUTER_PODS], ports: tcp(ROUTER_ADMIN_PORT) }],
    });
  }
}
