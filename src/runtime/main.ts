/**
 * Entry point of the function runtime (bundled to lib/pod/runtime.js, shipped in the
 * `kubefaas-runtime` ConfigMap, run as `node /var/kubefaas/runtime/runtime.js`).
 * Reads its settings from the environment (src/contract `Env`), loads the handler in-process,
 * serves HTTP on $PORT and shuts down gracefully on SIGTERM.
 */
import { writeSync } from 'node:fs';
import { readRuntimeConfig, type RuntimeConfig } from './config';
import { readQueueSettings, type QueueSettings } from '../queue/config';
import { HttpFunctionCalls } from './invoke';
import { loadHandler } from './load-handler';
import { RuntimeQueue } from './queue-startup';
import { createRuntime, type Runtime } from './server';
import type { Handler } from '../contract';

function fatal(msg: string, err: unknown, withStack = false): never {
  const error =
    err instanceof Error
      ? { name: err.name, message: err.message, stack: withStack ? err.stack : undefined }
      : { message: String(err) };
  // Synchronous write: the process exits right after, and this line is the only explanation.
  writeSync(2, JSON.stringify({ level: 'fatal', time: new Date().toISOString(), msg, error }) + '\n');
  process.exit(1);
}

function start(): void {
  let config: RuntimeConfig;
  let handler: Handler;
  let queueSettings: QueueSettings | undefined;
  try {
    config = readRuntimeConfig(process.env);
    handler = loadHandler(config.handlerPath);
    queueSettings = readQueueSettings(process.env);
  } catch (err) {
    fatal(`cannot start the function runtime: ${err instanceof Error ? err.message : String(err)}`, err);
  }

  // With a queue the pod also consumes its subscriptions and gets a working context.publish.
  const queue = queueSettings
    ? new RuntimeQueue(queueSettings, config.functionName, config.timeoutMs, config.exposeErrorMessages)
    : undefined;
  // context.invoke goes straight to the declared functions' Services; invokeAsync through the queue.
  const calls = new HttpFunctionCalls(config.invokeTargets, queue?.enqueue);
  const runtime = createRuntime({
    handler,
    publish: queue?.publish,
    calls,
    // Readiness gates HTTP endpoints only: a function whose one queue subscription is its implicit
    // async-call consumer stays Ready through a NATS outage; one with queue triggers waits for them.
    isReady: queue && queueSettings!.subscriptions.some((s) => s.kind !== 'async') ? () => queue.ready() : undefined,
    functionName: config.functionName,
    timeoutMs: config.timeoutMs,
    maxConcurrency: config.maxConcurrency,
    maxBodyBytes: config.maxBodyBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    drainDelayMs: config.drainDelayMs,
  });

  runtime.listen(config.port, config.host).then(
    (address) =>
      runtime.log.info('listening', {
        port: address.port,
        host: address.address,
        timeoutMs: config.timeoutMs,
        maxConcurrency: config.maxConcurrency,
        maxBodyBytes: config.maxBodyBytes,
      }),
    (err) => fatal(`cannot listen on ${config.host ?? '*'}:${config.port}`, err),
  );

  queue?.start(runtime, handler, calls).catch((err) => fatal('cannot start the queue consumers', err));
  installProcessHandlers(runtime, queue, config);
}

function installProcessHandlers(runtime: Runtime, queue: RuntimeQueue | undefined, config: RuntimeConfig): void {
  const stop = (signal: NodeJS.Signals): void => {
    const { drainDelayMs, shutdownGraceMs: graceMs } = config;
    runtime.log.info('shutting down', { signal, inFlight: runtime.inFlight, drainDelayMs, graceMs });
    // Queue deliveries need no endpoint drain: consumers stop pulling now and running handlers get
    // the grace; HTTP keeps serving for the drain delay, then gets the same grace.
    const queueStopped = queue
      ? queue.stop(graceMs).catch((err) => runtime.log.error('queue shutdown failed', { error: err }))
      : undefined;
    Promise.all([runtime.shutdown(), queueStopped]).then(([finished]) => {
      runtime.log.info(finished ? 'shut down' : 'shut down with requests still in flight', { signal });
      runtime.flushLogs();
      process.exit(finished ? 0 : 1);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  // A handler's stray background promise must not take down requests in flight: log it and go on.
  process.on('unhandledRejection', (reason) => {
    runtime.log.error('unhandled promise rejection in function code', { error: reason });
  });
  process.on('uncaughtException', (err) => {
    runtime.flushLogs();
    fatal('uncaught exception in function code', err, true);
  });
  process.on('exit', () => runtime.flushLogs());
}

start();
