import { ApiObject, Duration, Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  CONTAINER_PORT,
  Env,
  Labels,
  QueueEnv,
  SERVICE_PORT,
  callbackDurable,
  functionNameOf,
  serviceHost,
  streamOf,
  topicNameOf,
  type FunctionRef,
  type PublicInvocation,
  type TopicRef,
} from '../src/contract';
import { NATS_HEADLESS_NAME, NatsPorts } from './queue/names';
import { Defaults, Limits } from './defaults';
import { EnvInput, EnvVarSource, toEnvValue } from './env';
import { errorExposureEnv } from './error-exposure';
import { ValidationError, validationMessage } from './errors';
import { objectMeta } from './metadata';
import { Platform } from './platform';
import { FunctionScaling, ScalingOptions, concurrencyTarget, resolveFunctionScaling } from './scaling';
import { functionScaledObject, type JetStreamConsumer } from './autoscaling';
import {
  cpuMillis,
  durationMillis,
  sizeBytes,
  validateEnvName,
  validateFunctionName,
  validateLabels,
} from './validation';
import { Probe, Workload, WorkloadSpec } from './workload';
import { preStopSleep, shutdownEnv, shutdownTiming } from './shutdown';
import { queueClientVolumes, queueEnv, queueSubscriptions } from './queue/registry';
import { Placement } from './placement/placement';
import { FunctionAlertOptions, validateFunctionAlerts } from './metrics';
import { FunctionServiceAccount, ServiceAccountConfig } from './service-account';
import { Egress, egressList } from './network/egress';
import { networkPolicyObject } from './network/policy-object';
import { EgressRuleSpec, IngressRuleSpec, PeerSpec, podsPeer } from './network/spec';
import { callbackEgress } from './network/callback-egress';
import {
  type InvocationContext,
  type InvocationOptions,
  type ResolvedInvocation,
  invocationProblems,
  publicInvocation,
  resolveInvocation,
} from './invocation';

/**
 * Something that invokes a function. A trigger validates its options and, in `bind`, registers
 * whatever plumbing it needs with the function's platform (HTTP routes; queue consumers or
 * schedules in other trigger kinds), so new kinds never need changes to existing ones.
 * Declared beside FunctionBase (not with the triggers) so that the function does not import the
 * trigger modules, which import it.
 */
export interface ITrigger {
  bind(fn: FunctionBase): void;
}

