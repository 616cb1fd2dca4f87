import { ApiObject, Duration, Lazy } from 'cdk8s';
import {
  Annotations,
  CronEnv,
  Labels,
  NODE_UID,
  Paths,
  QueueEnv,
  SCHEDULE_HINT,
  TIME_ZONE_HINT,
  cronSubject,
  cronTickBody,
  timeZoneProblem,
  type QueueSubscription,
} from '../../src/contract';
import { checkSchedule } from '../schedule';
import { ValidationError } from '../errors';
import type { FunctionBase, ITrigger } from '../function-base';
import { checkOptions, integerOption, resolvedOptions, TriggerProblem, type CheckedOptions } from './trigger-options';
import { objectMeta } from '../metadata';
import { podBundle, type PodBundle } from '../pod-code';
import { CRON_CONFIGMAP, durableNames } from '../queue/names';
import {
  ackWaitFor,
  addQueueSubscription,
  queueAuthEnv,
  queueClientVolumes,
  queueConfigJson,
  queueOf,
  runsKubefaasRuntime,
} from '../queue/registry';
import { NatsUserNames } from '../queue/nats-auth';
import { recordCronTrigger } from '../graph/registry';
import { isDns1123Label } from '../validation';
import { restrictedContainerSecurity, restrictedPodSecurity } from '../pod-security';
import { CodeConfigMap } from '../code-config-map';
import { Defaults } from '../defaults';
import { tmpVolume } from '../workload';
import type { PodTemplateLike } from '../placement/pod-types';
import { addPlacementValidation } from '../placement/validation';

export type ConcurrencyPolicy = 'Forbid' | 'Allow' | 'Replace';

export interface CronTriggerProps {
  /**
   * When to fire, in the 5-field cron syntax Kubernetes CronJobs accept
   * (`minute hour day-of-month month day-of-week`, e.g. `*\/5 * * * *`, `0 2 * * MON-FRI`) or a
   * descriptor (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`).
   */
  readonly schedule: string;
  /**
   * IANA time zone the schedule is read in (`Europe/Berlin`).
   * @default - the time zone of the cluster's kube-controller-manager (usually UTC)
   */
  readonly timeZone?: string;
  /**
   * Name of the trigger, unique per function: the CronJob is `<function>-cron-<name>` (at most 52
   * characters), the event type names it, and `kubefaas invoke <function> --trigger cron/<name>`
   * fires it by hand.
   * @default 'tick'
   */
  readonly name?: string;
  /**
   * What happens when a tick is due while the previous one is still being delivered.
   * @default 'Forbid' (skip the new tick)
   */
  readonly concurrencyPolicy?: ConcurrencyPolicy;
  /**
   * A tick that cannot start within this time after its scheduled time is skipped (≥ 10 s).
   * Always set: without a deadline, a CronJob whose controller missed more than 100 schedules (a
   * control-plane outage, a long suspend) stops scheduling for good ("too many missed start times").
   * @default Duration.minutes(5)
   */
  readonly startingDeadline?: Duration;
  /**
   * Finished successful Jobs kept for inspection (0..100).
   * @default 3
   */
  readonly successfulJobsHistoryLimit?: number;
  /**
   * Finished failed Jobs kept for inspection (0..100).
   * @default 1
   */
  readonly failedJobsHistoryLimit?: number;
  /**
   * Data every tick carries, JSON-encoded (at most 64 KiB): the tick event's body is the JSON
   * `{ function, trigger, schedule, timeZone, firedAt, data }`.
   * @default - no `data` in the tick
   */
  readonly data?: string | number | boolean | Readonly<Record<string, unknown>> | readonly unknown[];
}

/** Defaults of CronTrigger, in one place (documented in docs/events.md). */
export const CronTriggerDefaults = {
  name: 'tick',
  concurrencyPolicy: 'Forbid' as ConcurrencyPolicy,
  successfulJobsHistoryLimit: 3,
  failedJobsHistoryLimit: 1,
  /** Finished Jobs (and their pods) are deleted after this long. */
  ttlSecondsAfterFinished: 600,
  /** Pod retries of one tick; the sender itself retries its publish/request too. */
  backoffLimit: 2,
  /** Queue delivery: redeliveries of a tick whose handler failed. */
  maxRetries: 2,
  backoffMs: [5_000, 30_000] as readonly number[],
  cpuMillis: 10,
  memoryBytes: 64 * 1024 * 1024,
  /** startingDeadlineSeconds of every CronJob unless the trigger sets its own. */
  startingDeadlineSeconds: 300,
} as const;

