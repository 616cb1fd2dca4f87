"""Entry point of the Python function runtime (shipped in the `kubefaas-python-runtime` ConfigMap,
run as `python3 /var/kubefaas/python-runtime/kubefaas_main.py`).

Reads its settings from the environment (the names are those of src/contract/ `Env`), imports the
handler `module.function` from the code directory, serves HTTP on $PORT and drains on SIGTERM.
Standard library only: nothing is installed in the pod.
"""

import asyncio
import importlib
import json
import os
import signal
import socket
import sys
import tempfile
import zipfile

from kubefaas_log import LogSink, iso_now
from kubefaas_queue_settings import read_queue_settings
from kubefaas_server import Runtime

# Defaults applied when the Deployment does not set the corresponding variable (as src/runtime/config.ts).
DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_MS = 30_000
DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024
DEFAULT_SHUTDOWN_GRACE_MS = 25_000


class ConfigError(Exception):
    pass


def fatal(msg, err=None):
    """The one line that explains why the process exits; written synchronously to stderr."""
    line = {"level": "fatal", "time": iso_now(), "msg": msg}
    if err is not None:
        line["error"] = {"name": type(err).__name__, "message": str(err)}
    os.write(2, (json.dumps(line) + "\n").encode())
    os._exit(1)


def read_int(env, name, fallback, minimum):
    raw = env.get(name)
    if raw is None or raw == "":
        return fallback
    try:
        value = int(raw, 10)
    except ValueError:
        value = None
    if value is None or value < minimum or not raw.strip().lstrip("-").isdigit():
        raise ConfigError(f"{name}={json.dumps(raw)} is not an integer >= {minimum}")
    return value


