import { Construct } from 'constructs';
import { Annotations, CONTAINER_PORT, Env } from '../src/contract';
import { Limits } from './defaults';
import { ValidationError } from './errors';
import { FunctionBase, FunctionOptions } from './function-base';
import { validateImage } from './image';
import { httpProbe, tcpProbe } from './workload';
import { SCRAPE_ANNOTATION } from './metrics/generators/scrape';

/** How the local runner (`kubefaas dev`) runs the function instead of its image. */
export interface LocalRunOptions {
  /** Command (argv) that serves the function on `$PORT`, run from the project directory. */
  readonly command: readonly string[];
}

/** An HTTP health endpoint of the image. */
export interface HealthCheckOptions {
  /** Path answering 2xx when the function is healthy, e.g. `/healthz`. */
  readonly path: string;
}

export interface ContainerFunctionProps extends FunctionOptions {
  /** Image serving HTTP on `$PORT` (8080), pinned to a tag other than `latest` or to a digest. */
  readonly image: string;
  /**
   * Overrides the image's entrypoint.
   * @default - the image's ENTRYPOINT
   */
  readonly command?: readonly string[];
  /**
   * Overrides the image's arguments.
   * @default - the image's CMD
   */
  readonly args?: readonly string[];
  /**
   * HTTP endpoint used by the readiness and liveness probes.
   * @default - TCP probes on port 8080
   */
  readonly healthCheck?: HealthCheckOptions;
  /**
   * How `kubefaas dev` runs this function on a laptop (no container runtime there).
   * @default - the local runner skips the function
   */
  readonly local?: LocalRunOptions;
  /**
   * The image serves Prometheus metrics at `/metrics` on port 8080. When false and the platform
   * has metrics, its pods are annotated `prometheus.io/scrape: "false"`, so monitoring neither
   * scrapes them nor expects them to answer (no "no ready replica" alert from a missing endpoint).
   * @default false
   */
  readonly servesMetrics?: boolean;
}

function checkArgv(scope: Construct, what: string, argv: unknown, required: boolean): string[] | undefined {
  if (argv === undefined && !required) return undefined;
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string')) {
    throw new ValidationError(
      scope,
      `${what} must be a non-empty array of strings`,
      'Give the argv, e.g. ["node", "server.js"]',
    );
  }
  return [...argv];
}

/** A function packaged as an image of your own that serves HTTP on `$PORT`. */
export class ContainerFunction extends FunctionBase {
  public readonly image: string;
  /** The user's image knows nothing of the queue: queue triggers need a NodeFunction or PythonFunction. */
  public readonly runsKubefaasRuntime = false;
  /** The user's image gets the drain as a preStop sleep. */
  public readonly drainsInProcess = false;
  public readonly servesMetrics: boolean;

  constructor(scope: Construct, id: string, props: ContainerFunctionProps) {
    super(scope, id, props, Limits.minContainerMemoryBytes);
    props = props ?? ({} as ContainerFunctionProps);
    this.servesMetrics = props.servesMetrics ?? false;
    this.image = validateImage(this, 'image', props.image);
    const command = checkArgv(this, 'command', props.command, false);
    const args =
      props.args === undefined ? undefined : props.args.length === 0 ? [] : checkArgv(this, 'args', props.args, false);
    const health = props.healthCheck === undefined ? undefined : (props.healthCheck?.path as unknown);
    if (health !== undefined && (typeof health !== 'string' || !health.startsWith('/') || /[\s#]/.test(health))) {
      throw new ValidationError(
        this,
        `healthCheck '${String(health)}' is not an HTTP path`,
        'Use a path such as /healthz',
      );
    }
    if (this.scaling.minReplicas === 0 && health === undefined)
      throw new ValidationError(
        this,
        'scaling.minReplicas is 0 but the function has no healthCheck: a TCP probe marks a replica ready as soon as its port accepts, so the router would send the requests it held to a server that may not serve yet',
        'Set healthCheck: { path } to an endpoint that answers 2xx once the image serves, or keep minReplicas at 1 or more',
      );
    const localCommand =
      props.local === undefined ? undefined : checkArgv(this, 'local.command', props.local?.command, true);
    this.bindTriggers();

    this.createWorkload({
      image: this.image,
      command,
      args,
      systemEnv: [
        { name: Env.PORT, value: String(CONTAINER_PORT) },
        { name: Env.FUNCTION_NAME, value: this.functionName },
      ],
      readinessProbe: health ? httpProbe(health, 5, 2) : tcpProbe(5, 2),
      livenessProbe: health ? httpProbe(health, 10, 3) : tcpProbe(10, 3),
      configMapVolumes: [],
      // Local-only: on the Deployment, so production pods do not carry it and changing it rolls nothing.
      ...(localCommand ? { workloadAnnotations: { [Annotations.localCommand]: JSON.stringify(localCommand) } } : {}),
      podAnnotations: {
        // Only needed (and only added) when the platform runs monitoring.
        ...(this.servesMetrics || this.platform.metrics.mode === 'none' ? {} : { [SCRAPE_ANNOTATION]: 'false' }),
      },
    });
  }
}