/** CronJob names are limited to 52 characters: the controller appends 11 for each Job. */
const MAX_CRONJOB_NAME = 52;
const MAX_DATA_BYTES = 64 * 1024;
const POLICIES: readonly ConcurrencyPolicy[] = ['Forbid', 'Allow', 'Replace'];

interface Resolved {
  readonly schedule: string;
  readonly timeZone?: string;
  readonly name: string;
  readonly concurrencyPolicy: ConcurrencyPolicy;
  readonly startingDeadlineSeconds?: number;
  readonly successfulJobsHistoryLimit: number;
  readonly failedJobsHistoryLimit: number;
  readonly data?: string;
}

/**
 * Fires the function on a schedule: a `batch/v1` CronJob per trigger whose pod runs the tiny cron
 * sender on the platform's node image. With a queue the tick is published to JetStream (so it is
 * not lost while the function is down) and consumed like any queue message; without one it is
 * POSTed to the function through the router.
 *
 * The schedule and time zone are checked when the trigger is created; problems are reported when
 * it is bound, with the function's construct path.
 */
export class CronTrigger implements ITrigger {
  private readonly checked: CheckedOptions<Resolved>;

  constructor(public readonly props: CronTriggerProps) {
    this.checked = checkOptions(() => resolve(props ?? ({} as CronTriggerProps)));
  }

  /** The trigger's name (unique per function). */
  public get name(): string {
    return this.checked.ok ? this.checked.value.name : String(this.props?.name ?? CronTriggerDefaults.name);
  }

