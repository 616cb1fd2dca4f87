import { ApiObject, JsonPatch, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { CONTAINER_PORT, HTTP_PORT_NAME, Labels, NODE_UID, SERVICE_PORT } from '../src/contract';
import { Defaults } from './defaults';
import { COMMON_LABELS, objectMeta } from './metadata';
import { bytesQuantity } from './validation';
import type { FargateProfileSelector } from './placement/fargate-profile';
import { Placement } from './placement/placement';
import type { PodTemplateLike } from './placement/pod-types';
import { addPlacementValidation } from './placement/validation';
import { topologySpread } from './placement/topology-spread';
import { restrictedContainerSecurity, restrictedPodSecurity } from './pod-security';

/**
 * The Kubernetes objects of one HTTP-serving workload (a function or the router): Deployment,
 * Service, and — depending on scaling — HorizontalPodAutoscaler and PodDisruptionBudget.
 *
 * Written as plain `ApiObject`s rather than cdk8s-plus workloads: every field the restricted Pod
 * Security Standard needs is then set directly, there are no hidden defaults (1 CPU requests,
 * 2 replicas, `Always` pulls) to undo, and synthesis of thousands of functions stays cheap.
 */

/** The writable /tmp every kubefaas pod mounts (the root filesystem is read-only), bounded. */
export function tmpVolume(bytes: number): { readonly name: 'tmp'; readonly emptyDir: { readonly sizeLimit: string } } {
  return { name: 'tmp', emptyDir: { sizeLimit: bytesQuantity(bytes) } };
}

export interface ResolvedScaling {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Average CPU utilization target, percent of the request; unset = none (the HPA then aims for 80 % unless memory is set). */
  readonly targetCpuUtilization?: number;
  /** Average memory utilization target, percent of the request; unset = none. */
  readonly targetMemoryUtilization?: number;
  /** The autoscaler's scale-down stabilization window; unset = the HPA's default (300 s). */
  readonly scaleDownDelaySeconds?: number;
}

/** A container port besides (or instead of) `http`. */
export interface ContainerPortSpec {
  readonly name: string;
  readonly containerPort: number;
}

export interface ResourceAmounts {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

/** A `probe` object of the pod spec, or undefined for none. */
export type Probe = Record<string, unknown>;

export interface WorkloadSpec {
  readonly name: string;
  readonly namespace: string;
  /** Labels on every object of the workload (in addition to the common ones). */
  readonly labels: Readonly<Record<string, string>>;
  /** Stable selector labels (a subset of the pod labels; never derived from construct paths). */
  readonly selector: Readonly<Record<string, string>>;
  /** Extra pod labels (user labels). */
  readonly podLabels?: Readonly<Record<string, string>>;
  /** Pod annotations, rendered lazily (code hash, local command). */
  readonly podAnnotations: () => Record<string, string>;
  /** Annotations of the Deployment itself (not its pods). @default - none */
  readonly workloadAnnotations?: Readonly<Record<string, string>>;
  readonly containerName: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  /** Rendered at synth, so env added after construction lands in the manifest. */
  readonly env: () => ReadonlyArray<Record<string, unknown>>;
  readonly resources: ResourceAmounts;
  readonly readinessProbe: Probe;
  readonly livenessProbe: Probe;
  /** Size limit of the emptyDir at /tmp (always mounted: the root filesystem is read-only). */
  readonly tmpBytes: number;
  /**
   * Container ports besides `http` (CONTAINER_PORT), e.g. the router's admin port. Not on the
   * workload's Service: a Service of their own exposes them where needed.
   * @default - none
   */
  readonly extraPorts?: readonly ContainerPortSpec[];
  /**
   * The container's ports instead of `http` on CONTAINER_PORT (and `extraPorts`), for a workload
   * that does not serve HTTP there (the scaler).
   * @default - `http` on CONTAINER_PORT, then extraPorts
   */
  readonly containerPorts?: readonly ContainerPortSpec[];
  /**
   * The Service's ports, each to the container port of the same name.
   * @default - `http` SERVICE_PORT → CONTAINER_PORT
   */
  readonly servicePorts?: ReadonlyArray<{ readonly name: string; readonly port: number }>;
  /** ConfigMap volumes: name → { configMap, mountPath }. An emptyDir at /tmp is always added. */
  readonly configMapVolumes: ReadonlyArray<{
    readonly volume: string;
    readonly configMap: string;
    readonly mountPath: string;
  }>;
  /** Other read-only volumes (e.g. the queue's CA certificate): name, volume source, mountPath. @default - none */
  readonly extraVolumes?: ReadonlyArray<{
    readonly volume: string;
    readonly source: Record<string, unknown>;
    readonly mountPath: string;
  }>;
  /**
   * Init containers, complete (image, resources, securityContext, mounts of `initVolumes` and of the
   * pod's other volumes), run in order before the main container.
   * @default - none
   */
  readonly initContainers?: ReadonlyArray<Record<string, unknown>>;
  /** Pod volumes only the init containers mount (complete Volume objects). @default - none */
  readonly initVolumes?: ReadonlyArray<Record<string, unknown>>;
  /** Secret volumes (read at synth): mounted read-only; the Secrets are referenced, never copied. @default - none */
  readonly secretVolumes?: () => ReadonlyArray<{
    readonly volume: string;
    readonly secret: string;
    readonly mountPath: string;
  }>;
  readonly scaling: ResolvedScaling;
  /**
   * Who owns the replica count when maxReplicas > minReplicas: an HPA of the workload's own, or an
   * external autoscaler (a KEDA ScaledObject the owner creates, which creates its own HPA).
   * @default 'hpa'
   */
  readonly autoscaler?: 'hpa' | 'external';
  readonly terminationGracePeriodSeconds: number;
  /**
   * The container's `lifecycle` (a preStop drain for images that do not drain themselves), read at
   * synth with the placement in effect.
   * @default - none
   */
  readonly lifecycle?: (placement: Placement) => Record<string, unknown> | undefined;
  /**
   * Where the pods run (read at synth); the placement's provider limits are checked then too.
   * @default - regular nodes
   */
  readonly placement?: () => Placement;
  /**
   * Who the pods belong to, in placement errors and warnings (`function "hello"`).
   * @default - `workload "<name>"`
   */
  readonly placementSubject?: string;
  /**
   * Whether a NetworkPolicy is meant to protect the pods (placement warns where it is not enforced).
   * @default false
   */
  readonly networkPolicy?: boolean;
  /**
   * Spread the replicas over nodes and zones (soft; not on Fargate). For platform components whose
   * replicas exist for availability (the router).
   * @default false
   */
  readonly spreadReplicas?: boolean;
  /**
   * Selectors of the Fargate profile kubefaas synthesizes for the placement, so a pod that would
   * match none of them (and stay Pending) fails synthesis.
   * @default - not checked
   */
  readonly fargateSelectors?: () => readonly FargateProfileSelector[] | undefined;
  /**
   * The pods' ServiceAccount and whether its API token is mounted.
   * @default - the namespace's default account, no token
   */
  readonly serviceAccount?: { readonly name: string; readonly automountToken: boolean };
  /**
   * Service type and settings (the router's exposure).
   * @default - a ClusterIP Service
   */
  readonly service?: {
    readonly type?: 'ClusterIP' | 'LoadBalancer';
    readonly annotations?: Readonly<Record<string, string>>;
    readonly loadBalancerSourceRanges?: readonly string[];
  };
}

/** An HTTP GET probe on `port` (the serving port unless told otherwise, e.g. the router's admin port). */
export function httpProbe(path: string, periodSeconds: number, failureThreshold: number, port = CONTAINER_PORT): Probe {
  return { httpGet: { path, port }, periodSeconds, timeoutSeconds: 2, failureThreshold };
}

export function tcpProbe(periodSeconds: number, failureThreshold: number): Probe {
  return { tcpSocket: { port: CONTAINER_PORT }, periodSeconds, timeoutSeconds: 2, failureThreshold };
}

export class Workload extends Construct {
  public readonly deployment: ApiObject;
  public readonly service: ApiObject;

  constructor(scope: Construct, id: string, spec: WorkloadSpec) {
    super(scope, id);
    const { name, namespace, labels, selector, scaling } = spec;
    const autoscaled = scaling.maxReplicas > scaling.minReplicas;
    const placement = () => spec.placement?.() ?? Placement.regularNodes();
    // The pod template goes through the placement at synth: scheduling fields, pod labels and (on
    // Fargate) right-sized resources. Annotations are read here rather than through their own Lazy
    // so the placement sees (and can add to) them.
    const podTemplate = (template: unknown): PodTemplateLike => {
      const raw = template as PodTemplateLike;
      const annotations = spec.podAnnotations();
      const spread = spec.spreadReplicas ? topologySpread(placement(), selector, 'pod-template-hash') : undefined;
      return {
        ...raw,
        ...(spread ? { spec: { ...raw.spec, topologySpreadConstraints: spread } } : {}),
        metadata: {
          ...raw.metadata,
          annotations: Object.keys(annotations).length > 0 ? annotations : undefined,
        } as PodTemplateLike['metadata'],
      };
    };
    let renderedTemplate: unknown;
    const placeTemplate = (template: unknown) => {
      renderedTemplate = template;
      return Lazy.any({ produce: () => placement().applyTo(podTemplate(template)).template });
    };
    addPlacementValidation(this, placement, () => ({
      subject: spec.placementSubject ?? `workload "${name}"`,
      workloadKind: 'Deployment',
      namespace,
      template: placement().applyTo(podTemplate(renderedTemplate)).template,
      networkPolicy: spec.networkPolicy ?? false,
      fargateSelectors: spec.fargateSelectors?.(),
    }));

    const container: Record<string, unknown> = {
      name: spec.containerName,
      image: spec.image,
      imagePullPolicy: 'IfNotPresent',
      ...(spec.command ? { command: [...spec.command] } : {}),
      ...(spec.args ? { args: [...spec.args] } : {}),
      ports: (
        spec.containerPorts ?? [{ name: HTTP_PORT_NAME, containerPort: CONTAINER_PORT }, ...(spec.extraPorts ?? [])]
      ).map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: 'TCP' })),
      env: Lazy.any({ produce: () => spec.env() }),
      // CPU: a request only; a CPU limit throttles latency-sensitive handlers without protecting
      // neighbours the request does not already protect. Memory: request = limit, predictable OOMs.
      resources: {
        requests: { cpu: `${spec.resources.cpuMillis}m`, memory: bytesQuantity(spec.resources.memoryBytes) },
        limits: { memory: bytesQuantity(spec.resources.memoryBytes) },
      },
      readinessProbe: spec.readinessProbe,
      livenessProbe: spec.livenessProbe,
      ...(spec.lifecycle ? { lifecycle: Lazy.any({ produce: () => spec.lifecycle?.(placement()) }) } : {}),
      securityContext: restrictedContainerSecurity(),
      volumeMounts: [
        ...spec.configMapVolumes.map((v) => ({ name: v.volume, mountPath: v.mountPath, readOnly: true })),
        ...(spec.extraVolumes ?? []).map((v) => ({ name: v.volume, mountPath: v.mountPath, readOnly: true })),
        { name: 'tmp', mountPath: '/tmp' },
      ],
    };

    const secretVolumes = spec.secretVolumes;
    this.deployment = new ApiObject(this, 'Deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: objectMeta(name, namespace, labels, spec.workloadAnnotations),
      spec: {
        // With an HPA the replica count belongs to it; a fixed count would fight it on every apply.
        ...(autoscaled ? {} : { replicas: scaling.minReplicas }),
        selector: { matchLabels: { ...selector } },
        template: placeTemplate({
          metadata: {
            labels: { ...spec.podLabels, ...COMMON_LABELS, [Labels.instance]: namespace, ...labels, ...selector },
            annotations: Lazy.any({
              produce: () => {
                const annotations = spec.podAnnotations();
                return Object.keys(annotations).length > 0 ? annotations : undefined;
              },
            }),
          },
          spec: {
            ...(spec.serviceAccount ? { serviceAccountName: spec.serviceAccount.name } : {}),
            automountServiceAccountToken: spec.serviceAccount?.automountToken ?? false,
            // Thousands of Services in one namespace would otherwise become env vars in every pod.
            enableServiceLinks: false,
            terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds,
            securityContext: restrictedPodSecurity(NODE_UID),
            ...(spec.initContainers?.length ? { initContainers: spec.initContainers.map((c) => ({ ...c })) } : {}),
            containers: [container],
            volumes: [
              ...spec.configMapVolumes.map((v) => ({ name: v.volume, configMap: { name: v.configMap } })),
              ...(spec.extraVolumes ?? []).map((v) => ({ name: v.volume, ...v.source })),
              ...(spec.initVolumes ?? []).map((v) => ({ ...v })),
              tmpVolume(spec.tmpBytes),
            ],
          },
        }),
      },
    });

    if (secretVolumes !== undefined) {
      // Known only once every trigger is bound (a trigger may name its own Secret): added as patches
      // when the tree is validated, i.e. before the manifest is rendered. Once.
      let patched = false;
      this.node.addValidation({
        validate: () => {
          if (patched) return [];
          patched = true;
          for (const v of secretVolumes()) {
            this.deployment.addJsonPatch(
              JsonPatch.add('/spec/template/spec/volumes/-', { name: v.volume, secret: { secretName: v.secret } }),
              JsonPatch.add('/spec/template/spec/containers/0/volumeMounts/-', {
                name: v.volume,
                mountPath: v.mountPath,
                readOnly: true,
              }),
            );
          }
          return [];
        },
      });
    }

    this.service = new ApiObject(this, 'Service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: objectMeta(name, namespace, labels, spec.service?.annotations),
      spec: {
        ...(spec.service?.type === 'LoadBalancer' ? { type: 'LoadBalancer' } : {}),
        ...(spec.service?.loadBalancerSourceRanges
          ? { loadBalancerSourceRanges: [...spec.service.loadBalancerSourceRanges] }
          : {}),
        selector: { ...selector },
        ports: spec.servicePorts
          ? spec.servicePorts.map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: 'TCP' }))
          : [{ name: HTTP_PORT_NAME, port: SERVICE_PORT, targetPort: CONTAINER_PORT, protocol: 'TCP' }],
      },
    });

    if (autoscaled && (spec.autoscaler ?? 'hpa') === 'hpa') {
      new ApiObject(this, 'HorizontalPodAutoscaler', {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: objectMeta(name, namespace, labels),
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
          minReplicas: scaling.minReplicas,
          maxReplicas: scaling.maxReplicas,
          metrics: utilizationMetrics(scaling),
          ...(scaling.scaleDownDelaySeconds !== undefined
            ? { behavior: scaleDownBehavior(scaling.scaleDownDelaySeconds) }
            : {}),
        },
      });
    }

    if (scaling.minReplicas >= 2) {
      new ApiObject(this, 'PodDisruptionBudget', {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: objectMeta(name, namespace, labels),
        spec: {
          // maxUnavailable (not minAvailable) never blocks a node drain.
          maxUnavailable: 1,
          selector: { matchLabels: { ...selector } },
          unhealthyPodEvictionPolicy: 'AlwaysAllow',
        },
      });
    }
  }
}

/**
 * The HPA's resource metrics: the CPU and memory targets that are set, or 80 % CPU when neither is
 * (what an HPA without metrics does anyway, written out).
 */
function utilizationMetrics(scaling: ResolvedScaling): Record<string, unknown>[] {
  const cpu =
    scaling.targetCpuUtilization ??
    (scaling.targetMemoryUtilization === undefined ? Defaults.targetCpuUtilization : undefined);
  const metric = (resource: 'cpu' | 'memory', averageUtilization: number) => ({
    type: 'Resource',
    resource: { name: resource, target: { type: 'Utilization', averageUtilization } },
  });
  return [
    ...(cpu !== undefined ? [metric('cpu', cpu)] : []),
    ...(scaling.targetMemoryUtilization !== undefined ? [metric('memory', scaling.targetMemoryUtilization)] : []),
  ];
}

/** `behavior` of an HPA (or of the one KEDA creates) whose scale-down waits `seconds`. */
export function scaleDownBehavior(seconds: number): Record<string, unknown> {
  return { scaleDown: { stabilizationWindowSeconds: seconds } };
}