/** Props every kind of function takes. */
export interface FunctionOptions {
  /**
   * The platform the function belongs to. Needed only when the function is not created inside
   * the platform's construct tree (e.g. in another chart).
   * @default - the nearest Platform above the function's scope
   */
  readonly platform?: Platform;
  /**
   * Name of the function's Kubernetes objects and of `/function/<name>` (DNS-1035 label, ≤ 63
   * characters, not starting with `kubefaas-`).
   * @default - the construct id
   */
  readonly functionName?: string;
  /**
   * Environment variables: literal strings, or `EnvValue.fromSecret` / `EnvValue.fromConfigMap`
   * references. `PORT` and `KUBEFAAS_*` are reserved.
   * @default - the platform's functionDefaults.env
   */
  readonly env?: Readonly<Record<string, EnvInput>>;
  /**
   * Memory request and limit of each replica.
   * @default - functionDefaults.memory, else Size.mebibytes(128)
   */
  readonly memory?: Size;
  /**
   * CPU request of each replica (no CPU limit is set, so bursts are not throttled).
   * @default - functionDefaults.cpu, else Cpu.millis(100)
   */
  readonly cpu?: Cpu;
  /**
   * Size limit of the writable `/tmp` (an emptyDir, the only writable path: the root filesystem is
   * read-only). Counts against the node's ephemeral storage; the pod is evicted when it outgrows it.
   * @default - functionDefaults.tmpSize, else Size.mebibytes(512)
   */
  readonly tmpSize?: Size;
  /**
   * Longest an invocation may take (1 s .. 15 min); the router and runtime answer 504 after it.
   * @default - functionDefaults.timeout, else Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Replicas and what scales them: with the platform's `Autoscaling.hpa()` an HPA on CPU/memory;
   * with `Autoscaling.keda()` a ScaledObject on requests and queue lag, and `minReplicas: 0`
   * scales the function to zero when idle (docs/scaling.md). Each prop falls back to
   * functionDefaults.scaling.
   * @default - functionDefaults.scaling, else 1 replica and no autoscaling
   */
  readonly scaling?: ScalingOptions;
  /**
   * Extra labels on the function's objects and pods.
   * @default - none
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Triggers bound at construction (more with `addTrigger`).
   * @default - none: nothing of the function is public; internal callers reach it on the router's
   * admin port (`/function/<name>`), and `invocation` can make it public
   */
  readonly triggers?: readonly ITrigger[];
  /**
   * Public by-name (`/function/<name>`) and async (`/async-function/<name>`) invocation on the
   * router's public port, besides the routes of the HttpTriggers. Internal callers (the cron sender,
   * `kubefaas invoke`) reach every function on the router's admin port regardless (docs/security.md).
   * @default - neither: only the function's HttpTrigger routes are public
   */
  readonly invocation?: InvocationOptions;
  /**
   * Where the function's pods run: regular nodes, AWS Fargate, AKS virtual nodes, or burst (see
   * docs/placement.md). The provider's limits are checked at synth.
   * @default - functionDefaults.placement, else Placement.regularNodes()
   */
  readonly placement?: Placement;
  /**
   * Changes to this function's alert rules (they win over the platform's `metrics` rules);
   * `false` turns an alert off. Used when the platform has metrics (docs/metrics.md).
   * @default - the platform's rules
   */
  readonly alerts?: FunctionAlertOptions;
  /**
   * The Kubernetes identity of the pods: `FunctionServiceAccount.create({ annotations })`,
   * `.awsIamRole(arn)` (IRSA), `.azureWorkloadIdentity(clientId)`, or `.fromName(existing)`. The API
   * token is mounted only with `automountToken: true`.
   * @default - the namespace's `default` ServiceAccount, no API token mounted
   */
  readonly serviceAccount?: FunctionServiceAccount;
  /**
   * UNSAFE: report a handler's exception message in a failed async call's state
   * (`GET /async-function/<name>/<id>`, readable by anyone holding the call id) and callback.
   * Messages can contain secrets; keep it off unless every message the handler can throw is public.
   * @default false - a generic error with the request id; the full message is in the function's logs
   */
  readonly exposeErrorMessages?: boolean;
  /**
   * Where the pods may open connections besides DNS and the queue (which they may always reach
   * when they use it): `Egress.internet()`, `Egress.cidr(...)`, `Egress.namespace(...)`,
   * `Egress.toFunction(other)`. More with `allowEgressTo`. Callback delivery to the public hosts of
   * `router.callbacks` is added by itself (docs/security.md, Network).
   * @default - functionDefaults.egress, else nothing else
   */
  readonly egress?: Egress | readonly Egress[];
  /**
   * Topics the handler publishes to with `context.publish`: `topic<T>()` references from
   * `kubefaas/refs`, or topic names. A declaration of the platform's graph (docs/composition.md):
   * the function's NATS user may publish to these (and to its QueueTriggers' response and
   * dead-letter topics) and nowhere else, and the runtime refuses `context.publish` to any other
   * topic with an error naming this prop. Needs a platform queue and a NodeFunction.
   * @default - none declared: the handler cannot publish
   */
  readonly publishes?: ReadonlyArray<TopicRef | string>;
  /**
   * Functions of the same platform the handler calls with `context.invoke` (straight to their
   * Service) or `context.invokeAsync` (through the queue): `fn<In, Out>()` references from
   * `kubefaas/refs`, or function names. The runtime calls only these (their URLs are rendered into
   * `KUBEFAAS_INVOKE_TARGETS`), the NetworkPolicies let this function's pods reach theirs, and with
   * queue isolation its NATS user may queue async calls to them.
   * @default - none: `context.invoke` and `invokeAsync` refuse every call
   */
  readonly invokes?: ReadonlyArray<FunctionRef | string>;
}

