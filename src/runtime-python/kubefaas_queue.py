"""The queue side of a Python function pod, beside its HTTP server (src/runtime/queue-startup.ts,
queue-trigger.ts): with the settings of kubefaas_queue_settings.py, connects to NATS, starts one consumer per subscription (topics,
async calls with their callback deliverer, cron ticks), runs the handler for each delivery with the
same `context` as an HTTP invocation, and gives `context.publish` a durable publish.
"""

import asyncio
import inspect
import os
import re
import time
import uuid

import kubefaas_headers as H
from kubefaas import Response
from kubefaas_callback import CallbackHooks, callback_handler, callback_subscription
from kubefaas_calls import AsyncCallHooks, CallbackQueue, CallStateStore
from kubefaas_consumer import NO_CONTENT, QueueConsumer, Reply
from kubefaas_event import Context
from kubefaas_jetstream import ensure_queue_resources, is_transient, publish_durably
from kubefaas_log import error_fields, iso_now, to_json
from kubefaas_metrics import ERROR, SUCCESS, TIMEOUT
from kubefaas_nats import NatsClient
from kubefaas_queue_metrics import QueueMetrics
from kubefaas_server import client_error_status, json_body, to_response, trace_id_of

TOPIC_PATTERN = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
PUBLISH_TIMEOUT = 10.0
# How long startup retries the stream setup while JetStream is not answering yet.
SETUP_RETRY_SECONDS = 30.0


# -- values to messages ------------------------------------------------------------------------


