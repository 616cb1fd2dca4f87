/**
 * Entry point of the function runtime (bundled to lib/pod/runtime.js, shipped in the
 * `kubefaas-runtime` ConfigMap, run as `node /var/kubefaas/runtime/runtime.js`).
 * Reads its settings from the environment (src/contract.ts `Env`), loads the handler in-process,
 * serves HTTP on $PORT and shuts down gracefully on SIGTERM.
 */
import { writeSync } from 'node:fs';
import { readRuntimeConfig, type RuntimeConfig } from './config';
import { loadHandler } from './load-handler';
import { createRuntime, type Runtime } from './server';
import type { Handler } from './types';

function fatal(msg: string, err: unknown, withStack = false): never {
  const error =
    err instanceof Error ? { name: err.name, message: err.message, stack: withStack ? err.stack : undefined } : { message: String(err) };
  // Synchronous write: the process exits right after, and this line is the only explanation.
  writeSync(2, JSON.stringify({ level: 'fatal', time: new Date().toISOString(), msg, error }) + '\n');
  process.exit(1);
}

function start(): void {
  let config: RuntimeConfig;
  let handler: Handler;
  try {
    config = readRuntimeConfig(process.env);
    handler = loadHandler(config.handlerPath);
  } catch (err) {
    fatal(`cannot start the function runtime: ${err instanceof Error ? err.message : String(err)}`, err);
  }

  const runtime = createRuntime({
    handler,
    functionName: config.functionName,
    timeoutMs: config.timeoutMs,
    maxConcurrency: config.maxConcurrency,
    maxBodyBytes: config.maxBodyBytes,
    shutdownGraceMs: config.shutdownGraceMs,
  });

  runtime.listen(config.port).then(
    (address) =>
      runtime.log.info('listening', {
        port: address.port,
        timeoutMs: config.timeoutMs,
        maxConcurrency: config.maxConcurrency,
        maxBodyBytes: config.maxBodyBytes,
      }),
    (err) => fatal(`cannot listen on port ${config.port}`, err),
  );

  installProcessHandlers(runtime);
}

function installProcessHandlers(runtime: Runtime): void {
  const stop = (signal: NodeJS.Signals): void => {
    runtime.log.info('shutting down', { signal, inFlight: runtime.inFlight });
    runtime.shutdown().then((finished) => {
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
