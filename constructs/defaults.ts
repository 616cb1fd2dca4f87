import { Duration, Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-27';
import { ROUTER_BODY_TIMEOUT_MS, ROUTER_HEADERS_TIMEOUT_MS } from '../src/contract';

/** Defaults and limits of the public props, in one place (documented in docs/constructs.md). */
export const Defaults = {
  namespace: 'kubefaas',
  /** Official node image, pinned: runtime and router run on it. */
  nodeImage: 'node:22.20.0-alpine',
  timeout: Duration.seconds(30),
  memory: Size.mebibytes(128),
  cpu: Cpu.millis(100),
  maxBodySize: Size.mebibytes(6),
  /** Writable /tmp of a function (AWS Lambda's default): an emptyDir with this sizeLimit. */
  tmpSize: Size.mebibytes(512),
  /** Writable /tmp of the platform's own pods (router, scaler): they write nothing there but crash reports. */
  componentTmpBytes: 64 * 1024 * 1024,
  /** 0 = unlimited. */
  maxConcurrency: 0,
  minReplicas: 1,
  targetCpuUtilization: 80,
  routerMinReplicas: 2,
  routerCpu: Cpu.millis(100),
  routerMemory: Size.mebibytes(128),
  /** The router's own defaults (src/contract/http.ts): the env is set only when a prop differs. */
  routerHeadersTimeout: Duration.millis(ROUTER_HEADERS_TIMEOUT_MS),
  routerBodyTimeout: Duration.millis(ROUTER_BODY_TIMEOUT_MS),
} as const;

export const Limits = {
  minTimeout: Duration.seconds(1),
  maxTimeout: Duration.minutes(15),
  /** Node needs some headroom above its own ~40 MiB. */
  minNodeMemoryBytes: 64 * 1024 * 1024,
  minContainerMemoryBytes: 16 * 1024 * 1024,
  maxMemoryBytes: 64 * 1024 * 1024 * 1024,
  minCpuMillis: 10,
  maxCpuMillis: 64_000,
  maxReplicas: 1000,
  maxConcurrency: 10_000,
  minBodyBytes: 1,
  maxBodyBytes: 1024 * 1024 * 1024,
  minTmpBytes: 1024 * 1024,
  maxTmpBytes: 64 * 1024 * 1024 * 1024,
  /** The router waits this much longer than the function's timeout, so the runtime's own 504 wins. */
  routerTimeoutMarginMs: 1000,
  /** Client timeouts of the router: below a second, real clients on slow links fail. */
  minClientTimeout: Duration.seconds(1),
  /** A head is a few KiB: minutes is already generous. */
  maxHeadersTimeout: Duration.minutes(5),
  /** Large uploads on slow links. */
  maxBodyTimeout: Duration.hours(1),
} as const;
