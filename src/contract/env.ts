/** Environment variable names: set by the constructs, read by the runtime, router and cron sender. */

/** Environment variables read by the runtime and the router. */
export const Env = {
  /** Port to listen on (runtime, router, and any ContainerFunction image). */
  PORT: 'PORT',
  /**
   * Address to listen on (runtime, router; a ContainerFunction's program should honour it too).
   * Unset in pods = every interface; the local runner sets 127.0.0.1 (the router: `kubefaas dev --host`).
   */
  BIND_HOST: 'KUBEFAAS_BIND_HOST',
  /**
   * Address the router's admin listener (ROUTER_ADMIN_PORT) binds; unset = BIND_HOST. The local
   * runner sets 127.0.0.1, so `kubefaas dev --host` shares the public listener only, never the
   * admin one (every function by name, without router policies).
   */
  ADMIN_BIND_HOST: 'KUBEFAAS_ADMIN_BIND_HOST',
  /** Function name, used in logs, metrics and events. */
  FUNCTION_NAME: 'KUBEFAAS_FUNCTION_NAME',
  /** Absolute path of the bundled handler module (CommonJS, default export or `handler`). */
  HANDLER_PATH: 'KUBEFAAS_HANDLER',
  /** Handler timeout in milliseconds; the runtime answers 504 and aborts `context.signal` after it. */
  TIMEOUT_MS: 'KUBEFAAS_TIMEOUT_MS',
  /** Maximum concurrent requests per replica; the runtime answers 429 above it. 0 = unlimited. */
  MAX_CONCURRENCY: 'KUBEFAAS_MAX_CONCURRENCY',
  /** Maximum request body in bytes; the runtime answers 413 above it. */
  MAX_BODY_BYTES: 'KUBEFAAS_MAX_BODY_BYTES',
  /**
   * 'true': a failed async call's state and callback carry the handler's exception message instead of
   * a generic error and the request id. Unsafe: messages may hold secrets. Unset = generic errors.
   */
  EXPOSE_ERROR_MESSAGES: 'KUBEFAAS_EXPOSE_ERROR_MESSAGES',
  /**
   * Milliseconds the process waits for in-flight work once its listener closed (after the drain
   * delay) before exiting. Synthesized from the timeout (constructs/shutdown.ts).
   */
  SHUTDOWN_GRACE_MS: 'KUBEFAAS_SHUTDOWN_GRACE_MS',
  /**
   * Milliseconds between SIGTERM and closing the listener: readiness is 503 and responses carry
   * `Connection: close`, but new requests are still served while endpoints stop pointing here.
   * Unset = 0 (a bare process, the local runner).
   */
  DRAIN_DELAY_MS: 'KUBEFAAS_DRAIN_DELAY_MS',
  /**
   * JSON `InvokeTargets` (refs.ts): the functions this one declared in `invokes`, name → base URL of
   * their Service. `context.invoke` / `invokeAsync` accept only these. Unset = none.
   */
  INVOKE_TARGETS: 'KUBEFAAS_INVOKE_TARGETS',
  /** Absolute path of the route table JSON the router serves (watched for changes). */
  ROUTES_PATH: 'KUBEFAAS_ROUTES',
  /** Namespace the component runs in (informational; from the downward API in clusters). */
  NAMESPACE: 'KUBEFAAS_NAMESPACE',
  /**
   * Share of successful requests the router writes an access-log line for, 0..1 (default 1 = all).
   * Responses with status >= 500 are always logged.
   */
  ACCESS_LOG_SAMPLE: 'KUBEFAAS_ACCESS_LOG_SAMPLE',
  /** Router: 'off' serves every request with node:http (the raw-socket fast path is on by default). */
  ROUTER_FAST_PATH: 'KUBEFAAS_ROUTER_FAST_PATH',
  /**
   * Router: milliseconds a client has, from a request's first byte (from connecting, for the first
   * request), to send its complete head; then 408 and close. Unset = ROUTER_HEADERS_TIMEOUT_MS.
   */
  ROUTER_HEADERS_TIMEOUT_MS: 'KUBEFAAS_ROUTER_HEADERS_TIMEOUT_MS',
  /**
   * Router: milliseconds a client has, once a request's head is in, to send its whole body; then 408
   * (if nothing was answered yet) and close. Unset = ROUTER_BODY_TIMEOUT_MS.
   */
  ROUTER_BODY_TIMEOUT_MS: 'KUBEFAAS_ROUTER_BODY_TIMEOUT_MS',
  /** Router: largest request head in bytes (else 431), on both paths. Unset = ROUTER_MAX_HEADER_BYTES. */
  ROUTER_MAX_HEADER_BYTES: 'KUBEFAAS_ROUTER_MAX_HEADER_BYTES',
  /**
   * Router: a keep-alive connection to a function is closed after this many ms (±10 %) or
   * ROUTER_UPSTREAM_MAX_REQUESTS requests, so new replicas behind the Service get their share.
   */
  ROUTER_UPSTREAM_MAX_AGE_MS: 'KUBEFAAS_ROUTER_UPSTREAM_MAX_AGE_MS',
  ROUTER_UPSTREAM_MAX_REQUESTS: 'KUBEFAAS_ROUTER_UPSTREAM_MAX_REQUESTS',
  /** Router: directory the auth policies' Secrets are mounted under (default ROUTER_SECRETS_DIR). */
  ROUTER_SECRETS_DIR: 'KUBEFAAS_ROUTER_SECRETS_DIR',
} as const;