/** What a concrete function kind contributes to its pods. */
export interface FunctionContainer {
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  /** Env set by the platform, placed before the user's env. */
  readonly systemEnv: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly readinessProbe: Probe;
  readonly livenessProbe: Probe;
  readonly configMapVolumes: ReadonlyArray<{
    readonly volume: string;
    readonly configMap: string;
    readonly mountPath: string;
  }>;
  readonly podAnnotations: Readonly<Record<string, string>>;
  /** Annotations of the Deployment itself (not its pods), e.g. local-only settings. @default - none */
  readonly workloadAnnotations?: Readonly<Record<string, string>>;
  /** Init containers (complete Container objects), run before the function container in every pod. @default - none */
  readonly initContainers?: WorkloadSpec['initContainers'];
  /** Volumes only the init containers mount. @default - none */
  readonly initVolumes?: WorkloadSpec['initVolumes'];
  /** More volumes mounted read-only in the function container. @default - none */
  readonly extraVolumes?: WorkloadSpec['extraVolumes'];
  /**
   * Concurrent invocations one replica accepts before answering 429 (0 = unlimited): a KEDA
   * concurrency target above it could never be reached.
   * @default 0
   */
  readonly maxConcurrency?: number;
}

/**
 * The parts shared by every kind of function: naming, platform membership, env, resources,
 * scaling, triggers, and the Deployment/Service/NetworkPolicy/HPA/PDB that run it.
 */
export abstract class FunctionBase extends Construct {
  public readonly functionName: string;
  public readonly platform: Platform;
  public readonly timeout: Duration;
  public readonly timeoutMillis: number;
  public readonly scaling: FunctionScaling;
  /** Memory request/limit in bytes. */
  public readonly memoryBytes: number;
  /** Size limit of the writable /tmp. */
  public readonly tmpBytes: number;
  /** CPU request in millicores. */
  public readonly cpuMillis: number;
  /** Where the function's pods run. */
  public readonly placement: Placement;

  /** This function's alert changes (see FunctionOptions.alerts). */
  public readonly alerts?: FunctionAlertOptions;

  /**
   * Escape hatch: the ServiceAccount kubefaas created for the function (`serviceAccount` prop with
   * `create`, `awsIamRole` or `azureWorkloadIdentity`); undefined otherwise.
   */
  public readonly serviceAccount?: ApiObject;
  /** Name of the pods' ServiceAccount, when the function has one of its own (created or existing). */
  public readonly serviceAccountName?: string;

  /**
   * Whether the function's pods run a kubefaas runtime (Node or Python), which consumes the queue
   * (QueueTriggers, async calls, cron ticks).
   */
  public abstract readonly runsKubefaasRuntime: boolean;

  /**
   * Whether the pods drain in-process on SIGTERM (`KUBEFAAS_DRAIN_DELAY_MS`, the Node runtime);
   * otherwise they get the drain as a `preStop` sleep.
   */
  public abstract readonly drainsInProcess: boolean;

  /** Whether the pods serve kubefaas metrics on `/metrics` (Prometheus skips them otherwise). */
  public abstract readonly servesMetrics: boolean;

  private readonly exposeErrorMessages: boolean; // issue 15 item 5
  private readonly invocation: ResolvedInvocation;
  private readonly _publishes: string[];
  private readonly _invokes: string[];
  private readonly userLabels: Record<string, string>;
  private readonly envVars = new Map<string, EnvVarSource>();
  private readonly _triggers: ITrigger[] = [];
  /** `props.triggers`, until the concrete kind's constructor calls bindTriggers(). */
  private pendingTriggers: readonly ITrigger[] | undefined;
  private _workload?: Workload;
  private _scaledObject?: ApiObject;
  private readonly serviceAccountConfig?: ServiceAccountConfig;
  /** Declared egress (rendered and checked when declared). */
  private readonly egressRules: EgressRuleSpec[] = [];
  /** Sources admitted besides the router and the scrapers: functions that declared Egress.toFunction(this). */
  private readonly callerPeers: PeerSpec[] = [];

