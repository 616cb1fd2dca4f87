import { Size } from 'cdk8s';
import { Construct } from 'constructs';
import { createHash } from 'node:crypto';
import { Annotations, CONTAINER_PORT, Endpoints, Env, Paths, PythonEnv, PythonPaths } from '../src/contract';
import { Code } from './code';
import { ValidationError } from './errors';
import { FunctionBase, FunctionOptions } from './function-base';
import { CodeConfigMap } from './code-config-map';
import { packagePythonCode, parseHandler } from './python-code';
import { installAtStartPod, PythonDependencies } from './python-dependencies';
import { PythonRuntime, usePythonRuntime } from './python-runtime';
import { validateInteger } from './validation';
import { resolveRequestLimits } from './request-limits';
import { httpProbe } from './workload';

/** CPython with the runtime loaded idles at ~15 MiB; leave room for the handler's own imports. */
const MIN_PYTHON_MEMORY_BYTES = 32 * 1024 * 1024;
const MAX_THREADS = 256;

export interface PythonFunctionProps extends FunctionOptions {
  /**
   * The handler's code: `Code.fromAsset('functions/resize')` (a directory; its top-level files are
   * shipped), `Code.fromAsset('functions/resize/handler.py')` (one file) or `Code.fromInline(source)`.
   */
  readonly code: Code;
  /** `module.function`: `'handler.main'` calls `main(event, context)` of handler.py. Checked at synth. */
  readonly handler: string;
  /**
   * The Python image and version the function runs on.
   * @default PythonRuntime.PYTHON_3_13
   */
  readonly runtime?: PythonRuntime;
  /**
   * Concurrent invocations per replica before the runtime answers 429 (1..10000; 0 = unlimited).
   * @default - functionDefaults.maxConcurrency, else 0 (unlimited)
   */
  readonly maxConcurrency?: number;
  /**
   * Largest request body the runtime accepts (413 above it).
   * @default - functionDefaults.maxBodySize, else Size.mebibytes(6)
   */
  readonly maxBodySize?: Size;
  /**
   * Threads that run sync (`def`) handlers, so they never block the event loop; calls beyond them
   * wait for a thread (their deadline runs meanwhile). Async (`async def`) handlers need none.
   * @default 8
   */
  readonly threads?: number;
  /**
   * How the packages of `requirements.txt` reach the pods: `PythonDependencies.bundled()` resolves
   * them into wheels at synth and ships them in the code ConfigMap (1 MiB in all);
   * `PythonDependencies.installAtStart()` runs `pip install` in an init container at every pod start
   * (no size limit; costs cold-start time and egress to the index).
   * @default PythonDependencies.bundled()
   */
  readonly dependencies?: PythonDependencies;
}

/**
 * A function written in Python: its files travel in a ConfigMap and run in the kubefaas Python
 * runtime (standard library only) on the official `python` image — no image to build or push.
 * It speaks the same contract as a NodeFunction (health, deadlines, logs, metrics, drain, queue
 * triggers, async calls, cron ticks through the queue and `context.publish`; docs/python.md).
 */
export class PythonFunction extends FunctionBase {
  public readonly runtime: PythonRuntime;
  /** `module.function`. */
  public readonly handler: string;
  public readonly maxConcurrency: number;
  public readonly maxBodyBytes: number;
  public readonly threads: number;
  /** How requirements.txt is installed. */
  public readonly dependencies: PythonDependencies;
  /** sha256 (short) of runtime + function code, on the pod template: new code rolls the Deployment. */
  public readonly codeHash: string;

  /** The Python runtime consumes queue triggers, async calls and cron ticks (src/runtime-python/kubefaas_queue.py). */
  public readonly runsKubefaasRuntime = true;
  /** The Python runtime does not read KUBEFAAS_DRAIN_DELAY_MS: the drain is a preStop sleep. */
  public readonly drainsInProcess = false;
  /** The Python runtime serves `/metrics` with the Node runtime's names and labels. */
  public readonly servesMetrics = true;

