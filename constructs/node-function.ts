import { Size } from 'cdk8s';
import { Construct } from 'constructs';
import { createHash } from 'node:crypto';
import { Annotations, CONTAINER_PORT, Endpoints, Env, Paths } from '../src/contract';
import { Code } from './code';
import { Limits } from './defaults';
import { ValidationError } from './errors';
import { FunctionBase, FunctionOptions } from './function-base';
import { CodeConfigMap } from './code-config-map';
import { resolveRequestLimits } from './request-limits';
import { httpProbe } from './workload';

export interface NodeFunctionProps extends FunctionOptions {
  /** The handler module: `Code.fromAsset('src/hello.ts')` or `Code.fromInline(...)`. */
  readonly code: Code;
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
}

/**
 * A function written for Node: its bundle travels in a ConfigMap and runs in-process in the shared
 * kubefaas runtime on the platform's official node image (no image to build or push).
 */
export class NodeFunction extends FunctionBase {
  public readonly maxConcurrency: number;
  public readonly maxBodyBytes: number;
  /** sha256 (short) of runtime + function code, on the pod template: new code rolls the Deployment. */
  public readonly codeHash: string;

  /** NodeFunctions run the kubefaas runtime, which consumes queue triggers, async calls and cron ticks. */
  public readonly runsKubefaasRuntime = true;
  /** The Node runtime drains in-process on SIGTERM (KUBEFAAS_DRAIN_DELAY_MS). */
  public readonly drainsInProcess = true;
  /** The kubefaas runtime serves `/metrics`. */
  public readonly servesMetrics = true;

  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    super(scope, id, props, Limits.minNodeMemoryBytes);
    props = props ?? ({} as NodeFunctionProps);
    ({ maxConcurrency: this.maxConcurrency, maxBodyBytes: this.maxBodyBytes } = resolveRequestLimits(
      this,
      props,
      this.platform.functionDefaults,
    ));
    if (!(props.code instanceof Code)) {
      throw new ValidationError(
        this,
        'NodeFunction needs `code`',
        'Pass Code.fromAsset("path/to/handler.ts") or Code.fromInline(source)',
      );
    }
    this.bindTriggers();
    const code = props.code.bind(this);
    const runtime = this.platform.useNodeRuntime();
    this.codeHash = createHash('sha256').update(runtime.sha256).update(code.sha256).digest('hex').slice(0, 16);

    const codeConfigMap = new CodeConfigMap(this, 'Code', {
      baseName: `${this.functionName}-code`,
      namespace: this.platform.namespace,
      codeOf: this.functionName,
      labels: this.objectLabels,
      data: { [Paths.functionFile]: code.source },
      sha256: code.sha256,
    }).configMapName;

    this.createWorkload({
      image: this.platform.nodeImage,
      command: ['node', `${Paths.runtimeDir}/${Paths.runtimeFile}`],
      systemEnv: [
        { name: Env.PORT, value: String(CONTAINER_PORT) },
        { name: Env.FUNCTION_NAME, value: this.functionName },
        { name: Env.HANDLER_PATH, value: `${Paths.functionDir}/${Paths.functionFile}` },
        { name: Env.TIMEOUT_MS, value: String(this.timeoutMillis) },
        { name: Env.MAX_CONCURRENCY, value: String(this.maxConcurrency) },
        { name: Env.MAX_BODY_BYTES, value: String(this.maxBodyBytes) },
      ],
      maxConcurrency: this.maxConcurrency,
      readinessProbe: httpProbe(Endpoints.ready, 5, 2),
      livenessProbe: httpProbe(Endpoints.health, 10, 3),
      configMapVolumes: [
        { volume: 'runtime', configMap: runtime.configMap, mountPath: Paths.runtimeDir },
        { volume: 'function', configMap: codeConfigMap, mountPath: Paths.functionDir },
      ],
      podAnnotations: { [Annotations.codeHash]: this.codeHash },
    });
  }
}