  protected constructor(scope: Construct, id: string, props: FunctionOptions, minMemoryBytes: number) {
    super(scope, id);
    props = props ?? {};
    const platform = props.platform ?? Platform.find(scope);
    if (!(platform instanceof Platform)) {
      throw new ValidationError(
        this,
        'the function belongs to no platform',
        'Create it inside a Platform, or pass `platform` in its props',
      );
    }
    this.platform = platform;
    this.functionName = validateFunctionName(this, props.functionName ?? id);
    const defaults = platform.functionDefaults;

    this.timeout = props.timeout ?? defaults.timeout ?? Defaults.timeout;
    this.timeoutMillis = durationMillis(this, 'timeout', this.timeout, Limits.minTimeout, Limits.maxTimeout);
    this.memoryBytes = sizeBytes(
      this,
      'memory',
      props.memory ?? defaults.memory ?? Defaults.memory,
      minMemoryBytes,
      Limits.maxMemoryBytes,
    );
    this.tmpBytes = sizeBytes(
      this,
      'tmpSize',
      props.tmpSize ?? defaults.tmpSize ?? Defaults.tmpSize,
      Limits.minTmpBytes,
      Limits.maxTmpBytes,
    );
    this.cpuMillis = cpuMillis(
      this,
      'cpu',
      props.cpu ?? defaults.cpu ?? Defaults.cpu,
      Limits.minCpuMillis,
      Limits.maxCpuMillis,
    );
    this.scaling = resolveFunctionScaling(this, props.scaling, defaults.scaling, {
      keda: platform._keda !== undefined,
      timeoutMs: this.timeoutMillis,
    });
    this.userLabels = validateLabels(this, props.labels ?? {});
    validateFunctionAlerts(this, 'alerts', props.alerts);
    this.alerts = props.alerts;
    this.exposeErrorMessages = props.exposeErrorMessages === true; // issue 15 item 5
    this.invocation = resolveInvocation(this, props.invocation);
    this.node.addValidation({ validate: () => invocationProblems(this.invocation, this.invocationContext()) });
    if (props.serviceAccount !== undefined) {
      if (!(props.serviceAccount instanceof FunctionServiceAccount)) {
        throw new ValidationError(
          this,
          '`serviceAccount` must be a FunctionServiceAccount',
          'Use e.g. FunctionServiceAccount.awsIamRole(arn) or FunctionServiceAccount.fromName("existing")',
        );
      }
      const account = props.serviceAccount._resolve(this, this.functionName, this.userLabels);
      this.serviceAccountConfig = account;
      this.serviceAccountName = account.name;
      if (account.create) {
        this.serviceAccount = new ApiObject(this, 'ServiceAccount', {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: objectMeta(account.name, platform.namespace, this.objectLabels, account.create.annotations),
          // The pod spec decides about the token; the account itself never hands one out by default.
          automountServiceAccountToken: account.automountToken,
        });
      }
    }
    this.placement = props.placement ?? defaults.placement ?? Placement.regularNodes();
    platform.usePlacement(this.placement, this);
    checkScaleToZeroPlacement(
      this,
      this.scaling,
      this.placement,
      (props.scaling?.activationTimeout ?? defaults.scaling?.activationTimeout) !== undefined,
    );

    this._publishes = declaredNames(this, 'publishes', props.publishes, topicNameOf);
    this._invokes = declaredNames(this, 'invokes', props.invokes, functionNameOf);
    this.node.addValidation({ validate: () => this.undeclaredTargets() });
    this.node.addValidation({ validate: () => this.checkPublishes() });

    const env = { ...defaults.env, ...props.env };
    for (const [name, value] of Object.entries(env)) this.addEnv(name, value);
    this.allowEgressTo(...egressList(this, '`egress`', props.egress ?? defaults.egress));

    platform.registerFunction(this);
    // Bound by the concrete kind once its own fields are set (bindTriggers): a trigger asks the
    // function what it is (runsKubefaasRuntime, timeout, …), which the kind knows only then.
    this.pendingTriggers = props.triggers ?? [];
  }

  /**
   * What of the function the router's public port serves besides its routes (the route table's
   * `invocation`), read at synth when every trigger is bound; undefined = nothing more.
   */
  public get publicInvocation(): PublicInvocation | undefined {
    return publicInvocation(this.invocation, this.invocationContext());
  }

