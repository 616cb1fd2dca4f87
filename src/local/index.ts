/**
 * The local runner: runs a synthesized kubefaas platform as local processes (ARCHITECTURE §6).
 * `kubefaas dev` is a thin CLI over `startLocalPlatform`.
 */
import { LocalPlatform, type LocalPlatformOptions } from './platform';

export { LocalPlatform, DEFAULT_ROUTER_PORT } from './platform';
export type { LocalFunction, LocalPlatformOptions, ReloadResult } from './platform';
export { consoleSink, formatLogLine, RUNNER_SOURCE } from './log';
export type { LogEntry, LogSink, LogLevel, LogStream } from './log';
export { loadManifestDir, parseManifests, Manifests } from './manifests';
export { planLocalRun, parseEnvOverride, LOCAL_COMMAND_ANNOTATION } from './plan';
export type { CronJobPlan, EnvOverride, LocalPlan, ProcessPlan, PlanOptions } from './plan';
export { LocalCron } from './cron';
export type { JobRun, LocalCronOptions } from './cron';
export { controlStateFile, readControlState } from './control';
export type { ControlState } from './control';
export { NATS_INSTALL_HINT, isNatsImage } from './nats';
export { LocalConfigError } from './env';
export { readGraphFile, resolveAppSource, synthesize, SynthError } from './synth';
export type { AppSource } from './synth';
export { formatRoutes } from './routes';
export type { ReplicaInfo } from './replicas';
export { DEFAULT_LOCAL_MAX_REPLICAS } from './scaling';

/** Synthesizes the app (or loads the manifests), starts every process, waits for readiness. */
export function startLocalPlatform(opts: LocalPlatformOptions = {}): Promise<LocalPlatform> {
  return LocalPlatform.start(opts);
}