def read_config(env):
    handler = env.get("KUBEFAAS_HANDLER")
    if not handler:
        raise ConfigError("KUBEFAAS_HANDLER is not set: it must name the handler as module.function (e.g. handler.main)")
    return {
        "port": read_int(env, "PORT", DEFAULT_PORT, 0),
        "function_name": env.get("KUBEFAAS_FUNCTION_NAME") or "function",
        "handler": handler,
        "code_dir": env.get("KUBEFAAS_CODE_DIR") or os.getcwd(),
        "timeout_ms": read_int(env, "KUBEFAAS_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, 1),
        "max_concurrency": read_int(env, "KUBEFAAS_MAX_CONCURRENCY", 0, 0),
        "max_body_bytes": read_int(env, "KUBEFAAS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 0),
        "shutdown_grace_ms": read_int(env, "KUBEFAAS_SHUTDOWN_GRACE_MS", DEFAULT_SHUTDOWN_GRACE_MS, 0),
        "threads": read_int(env, "KUBEFAAS_PYTHON_THREADS", min(32, (os.cpu_count() or 1) + 4), 1),
        # Env.BIND_HOST: unset in pods (every interface); the local runner sets 127.0.0.1.
        "bind_host": env.get("KUBEFAAS_BIND_HOST") or None,
    }


# Prefix of the directory (in the temp dir: the pod's /tmp emptyDir) the dependency wheels are unpacked into.
DEPS_DIR = "kubefaas-deps"


def unpack_dependencies(code_dir):
    """Unpacks the wheels the constructs resolved from requirements.txt (`*.whl` files of the code
    directory) into the temp dir, once per start; returns that directory, or None without wheels.
    Unpacked rather than imported from the zip: extension modules cannot be loaded from a zip."""
    try:
        wheels = sorted(name for name in os.listdir(code_dir) if name.endswith(".whl"))
    except OSError as err:
        raise ConfigError(f"cannot read the code directory {code_dir}: {err}") from err
    if not wheels:
        return None
    # A fresh directory per process (several processes may share one temp dir on a laptop).
    target = tempfile.mkdtemp(prefix=DEPS_DIR + "-")
    for name in wheels:
        try:
            with zipfile.ZipFile(os.path.join(code_dir, name)) as wheel:
                wheel.extractall(target)  # extractall drops absolute paths and ".." components
        except (OSError, zipfile.BadZipFile) as err:
            raise ConfigError(f"cannot unpack the dependency {name} into {target}: {err}") from err
    return target


def load_handler(spec, code_dir):
    """Imports `module.function` (the module may be dotted: `pkg.mod.fn`) from `code_dir`."""
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise ConfigError(f"KUBEFAAS_HANDLER={spec!r} must be module.function, e.g. handler.main")
    deps = unpack_dependencies(code_dir)
    for extra in (deps, code_dir):  # inserted in turn: the code dir ends up first, then the dependencies
        if extra and extra not in sys.path:
            sys.path.insert(1, extra)
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - any import failure is fatal with its reason
        raise ConfigError(f"handler module {module_name!r} (in {code_dir}) failed to import: {type(err).__name__}: {err}") from err
    fn = getattr(module, function_name, None)
    if not callable(fn):
        raise ConfigError(f"handler module {module_name!r} has no function {function_name!r}: define `def {function_name}(event, context)`")
    return fn


def listening_socket(port, host=None):
    """On `host` when given; else a dual-stack socket on every interface when IPv6 is there, else IPv4."""
    if host is not None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return sock
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("::", port))
        except OSError:
            sock.close()
            raise
    except OSError:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


async def serve(config, handler, sink, queue_settings):
    loop = asyncio.get_running_loop()
    sink.attach(loop)
    runtime = Runtime(
        handler, config["function_name"], config["timeout_ms"], config["max_concurrency"],
        config["max_body_bytes"], config["shutdown_grace_ms"], config["threads"], sink,
    )
    # With a queue the pod also consumes its subscriptions and gets a working context.publish
    # (imported only then: a pod without a queue does not load the client).
    queue = None
    if queue_settings is not None:
        from kubefaas_queue import RuntimeQueue

        queue = RuntimeQueue(queue_settings, runtime)
        runtime.publisher = queue.publisher
        runtime.metrics.extra.append(queue.metrics.render)
        # Readiness gates HTTP only: a function whose one subscription is its implicit async-call
        # consumer stays Ready through a NATS outage; one with queue or cron triggers waits for them.
        if any(s["kind"] != "async" for s in queue_settings.subscriptions):
            runtime.ready_check = queue.ready
    try:
        sock = listening_socket(config["port"], config["bind_host"])
    except OSError as err:
        fatal(f"cannot listen on port {config['port']}", err)
    port = await runtime.listen(sock)
    runtime.log.info(
        "listening", port=port, timeoutMs=config["timeout_ms"], maxConcurrency=config["max_concurrency"],
        maxBodyBytes=config["max_body_bytes"], python=".".join(map(str, sys.version_info[:3])),
    )

    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda s=sig: stop.done() or stop.set_result(s))

    def on_loop_error(_loop, ctx):
        # A handler's stray background task must not take down requests in flight: log it and go on.
        err = ctx.get("exception")
        runtime.log.error("unhandled error in function code", error=err if err is not None else ctx.get("message"))

    loop.set_exception_handler(on_loop_error)
    if queue is not None:
        def queue_started(task):
            if not task.cancelled() and task.exception() is not None:
                sink.flush()
                fatal("cannot start the queue consumers", task.exception())

        loop.create_task(queue.start()).add_done_callback(queue_started)
    sig = await stop
    name = signal.Signals(sig).name
    runtime.log.info("shutting down", signal=name, inFlight=runtime.metrics.in_flight)
    # Queue deliveries need no endpoint drain: consumers stop pulling now, running handlers get the grace.
    queue_stopped = loop.create_task(queue.stop(runtime.shutdown_grace)) if queue is not None else None
    finished = await runtime.shutdown()
    if queue_stopped is not None:
        try:
            await asyncio.wait_for(queue_stopped, runtime.shutdown_grace + 5)
        except Exception as err:  # noqa: BLE001 - the exit must not hang on the queue
            runtime.log.error("queue shutdown failed", error=err)
    runtime.log.info("shut down" if finished else "shut down with requests still in flight", signal=name)
    return 0 if finished else 1


def main():
    sink = LogSink()
    try:
        config = read_config(os.environ)
        handler = load_handler(config["handler"], config["code_dir"])
        queue_settings = read_queue_settings(os.environ)
    except (ConfigError, ValueError) as err:
        fatal(f"cannot start the function runtime: {err}", err)
    try:
        code = asyncio.run(serve(config, handler, sink, queue_settings))
    except Exception as err:  # noqa: BLE001
        sink.flush()
        fatal("the function runtime failed", err)
    sink.flush()
    # Threads of sync handlers still running past their deadline must not hold the exit.
    os._exit(code)


if __name__ == "__main__":
    main()