  public bind(fn: FunctionBase): void {
    const what = `CronTrigger '${this.name}'`;
    const r = resolvedOptions(fn, what, this.checked);
    const cronJobName = `${fn.functionName}-cron-${r.name}`;
    if (cronJobName.length > MAX_CRONJOB_NAME) {
      throw new ValidationError(
        fn,
        `${what}: its CronJob name '${cronJobName}' is ${cronJobName.length} characters, over the ${MAX_CRONJOB_NAME} Kubernetes allows`,
        'Give the trigger a shorter `name` (or the function a shorter name)',
      );
    }
    const id = `CronTrigger-${r.name}`;
    if (fn.node.tryFindChild(id)) {
      throw new ValidationError(
        fn,
        `${what}: the function already has a cron trigger named '${r.name}'`,
        'Give each CronTrigger of a function its own `name`',
      );
    }

    checkTickFits(fn, what, r);

    const platform = fn.platform;
    const queue = queueOf(platform);
    const viaQueue = queue !== undefined && runsKubefaasRuntime(fn);
    const timeoutMs = fn.timeoutMillis + 10_000;
    const env: Array<Record<string, unknown>> = [
      { name: CronEnv.FUNCTION, value: fn.functionName },
      { name: CronEnv.TRIGGER, value: r.name },
      { name: CronEnv.SCHEDULE, value: r.schedule },
      ...(r.timeZone !== undefined ? [{ name: CronEnv.TIME_ZONE, value: r.timeZone }] : []),
      ...(r.data !== undefined ? [{ name: CronEnv.DATA, value: r.data }] : []),
      { name: CronEnv.TIMEOUT_MS, value: String(timeoutMs) },
    ];
    // Unique per scheduled run: a retried pod of the same Job delivers a tick with the same id (de-duplicated).
    const jobName = {
      name: CronEnv.JOB_NAME,
      valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } },
    };
    if (viaQueue) {
      env.push(
        { name: QueueEnv.NATS_URL, value: queue.url },
        { name: QueueEnv.QUEUE_CONFIG, value: queueConfigJson(queue.config) },
      );
      env.push(...queueAuthEnv(queue, NatsUserNames.cron));
      const subscription: QueueSubscription = {
        kind: 'cron',
        subject: cronSubject(queue.config, fn.functionName, r.name),
        durable: durableNames.cron(fn.functionName, r.name),
        trigger: r.name,
        // Forbid/Replace: ticks never overlap in the handler either.
        maxInFlight: r.concurrencyPolicy === 'Allow' ? 4 : 1,
        ackWaitMs: ackWaitFor(fn),
        maxRetries: CronTriggerDefaults.maxRetries,
        backoffMs: [...CronTriggerDefaults.backoffMs],
        ordered: r.concurrencyPolicy !== 'Allow',
      };
      addQueueSubscription(fn, subscription, what);
    } else {
      // The admin port's by-name path: every function, whatever its public `invocation`.
      env.push({ name: CronEnv.ROUTER_URL, value: platform.routerAdminUrl });
    }

    platform.useCronDelivery(viaQueue ? 'queue' : 'router');
    recordCronTrigger(platform, {
      function: fn,
      trigger: r.name,
      schedule: r.schedule,
      ...(r.timeZone !== undefined ? { timeZone: r.timeZone } : {}),
    });
    const cronCode = ensureCronCode(fn);
    const tlsVolumes = viaQueue ? queueClientVolumes(queue) : [];
    const labels = { [Labels.name]: cronJobName, [Labels.component]: 'cron' };
    // Not the function's selector label: the function's Service must never route to a cron pod.
    const podLabels = {
      ...objectMeta(cronJobName, platform.namespace, labels).labels,
      [Labels.platformComponent]: 'cron',
    };
    const cronTemplate: PodTemplateLike = {
      metadata: { labels: podLabels, annotations: { [Annotations.codeHash]: cronCode.sha256.slice(0, 16) } },
      spec: {
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: restrictedPodSecurity(NODE_UID),
        containers: [
          {
            name: 'cron',
            image: platform.nodeImage,
            imagePullPolicy: 'IfNotPresent',
            command: ['node', `${Paths.cronDir}/${Paths.cronFile}`],
            env: [...env, jobName],
            resources: {
              requests: {
                cpu: `${CronTriggerDefaults.cpuMillis}m`,
                memory: `${CronTriggerDefaults.memoryBytes / (1024 * 1024)}Mi`,
              },
              limits: { memory: `${CronTriggerDefaults.memoryBytes / (1024 * 1024)}Mi` },
            },
            securityContext: restrictedContainerSecurity(),
            volumeMounts: [
              { name: 'cron-code', mountPath: Paths.cronDir, readOnly: true },
              ...tlsVolumes.map((v) => ({ name: v.volume, mountPath: v.mountPath, readOnly: true })),
              { name: 'tmp', mountPath: Paths.tmpDir },
            ],
          },
        ],
        volumes: [
          { name: 'cron-code', configMap: { name: cronCode.configMapName } },
          ...tlsVolumes.map((v) => ({ name: v.volume, ...v.source })),
          tmpVolume(Defaults.componentTmpBytes),
        ],
      },
    };
    const cronJob = new ApiObject(fn, id, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: objectMeta(cronJobName, platform.namespace, labels),
      spec: {
        schedule: r.schedule,
        ...(r.timeZone !== undefined ? { timeZone: r.timeZone } : {}),
        concurrencyPolicy: r.concurrencyPolicy,
        startingDeadlineSeconds: r.startingDeadlineSeconds ?? CronTriggerDefaults.startingDeadlineSeconds,
        successfulJobsHistoryLimit: r.successfulJobsHistoryLimit,
        failedJobsHistoryLimit: r.failedJobsHistoryLimit,
        jobTemplate: {
          metadata: { labels: podLabels },
          spec: {
            backoffLimit: CronTriggerDefaults.backoffLimit,
            ttlSecondsAfterFinished: CronTriggerDefaults.ttlSecondsAfterFinished,
            // A hung sender must not block the next ticks (Forbid) forever.
            activeDeadlineSeconds: Math.ceil(timeoutMs / 1000) * (CronTriggerDefaults.backoffLimit + 1) + 60,
            // Placed like the function: on a Fargate-only or virtual-node cluster a cron pod on
            // regular nodes would never be scheduled, and a Fargate profile selects it by the same labels.
            template: Lazy.any({ produce: () => fn.placement.applyTo(cronTemplate).template }),
          },
        },
      },
    });
    addPlacementValidation(
      cronJob,
      () => fn.placement,
      () => ({
        subject: `cron job "${cronJobName}"`,
        workloadKind: 'CronJob',
        namespace: platform.namespace,
        template: fn.placement.applyTo(cronTemplate).template,
      }),
    );
  }
}

/**
 * A tick is a request into the function like any other, so it must fit the function's body limit
 * (`maxBodySize`): checked here, where the body is known to the byte (only the time it fired varies,
 * and its length does not), rather than refused by the function at every tick.
 */
function checkTickFits(fn: FunctionBase, what: string, r: Resolved): void {
  // NodeFunction and PythonFunction know their limit; a ContainerFunction's is its own business.
  const limit = (fn as { readonly maxBodyBytes?: number }).maxBodyBytes;
  if (limit === undefined) return;
  const body = cronTickBody({
    functionName: fn.functionName,
    trigger: r.name,
    schedule: r.schedule,
    timeZone: r.timeZone ?? null,
    firedAt: new Date(0).toISOString(),
    data: r.data === undefined ? undefined : JSON.parse(r.data),
  });
  const size = Buffer.byteLength(JSON.stringify(body));
  if (size > limit) {
    throw new ValidationError(
      fn,
      `${what}: its tick event is ${size} bytes, over the function's maxBodySize of ${limit} bytes`,
      "Raise the function's `maxBodySize`, or make the trigger's `data` smaller",
    );
  }
}