  private invocationContext(): InvocationContext {
    return {
      routeMethods: this.platform.httpRoutes.filter((r) => r.function === this).flatMap((r) => r.methods),
      hasQueue: this.platform.queue !== undefined,
      runsKubefaasRuntime: this.runsKubefaasRuntime,
    };
  }

  /** In-cluster URL of the function's Service. */
  public get url(): string {
    return `http://${serviceHost(this.functionName, this.platform.namespace, this.platform.clusterDomain)}:${SERVICE_PORT}`;
  }

  public get triggers(): readonly ITrigger[] {
    return [...this._triggers];
  }

  /** Names of the topics the function declared it publishes to (`publishes`). */
  public get publishes(): readonly string[] {
    return [...this._publishes];
  }

  /** Names of the functions the function declared it calls (`invokes`). */
  public get invokes(): readonly string[] {
    return [...this._invokes];
  }

  /** Binds a trigger (e.g. `new HttpTrigger({ path: '/hello' })`) to this function. */
  public addTrigger(trigger: ITrigger): this {
    if (!trigger || typeof (trigger as ITrigger).bind !== 'function') {
      throw new ValidationError(
        this,
        'addTrigger needs a trigger object',
        'Pass e.g. new HttpTrigger({ path: "/hello" })',
      );
    }
    trigger.bind(this);
    this._triggers.push(trigger);
    return this;
  }

  /**
   * Lets the pods open connections to more destinations (NetworkPolicy egress). `Egress.toFunction(other)`
   * also makes `other` admit this function's pods.
   */
  public allowEgressTo(...rules: Egress[]): this {
    for (const rule of egressList(this, 'allowEgressTo', rules)) {
      this.egressRules.push(rule._render(this, this.platform.namespace));
      const target = rule._targetFunction;
      if (target !== undefined) {
        if (!(target instanceof FunctionBase))
          throw new ValidationError(
            this,
            'Egress.toFunction needs a kubefaas function',
            'Pass a NodeFunction, PythonFunction or ContainerFunction',
          );
        target.callerPeers.push(
          podsPeer(
            { matchLabels: { [Labels.function]: this.functionName } },
            this.platform.namespace,
            target.platform.namespace,
          ),
        );
      }
    }
    return this;
  }

  /** Adds an environment variable (a string literal or an `EnvValue` reference). */
  public addEnv(name: string, value: EnvInput): this {
    validateEnvName(this, name);
    if (this.envVars.has(name)) {
      throw new ValidationError(this, `environment variable '${name}' is already set`, 'Set each variable once');
    }
    this.envVars.set(name, toEnvValue(this, name, value).bind(this));
    return this;
  }

  /**
   * Binds the triggers given in the props. Called by the concrete kind's constructor once its own
   * fields are set and before it creates its objects, so what triggers create (a CronJob) keeps its
   * place in the manifests. createWorkload binds them too if a kind did not; later calls do nothing.
   */
  protected bindTriggers(): void {
    const pending = this.pendingTriggers;
    this.pendingTriggers = undefined;
    for (const trigger of pending ?? []) this.addTrigger(trigger);
  }

  /**
   * Escape hatch: the function's Deployment, for `addJsonPatch` (cdk8s `JsonPatch`) on what kubefaas
   * does not model.
   */
  public get deployment(): ApiObject {
    return this.workloadCreated().deployment;
  }

  /**
   * Escape hatch: the function's KEDA ScaledObject (`Autoscaling.keda()` and maxReplicas >
   * minReplicas); undefined otherwise.
   */
  public get scaledObject(): ApiObject | undefined {
    return this._scaledObject;
  }

  /** Escape hatch: the function's Service. */
  public get service(): ApiObject {
    return this.workloadCreated().service;
  }

  private workloadCreated(): Workload {
    if (!this._workload)
      throw new ValidationError(
        this,
        'the function has no Deployment yet',
        'Use the escape hatches after the function is constructed',
      );
    return this._workload;
  }

  /** Labels on all of the function's objects. */
  protected get objectLabels(): Record<string, string> {
    return { [Labels.name]: this.functionName, [Labels.function]: this.functionName };
  }

