import { Env } from '../src/contract';

/**
 * How a kubefaas pod stops, computed in one place so the pod's `terminationGracePeriodSeconds` and
 * what the process does after SIGTERM can never disagree (issue 13: a hard-coded 25 s in-process
 * grace cut a 40 s call while the pod was allowed 905 s).
 *
 * After SIGTERM (runtime and router, src/runtime/server.ts and src/router/main.ts):
 * 1. drain delay: readiness answers 503, every response carries `Connection: close`, and new
 *    requests are still served, while the endpoints controller, kube-proxy and load balancers stop
 *    sending traffic here (they learn of the termination asynchronously, seconds later);
 * 2. the listener closes and idle keep-alive connections are closed;
 * 3. in-flight work gets up to the grace (the longest call it may be running: the timeout, plus a
 *    margin to write the 504 of a call that times out at the very end);
 * 4. the process exits; the kubelet's SIGKILL comes only after a further exit margin.
 *
 * The drain runs in-process rather than in a `preStop` hook for the pods that run kubefaas code:
 * it needs no `sleep` binary in the image and no `lifecycle.preStop.sleep` support (beta, on by
 * default since Kubernetes 1.30, GA in 1.34), and it also works where hooks are not supported (AKS
 * virtual nodes v1). ContainerFunction images are not ours: they get the native `preStop: sleep`
 * (see `preStopSleep`), so their process receives SIGTERM only after the drain delay.
 */
export const ShutdownDefaults = {
  /** Long enough for endpoint removal to reach kube-proxy, ingress controllers and cloud load balancers. */
  drainDelayMs: 10_000,
  /** Added to the longest call: the 504 of a call timing out at the end is still written. */
  graceMarginMs: 1_000,
  /** Between the process's own deadline and the kubelet's SIGKILL (log flush, exit). */
  exitMarginSeconds: 5,
} as const;

export interface ShutdownTiming {
  /** SIGTERM → listener closed (KUBEFAAS_DRAIN_DELAY_MS). */
  readonly drainDelayMs: number;
  /** Listener closed → exit at the latest (KUBEFAAS_SHUTDOWN_GRACE_MS). */
  readonly graceMs: number;
  /** drain + grace + exit margin, whole seconds. */
  readonly terminationGracePeriodSeconds: number;
}

/** Timing of a pod whose longest piece of in-flight work takes `longestCallMs` (a function's timeout). */
export function shutdownTiming(
  longestCallMs: number,
  drainDelayMs: number = ShutdownDefaults.drainDelayMs,
): ShutdownTiming {
  const graceMs = Math.ceil(longestCallMs) + ShutdownDefaults.graceMarginMs;
  return {
    drainDelayMs,
    graceMs,
    terminationGracePeriodSeconds: Math.ceil((drainDelayMs + graceMs) / 1000) + ShutdownDefaults.exitMarginSeconds,
  };
}

/** The env that tells a kubefaas process (runtime, router) its part of the timing. */
export function shutdownEnv(timing: ShutdownTiming): Array<{ name: string; value: string }> {
  return [
    { name: Env.DRAIN_DELAY_MS, value: String(timing.drainDelayMs) },
    { name: Env.SHUTDOWN_GRACE_MS, value: String(timing.graceMs) },
  ];
}

/** A container `lifecycle` that delays SIGTERM by the drain delay (images kubefaas does not control). */
export function preStopSleep(timing: ShutdownTiming): Record<string, unknown> {
  return { preStop: { sleep: { seconds: Math.ceil(timing.drainDelayMs / 1000) } } };
}