  constructor(scope: Construct, id: string, props: PythonFunctionProps) {
    super(scope, id, props, MIN_PYTHON_MEMORY_BYTES);
    props = props ?? ({} as PythonFunctionProps);
    ({ maxConcurrency: this.maxConcurrency, maxBodyBytes: this.maxBodyBytes } = resolveRequestLimits(
      this,
      props,
      this.platform.functionDefaults,
    ));
    this.threads = validateInteger(this, 'threads', props.threads ?? 8, 1, MAX_THREADS);
    this.runtime = props.runtime ?? PythonRuntime.PYTHON_3_13;
    if (!(this.runtime instanceof PythonRuntime)) {
      throw new ValidationError(
        this,
        '`runtime` is not a PythonRuntime',
        'Pass PythonRuntime.PYTHON_3_13 or PythonRuntime.fromImage(image, version)',
      );
    }
    this.runtime.validate(this);
    this.bindTriggers();
    const handler = parseHandler(this, props.handler);
    this.handler = props.handler;
    this.dependencies = props.dependencies ?? PythonDependencies.bundled();
    if (!(this.dependencies instanceof PythonDependencies)) {
      throw new ValidationError(
        this,
        '`dependencies` is not a PythonDependencies',
        'Pass PythonDependencies.bundled() or PythonDependencies.installAtStart({ ... })',
      );
    }
    const pkg = packagePythonCode(this, props.code, handler, this.runtime.version, this.dependencies.bundled);
    const runtime = usePythonRuntime(this.platform);
    this.codeHash = createHash('sha256').update(runtime.sha256).update(pkg.sha256).digest('hex').slice(0, 16);

    // Content-hashed and immutable like a NodeFunction's bundle: a rollback restores the code too.
    const codeConfigMap = new CodeConfigMap(this, 'Code', {
      baseName: `${this.functionName}-code`,
      namespace: this.platform.namespace,
      codeOf: this.functionName,
      labels: this.objectLabels,
      data: pkg.data,
      binaryData: pkg.binaryData,
      sha256: pkg.sha256,
    }).configMapName;
    const install = this.dependencies._install
      ? installAtStartPod(this, this.dependencies._install, pkg.files, codeConfigMap, this.runtime.image)
      : undefined;
    if (install) this.allowEgressTo(...install.egress);

    this.createWorkload({
      image: this.runtime.image,
      command: ['python3', `${PythonPaths.runtimeDir}/${PythonPaths.runtimeMain}`],
      systemEnv: [
        { name: Env.PORT, value: String(CONTAINER_PORT) },
        { name: Env.FUNCTION_NAME, value: this.functionName },
        { name: Env.HANDLER_PATH, value: this.handler },
        { name: PythonEnv.CODE_DIR, value: Paths.functionDir },
        { name: Env.TIMEOUT_MS, value: String(this.timeoutMillis) },
        { name: Env.MAX_CONCURRENCY, value: String(this.maxConcurrency) },
        { name: Env.MAX_BODY_BYTES, value: String(this.maxBodyBytes) },
        { name: PythonEnv.THREADS, value: String(this.threads) },
        // Read-only root and ConfigMap mounts: no .pyc files to write; HOME for libraries that
        // want one (the uid has no passwd entry, so it would be /).
        { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
        { name: 'PYTHONUNBUFFERED', value: '1' },
        { name: 'HOME', value: Paths.tmpDir },
        ...(install?.env ?? []),
      ],
      maxConcurrency: this.maxConcurrency,
      readinessProbe: httpProbe(Endpoints.ready, 5, 2),
      livenessProbe: httpProbe(Endpoints.health, 10, 3),
      configMapVolumes: [
        { volume: 'runtime', configMap: runtime.configMap, mountPath: PythonPaths.runtimeDir },
        { volume: 'function', configMap: codeConfigMap, mountPath: Paths.functionDir },
      ],
      podAnnotations: { [Annotations.codeHash]: this.codeHash },
      ...(install
        ? {
            initContainers: [install.initContainer],
            initVolumes: [install.requirementsVolume],
            extraVolumes: [install.depsVolume],
          }
        : {}),
    });
  }
}