  /** Creates the objects that run the function; called once by the concrete kind's constructor. */
  protected createWorkload(container: FunctionContainer): Workload {
    this.bindTriggers();
    const namespace = this.platform.namespace;
    const selector = { [Labels.function]: this.functionName };
    const shutdown = shutdownTiming(this.timeoutMillis);
    const workload = new Workload(this, 'Workload', {
      name: this.functionName,
      namespace,
      labels: this.objectLabels,
      selector,
      podLabels: { ...this.userLabels, ...this.serviceAccountConfig?.podLabels },
      ...(this.serviceAccountConfig
        ? {
            serviceAccount: {
              name: this.serviceAccountConfig.name,
              automountToken: this.serviceAccountConfig.automountToken,
            },
          }
        : {}),
      podAnnotations: () => ({ ...container.podAnnotations }),
      workloadAnnotations: container.workloadAnnotations,
      containerName: 'function',
      image: container.image,
      command: container.command,
      args: container.args,
      // Queue env (KUBEFAAS_NATS_URL, _QUEUE_CONFIG, _SUBSCRIPTIONS) is rendered here, after every trigger is bound.
      env: () => [
        ...container.systemEnv,
        ...errorExposureEnv(this.exposeErrorMessages),
        ...(this.drainsInProcess ? shutdownEnv(shutdown) : []),
        ...queueEnv(this),
        ...callbackPolicyEnv(this),
        ...this.invokeTargetsEnv(),
        ...[...this.envVars].map(([name, source]) => ({ name, ...source })),
      ],
      resources: { cpuMillis: this.cpuMillis, memoryBytes: this.memoryBytes },
      tmpBytes: this.tmpBytes,
      readinessProbe: container.readinessProbe,
      livenessProbe: container.livenessProbe,
      configMapVolumes: container.configMapVolumes,
      // With queue TLS: the CA certificate, for pods that connect to the queue.
      extraVolumes: [
        ...(container.extraVolumes ?? []),
        ...(queueEnv(this).length > 0 ? queueClientVolumes(this.platform.queue) : []),
      ],
      initContainers: container.initContainers,
      initVolumes: container.initVolumes,
      scaling: this.scaling,
      autoscaler: this.scaling.autoscaler === 'keda' ? 'external' : 'hpa',
      // Drain, then let in-flight invocations finish (constructs/shutdown.ts).
      terminationGracePeriodSeconds: shutdown.terminationGracePeriodSeconds,
      // The Node runtime drains in-process (KUBEFAAS_DRAIN_DELAY_MS); other pods get the drain as a
      // preStop sleep, except where hooks are rejected (AKS virtual nodes v1).
      lifecycle: this.drainsInProcess
        ? undefined
        : (placement) =>
            placement.ruleProviders.includes('azure-virtual-node-v1') ? undefined : preStopSleep(shutdown),
      placement: () => this.placement,
      placementSubject: `function "${this.functionName}"`,
      networkPolicy: true,
      fargateSelectors: () => this.platform.fargateSelectorsFor(this.placement),
    });
    this._workload = workload;
    const keda = this.platform._keda;
    const scaler = this.platform.scaler;
    if (keda && scaler && this.scaling.maxReplicas > this.scaling.minReplicas) {
      this._scaledObject = functionScaledObject(this, 'ScaledObject', {
        name: this.functionName,
        namespace,
        labels: this.objectLabels,
        scaling: this.scaling,
        keda,
        scalerAddress: scaler.address,
        targetConcurrency: concurrencyTarget(this, this.scaling, container.maxConcurrency ?? 0),
        queue: () => this.jetStreamConsumers(),
      });
    }

    networkPolicyObject(this, 'NetworkPolicy', {
      name: this.functionName,
      namespace,
      labels: this.objectLabels,
      podSelector: { matchLabels: selector },
      ingress: () => this.ingressRules(),
      egress: () => this.egressRulesAtSynth(),
    });
    return workload;
  }

  /** `Env.INVOKE_TARGETS`: name → Service URL of every function in `invokes` (same platform, so same namespace). */
  private invokeTargetsEnv(): { readonly name: string; readonly value: string }[] {
    if (this._invokes.length === 0) return [];
    const { namespace, clusterDomain } = this.platform;
    const targets = Object.fromEntries(
      this._invokes.map((name) => [name, `http://${serviceHost(name, namespace, clusterDomain)}:${SERVICE_PORT}`]),
    );
    return [{ name: Env.INVOKE_TARGETS, value: JSON.stringify(targets) }];
  }