def encode_data(data):
    """Bytes and content type of a value given to `context.publish` (src/queue/publisher.ts encodeData):
    bytes as they are, str as text, None as an empty body, anything else as JSON."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), "application/octet-stream"
    if isinstance(data, str):
        return data.encode("utf-8"), "text/plain; charset=utf-8"
    if data is None:
        return b"", "application/octet-stream"
    return json_body(data).encode("utf-8"), "application/json"


def to_reply(result):
    """A handler's return value as a queue reply, with the HTTP return rules: str -> text, bytes ->
    octet-stream, None -> 204, Response -> as is, any other JSON value -> JSON."""
    if result is None:
        return NO_CONTENT
    if isinstance(result, str):
        return Reply(200, {"content-type": "text/plain; charset=utf-8"}, result.encode("utf-8"))
    if isinstance(result, (bytes, bytearray, memoryview)):
        return Reply(200, {"content-type": "application/octet-stream"}, bytes(result))
    if isinstance(result, Response):
        status, content_type, body, header_list = to_response(result)
        headers = {}
        for name, value in header_list:
            headers[name] = value if name not in headers else headers[name] + ", " + value
        if "content-type" not in headers and body and content_type:
            headers["content-type"] = content_type
        return Reply(status, headers, body)
    return Reply(200, {"content-type": "application/json"}, json_body(result).encode("utf-8"))


# -- the queue side of the pod -----------------------------------------------------------------


class RuntimeQueue:
    def __init__(self, settings, runtime):
        self.settings = settings
        self.runtime = runtime
        self.function_name = runtime.function_name
        self.log = runtime.log
        self.metrics = QueueMetrics()
        self.nc = NatsClient(
            settings.servers, f"runtime-{self.function_name}", self.log,
            user=settings.user, password=settings.password, ca_file=settings.ca_file,
        )
        self.consumers = []
        self.started = False
        self.stopping = False
        # Made on the loop (serve()): handler threads hand their publishes to it.
        self._loop = asyncio.get_running_loop()

    def ready(self):
        """Connected and every consumer started (what /readyz adds to the HTTP side)."""
        return self.started and self.nc.connected and not self.stopping

    # context.publish ---------------------------------------------------------------------------

    def publisher(self, topic, data, trace_id):
        """`context.publish(topic, data)`: from an async handler an awaitable (a task already
        publishing); from a sync handler's thread it blocks until the stream stored the message."""
        if not isinstance(topic, str) or not TOPIC_PATTERN.fullmatch(topic):
            raise ValueError(
                f"invalid topic {topic!r}: use letters, digits, '-' and '_', with '.' between tokens (no spaces, '*' or '>')"
            )
        body, content_type = encode_data(data)
        coro = self.publish(topic, body, content_type, trace_id)
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            return self._loop.create_task(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def publish(self, topic, body, content_type, trace_id):
        """A CloudEvent (binary mode) on `<topicsPrefix>.<topic>`; returns once the stream stored it."""
        event_id = str(uuid.uuid4())
        headers = [
            (H.CONTENT_TYPE, content_type),
            (H.CE_SPEC_VERSION, H.CLOUDEVENTS_SPEC_VERSION),
            (H.CE_ID, event_id),
            (H.CE_SOURCE, f"/kubefaas/function/{self.function_name}"),
            (H.CE_TYPE, H.MESSAGE_TYPE),
            (H.CE_TIME, iso_now()),
        ]
        if trace_id:
            # A new span of the caller's trace (W3C trace context).
            headers.append((H.TRACEPARENT, f"00-{trace_id}-{os.urandom(8).hex()}-01"))
        subject = f"{self.settings.config['topicsPrefix']}.{topic}"
        await publish_durably(self.nc, subject, body, headers, event_id, timeout=PUBLISH_TIMEOUT)

    # consumers ---------------------------------------------------------------------------------

    async def start(self):
        """Connects (trying until NATS answers) and starts one consumer per subscription."""
        try:
            await self.nc.connect()
            await self._setup_streams()
            config = self.settings.config
            store = CallStateStore(self.nc, config)
            for sub in self.settings.subscriptions:
                if self.stopping:
                    return
                hooks = None
                if sub["kind"] == "async":
                    callbacks = CallbackQueue(self.nc, config, self.function_name, PUBLISH_TIMEOUT)
                    hooks = AsyncCallHooks(store, self.function_name, self.metrics, callbacks, self.settings.expose_error_messages)
                await self._consume(sub, self._handler_for(sub), hooks, self.runtime.timeout_ms)
                if sub["kind"] == "async":
                    # Callbacks are POSTed from their own consumer, never holding a handler slot.
                    deliverer = callback_subscription(config, self.function_name, sub)
                    await self._consume(deliverer, callback_handler(store, self.settings.callbacks), CallbackHooks(store), None)
        except Exception:
            if self.stopping:
                return  # stopped while still connecting: nothing to report
            raise
        self.started = True
        self.log.info("queue consumers started", subscriptions=[s["subject"] for s in self.settings.subscriptions])
        await self.metrics.read_lag_now()

    async def _setup_streams(self):
        deadline = self._loop.time() + SETUP_RETRY_SECONDS
        while True:
            try:
                await ensure_queue_resources(self.nc, self.settings.config)
                return
            except Exception as err:  # noqa: BLE001 - JetStream may still be starting
                if not is_transient(err) or self._loop.time() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def _consume(self, sub, handler, hooks, timeout_ms):
        consumer = QueueConsumer(
            self.nc, self.function_name, sub, self.settings.config, handler, self.metrics, self.log,
            hooks=hooks, handler_timeout_ms=timeout_ms,
        )
        await consumer.start()
        self.consumers.append(consumer)

    def _handler_for(self, sub):
        """Runs the user's handler for one delivery, with the context an HTTP invocation gets. A raised
        error fails the attempt (retried, then dead-lettered), except a deliberate 4xx: that is the
        call's answer, so retrying would only repeat it."""
        runtime = self.runtime
        stats = runtime.metrics.trigger("queue" if sub["kind"] == "topic" else sub["kind"])
        loop = self._loop

        async def run(event, delivery):
            started = time.monotonic()
            context = Context(
                runtime.function_name, event.id, time.time() + runtime.timeout, runtime.sink,
                trace_id_of(event.traceparent), runtime.publisher,
            )
            delivery.on_abort(lambda _reason: context.cancel())
            runtime.begin_work()
            try:
                if runtime.is_async:
                    result = await runtime.handler(event, context)
                else:
                    result = await loop.run_in_executor(runtime.pool, runtime.handler, event, context)
                    if inspect.isawaitable(result):
                        result = await result
                reply = to_reply(result)
                stats.count(SUCCESS)
                return reply
            except asyncio.CancelledError:
                stats.count(TIMEOUT)
                raise
            except Exception as err:
                status = client_error_status(err)
                if status is not None:
                    stats.count(SUCCESS)
                    message = getattr(err, "message", None)
                    body = to_json({"error": message if isinstance(message, str) else str(err)})
                    return Reply(status, {"content-type": "application/json"}, body.encode("utf-8"))
                stats.count(TIMEOUT if delivery.aborted else ERROR)
                context.log.error("handler failed", trigger=sub["trigger"], attempt=delivery.attempt, error=error_fields(err))
                raise
            finally:
                runtime.end_work()
                stats.observe(time.monotonic() - started)

        return run

    async def stop(self, grace):
        """Stops pulling, lets running handlers finish within `grace` seconds, closes the connection."""
        self.stopping = True
        await asyncio.gather(*(c.stop(grace) for c in self.consumers))
        await self.nc.close()