/** The platform's `kubefaas-cron-<hash>` ConfigMap (created with its first cron trigger). */
function ensureCronCode(fn: FunctionBase): PodBundle & { readonly configMapName: string } {
  const bundle = podBundle('cron');
  const platform = fn.platform;
  const existing = platform.node.tryFindChild('CronCode') as CodeConfigMap | undefined;
  const configMap =
    existing ??
    new CodeConfigMap(platform, 'CronCode', {
      baseName: CRON_CONFIGMAP,
      namespace: platform.namespace,
      codeOf: CRON_CONFIGMAP,
      labels: { [Labels.name]: CRON_CONFIGMAP, [Labels.component]: 'cron' },
      data: { [Paths.cronFile]: bundle.source },
      sha256: bundle.sha256,
    });
  return { ...bundle, configMapName: configMap.configMapName };
}

function resolve(p: CronTriggerProps): Resolved {
  const check = checkSchedule(p.schedule);
  if (!check.ok) throw new TriggerProblem(`invalid schedule: ${check.problem}`, SCHEDULE_HINT);
  if (p.timeZone !== undefined) {
    const problem = timeZoneProblem(p.timeZone);
    if (problem) throw new TriggerProblem(`invalid timeZone: ${problem}`, TIME_ZONE_HINT);
  }
  const name = p.name ?? CronTriggerDefaults.name;
  if (typeof name !== 'string' || !isDns1123Label(name)) {
    throw new TriggerProblem(
      `name '${String(name)}' is not a DNS-1123 label`,
      'Use lower-case letters, digits and "-", starting and ending with a letter or digit',
    );
  }
  const concurrencyPolicy = p.concurrencyPolicy ?? CronTriggerDefaults.concurrencyPolicy;
  if (!POLICIES.includes(concurrencyPolicy)) {
    throw new TriggerProblem(
      `concurrencyPolicy '${String(concurrencyPolicy)}' is not one of ${POLICIES.join(', ')}`,
      'Use Forbid (default), Allow or Replace',
    );
  }
  let startingDeadlineSeconds: number | undefined;
  if (p.startingDeadline !== undefined) {
    const seconds = p.startingDeadline instanceof Duration ? p.startingDeadline.toSeconds({ integral: false }) : NaN;
    if (!Number.isInteger(seconds) || seconds < 10) {
      throw new TriggerProblem(
        'startingDeadline must be a whole number of seconds, at least 10 (the CronJob controller checks every 10 s)',
        'Use e.g. Duration.minutes(5)',
      );
    }
    startingDeadlineSeconds = seconds;
  }
  let data: string | undefined;
  if (p.data !== undefined) {
    try {
      data = JSON.stringify(p.data);
    } catch (err) {
      throw new TriggerProblem(
        `data cannot be JSON-encoded: ${(err as Error).message}`,
        'Pass plain JSON data (no cycles, no BigInt)',
      );
    }
    if (typeof data !== 'string')
      throw new TriggerProblem('data must be a JSON value', 'Pass a string, a number, an object or an array');
    if (Buffer.byteLength(data) > MAX_DATA_BYTES) {
      throw new TriggerProblem(
        `data is ${Buffer.byteLength(data)} bytes, over the ${MAX_DATA_BYTES} allowed`,
        'Keep tick data small; put large inputs in a ConfigMap or object store and pass a reference',
      );
    }
  }
  return {
    schedule: p.schedule.trim(),
    ...(p.timeZone !== undefined ? { timeZone: p.timeZone } : {}),
    name,
    concurrencyPolicy,
    ...(startingDeadlineSeconds !== undefined ? { startingDeadlineSeconds } : {}),
    successfulJobsHistoryLimit:
      p.successfulJobsHistoryLimit === undefined
        ? CronTriggerDefaults.successfulJobsHistoryLimit
        : integerOption('successfulJobsHistoryLimit', p.successfulJobsHistoryLimit, 0, 100),
    failedJobsHistoryLimit:
      p.failedJobsHistoryLimit === undefined
        ? CronTriggerDefaults.failedJobsHistoryLimit
        : integerOption('failedJobsHistoryLimit', p.failedJobsHistoryLimit, 0, 100),
    ...(data !== undefined ? { data } : {}),
  };
}