  /** The functions of the platform this one invokes (every name resolves: see undeclaredTargets). */
  private invokedFunctions(): FunctionBase[] {
    return this.platform.functions.filter(
      (f): f is FunctionBase => f instanceof FunctionBase && this._invokes.includes(f.functionName),
    );
  }

  /** `publishes` needs a queue, and a runtime that publishes (the kubefaas Node runtime). */
  private checkPublishes(): string[] {
    if (this._publishes.length === 0) return [];
    const topics = this._publishes.map((t) => `'${t}'`).join(', ');
    if (this.platform.queue === undefined)
      return [
        validationMessage(
          `the function publishes to ${topics} but platform ${this.platform.node.path} has no queue`,
          'Give the platform a queue: new Platform(app, "faas", { queue: Queue.nats() })',
        ),
      ];
    if (!this.runsKubefaasRuntime)
      return [
        validationMessage(
          `the function publishes to ${topics}, but only NodeFunctions and PythonFunctions publish to the queue (other images get no queue credentials)`,
          'Publish from a NodeFunction or PythonFunction, or drop `publishes`',
        ),
      ];
    return [];
  }

  /** `invokes` names functions of this platform (checked at synth, when every function exists). */
  private undeclaredTargets(): string[] {
    const known = new Set(this.platform.functions.map((f) => f.functionName));
    return this._invokes
      .filter((name) => !known.has(name))
      .map((name) =>
        validationMessage(
          `\`invokes\` names function '${name}', but platform ${this.platform.node.path} has no function of that name`,
          `Add the function to the platform, or fix the name (known: ${[...known].sort().join(', ') || 'none'})`,
        ),
      );
  }

  /**
   * The JetStream consumers of the function's runtime (KEDA's `nats-jetstream` triggers read their
   * lag): its subscriptions and, when it delivers callbacks, the callback jobs. Read at synth.
   */
  private jetStreamConsumers(): { monitoringEndpoint: string; consumers: JetStreamConsumer[] } | undefined {
    const queue = this.platform.queue;
    if (queue === undefined || queueEnv(this).length === 0) return undefined;
    const subs = queueSubscriptions(this);
    const consumers: JetStreamConsumer[] = subs.map((sub) => ({
      stream: streamOf(queue.config, sub.kind),
      durable: sub.durable,
      maxInFlight: sub.maxInFlight,
      ordered: sub.ordered,
    }));
    const async = subs.find((sub) => sub.kind === 'async');
    if (async !== undefined && deliversCallbacks(this))
      consumers.push({
        stream: queue.config.callsStream,
        durable: callbackDurable(async.durable),
        maxInFlight: async.maxInFlight,
        ordered: false,
      });
    return {
      // The headless Service: in a cluster of servers KEDA asks `<server-name>.<this host>` for the
      // consumer's leader, and the server names are the pod names (nats-config.ts).
      monitoringEndpoint: `${serviceHost(NATS_HEADLESS_NAME, this.platform.namespace, this.platform.clusterDomain)}:${NatsPorts.monitor}`,
      consumers,
    };
  }

  /** Who may connect: the router, the scrapers (when the pods serve metrics), declared callers. */
  private ingressRules(): IngressRuleSpec[] {
    const port = [{ protocol: 'TCP' as const, port: CONTAINER_PORT }];
    const scrapers = this.servesMetrics ? this.platform.metricsScrapers.map((peer) => ({ ...peer })) : [];
    // Functions that declared `invokes` of this one call its pods directly (context.invoke).
    const invokers = this.platform.functions
      .filter((f): f is FunctionBase => f instanceof FunctionBase && f._invokes.includes(this.functionName))
      .map((f) =>
        podsPeer(
          { matchLabels: { [Labels.function]: f.functionName } },
          this.platform.namespace,
          this.platform.namespace,
        ),
      );
    const callers = [...this.callerPeers, ...invokers];
    return [
      { from: [{ podSelector: { matchLabels: { [Labels.platformComponent]: 'router' } } }], ports: port },
      // Prometheus scrapes /metrics on the same port.
      ...(scrapers.length > 0 ? [{ from: scrapers, ports: port }] : []),
      ...(callers.length > 0 ? [{ from: callers, ports: port }] : []),
    ];
  }