/** Environment variables of the queue side of the runtime and router. */
export const QueueEnv = {
  /** NATS URL(s), comma separated, e.g. `nats://kubefaas-nats.faas.svc.cluster.local:4222`. */
  NATS_URL: 'KUBEFAAS_NATS_URL',
  /** JSON `QueueConfig`: stream names, limits and retention, shared by every component. */
  QUEUE_CONFIG: 'KUBEFAAS_QUEUE_CONFIG',
  /** JSON `QueueSubscription[]`: what this function's runtime consumes (topics, async, cron). */
  SUBSCRIPTIONS: 'KUBEFAAS_SUBSCRIPTIONS',
  // --- queue isolation: per-component NATS credentials, optional TLS ---
  /** NATS user of this component (`router`, `cron`, `fn-<function>`); unset = connect without auth. */
  NATS_USER: 'KUBEFAAS_NATS_USER',
  /** Its password, from a Secret key (secretKeyRef), never a literal in the manifests. */
  NATS_PASSWORD: 'KUBEFAAS_NATS_PASSWORD',
  /** Directory holding `ca.crt`, the CA the NATS servers' certificate is checked against; unset = plain TCP. */
  NATS_TLS_DIR: 'KUBEFAAS_NATS_TLS_DIR',
  /** JSON `CallbackUrlPolicy`: where this function's async-call callbacks may go; unset = nowhere. */
  CALLBACK_POLICY: 'KUBEFAAS_CALLBACK_POLICY',
  /**
   * JSON array of the topic names the function declared in `publishes`: `context.publish` to any
   * other topic is refused with an error naming the declaration to add (the queue's permissions
   * refuse it in a cluster too). Unset = no check (a runtime started by hand).
   */
  PUBLISHES: 'KUBEFAAS_PUBLISHES',
} as const;

/**
 * Environment of the cron sender (lib/pod/cron.js) that a CronTrigger's CronJob runs once per tick.
 * With a queue it also gets QueueEnv.NATS_URL and QueueEnv.QUEUE_CONFIG and publishes the tick to
 * `cronSubject(config, FUNCTION, TRIGGER)`; without one it gets ROUTER_URL and POSTs the tick to
 * `<ROUTER_URL>/function/<FUNCTION>` — the router's admin port, whose by-name path serves every
 * function whatever its public `invocation`.
 */
export const CronEnv = {
  /** Name of the function the tick is for. */
  FUNCTION: 'KUBEFAAS_CRON_FUNCTION',
  /** Name of the cron trigger (unique per function); the event `type`/`source` name it. */
  TRIGGER: 'KUBEFAAS_CRON_TRIGGER',
  /** The schedule, informational (the CronJob controller does the scheduling). */
  SCHEDULE: 'KUBEFAAS_CRON_SCHEDULE',
  /** IANA time zone of the schedule, when one was given. */
  TIME_ZONE: 'KUBEFAAS_CRON_TIME_ZONE',
  /** Body of the tick event (JSON text), when the trigger has `data`. */
  DATA: 'KUBEFAAS_CRON_DATA',
  /** Router admin base URL (platform without a queue), e.g. `http://kubefaas-router-admin.faas.svc.cluster.local:8081`. */
  ROUTER_URL: 'KUBEFAAS_ROUTER_URL',
  /** Milliseconds the sender waits for the function (router delivery) or for the publish ack. */
  TIMEOUT_MS: 'KUBEFAAS_CRON_TIMEOUT_MS',
  /**
   * Optional: the Job's name (downward API label `batch.kubernetes.io/job-name`). Unique per scheduled
   * run, so it becomes the tick's id and Nats-Msg-Id: a retried Job pod cannot deliver the tick twice.
   */
  JOB_NAME: 'KUBEFAAS_CRON_JOB_NAME',
} as const;

// Python runtime (PythonFunction): src/runtime-python/ reads these, constructs/ sets them. The Python
// side cannot import this module; src/runtime-python/kubefaas_main.py repeats the names and
// test/runtime-python/contract.test.ts checks that both sides agree.

/** Environment variables only the Python runtime reads (it also reads the `Env` ones it shares with Node). */
export const PythonEnv = {
  /** Directory holding the function's modules (the code ConfigMap's mount); put on `sys.path`. */
  CODE_DIR: 'KUBEFAAS_CODE_DIR',
  /** Threads of the pool that runs sync handlers (async handlers run on the event loop). */
  THREADS: 'KUBEFAAS_PYTHON_THREADS',
} as const;