  /** DNS; the queue when the pods use it; callback receivers; what was declared. */
  private egressRulesAtSynth(): EgressRuleSpec[] {
    const queue = this.platform.queue;
    const usesQueue = queue !== undefined && queueEnv(this).length > 0;
    return [
      ...this.platform.network.dns,
      ...(usesQueue
        ? [
            {
              to: [{ podSelector: { matchLabels: { ...queue.podSelector } } }],
              ports: [{ protocol: 'TCP' as const, port: NatsPorts.client }],
            },
          ]
        : []),
      ...(deliversCallbacks(this)
        ? callbackEgress(this, this.platform.callbackUrlPolicy!, this.egressRules.length > 0)
        : []),
      ...this.egressRules,
      // context.invoke: straight to the pods of the functions in `invokes`.
      ...this.invokedFunctions().map((target) => Egress.toFunction(target)._render(this, this.platform.namespace)),
    ];
  }
}

/** Names of a `publishes` / `invokes` list (references or strings), checked, without repeats. */
function declaredNames<T>(
  scope: FunctionBase,
  prop: string,
  list: ReadonlyArray<T> | undefined,
  nameOf: (value: T) => string,
): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list))
    throw new ValidationError(scope, `\`${prop}\` must be an array`, `Pass e.g. ${prop}: [ref] (a list, even of one)`);
  const names: string[] = [];
  list.forEach((value, i) => {
    let name: string;
    try {
      name = nameOf(value);
    } catch (err) {
      throw new ValidationError(
        scope,
        `\`${prop}[${i}]\`: ${(err as Error).message}`,
        prop === 'invokes'
          ? 'Give fn("name") references from kubefaas/refs or function names'
          : 'Give topic("name") references from kubefaas/refs or topic names',
      );
    }
    if (!names.includes(name)) names.push(name);
  });
  return names;
}

/**
 * The platform's callback policy, for a runtime that delivers async calls' callbacks (it re-checks
 * every URL and resolved address before the POST). Absent = the runtime refuses every callback.
 */
function callbackPolicyEnv(fn: FunctionBase): { readonly name: string; readonly value: string }[] {
  if (!deliversCallbacks(fn)) return [];
  return [{ name: QueueEnv.CALLBACK_POLICY, value: JSON.stringify(fn.platform.callbackUrlPolicy) }];
}

/** Whether the function's runtime POSTs async calls' callbacks (callbacks allowed, async calls consumed). */
function deliversCallbacks(fn: FunctionBase): boolean {
  if (fn.platform.callbackUrlPolicy === undefined || queueEnv(fn).length === 0) return false;
  return queueSubscriptions(fn).some((s) => s.kind === 'async');
}

/**
 * Scale to zero on serverless capacity: a pod there starts only after the provider provisions a
 * micro-VM (Fargate) or a container group (ACI) for it, so the first request waits for that too,
 * which the default hold time (30 s) was not sized for (docs/placement.md). Burst placements start
 * on regular nodes and are fine. The hold time must then be chosen, not defaulted.
 */
function checkScaleToZeroPlacement(
  fn: FunctionBase,
  scaling: FunctionScaling,
  placement: Placement,
  activationTimeoutSet: boolean,
): void {
  if (scaling.minReplicas !== 0 || placement.mode !== 'only' || placement.provider === 'regular') return;
  if (activationTimeoutSet) return;
  throw new ValidationError(
    fn,
    `scaling.minReplicas is 0 on ${placement.description}: every cold start there waits for the provider to provision capacity for the pod, and the default activation timeout (30 s) would answer 504 first`,
    'Set scaling.activationTimeout (and a timeout above it) to what a cold start on that capacity takes, keep minReplicas at 1 or more, or (on AKS) use Placement.burst(...) so pods start on regular nodes',
  );
}
