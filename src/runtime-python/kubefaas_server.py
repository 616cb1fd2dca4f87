"""The HTTP side of the Python runtime: an asyncio HTTP/1.1 server with keep-alive that speaks the
same contract as the Node runtime (src/runtime/server.ts): /healthz /readyz /metrics, request ids
and traceparent, deadlines (504, the call cancelled), 413 past the body limit, 429 past the
concurrency limit, 400 for malformed requests, 500 without details for handler exceptions, one
JSON log line per request, and a graceful drain on shutdown.

Async handlers run on the event loop; sync handlers run in a bounded thread pool so they never
block it.
"""

import asyncio
import collections
import inspect
import os
import sys
import json
import time
from concurrent.futures import ThreadPoolExecutor

from kubefaas import HttpError, Response
from kubefaas_event import Context, HttpEvent
from kubefaas_http import BadRequest, ChunkedDecoder, encode_response, parse_head, valid_header
from kubefaas_log import JsonLogger, error_fields, iso_now, json_fragment, to_json
from kubefaas_metrics import CONTENT_TYPE, ERROR, REJECTED, SUCCESS, TIMEOUT, RuntimeMetrics

HEALTH, READY, METRICS = "/healthz", "/readyz", "/metrics"
TEXT = "text/plain; charset=utf-8"
BYTES = "application/octet-stream"
JSON_TYPE = "application/json; charset=utf-8"

# Node's server defaults: idle keep-alive connections close after 5 s; a head must arrive within 60 s.
KEEP_ALIVE_TIMEOUT = 5.0
HEADERS_TIMEOUT = 60.0
# Bytes buffered from a connection while its current request is handled before reading pauses.
MAX_BUFFERED = 256 * 1024
MAX_INCOMING_ID = 200
# Seconds a connection we close keeps discarding input before the socket is closed for good.
LINGER = 2.0


def trace_id_of(traceparent):
    """The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), or None."""
    if not traceparent or len(traceparent) < 55 or traceparent[2] != "-":
        return None
    trace_id = traceparent[3:35]
    return trace_id if all(c in "0123456789abcdef" for c in trace_id) else None


def client_error_status(err):
    """The 4xx status an exception asks for (`status` or `status_code`), else None (-> 500)."""
    status = getattr(err, "status", None)
    if status is None:
        status = getattr(err, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool) and 400 <= status < 500:
        return status
    return None


if sys.version_info >= (3, 12):

    def new_task(coro, loop):
        # Eager start: a handler that never really awaits finishes here, without a trip through
        # the loop's ready queue (3.12+; only our tasks, the handler's own ones keep the default).
        return asyncio.Task(coro, loop=loop, eager_start=True)

else:

    def new_task(coro, loop):
        return loop.create_task(coro)


class DeadlineQueue:
    """Expires invocations past their deadline with one timer for the whole process, not one per
    request: every invocation gets the same timeout, so arrival order is deadline order and the
    oldest entry is always the next to expire. Settled entries are dropped when they reach the front."""

    __slots__ = ("loop", "expire", "entries", "timer")

    def __init__(self, loop, expire):
        self.loop = loop
        self.expire = expire
        self.entries = collections.deque()
        self.timer = None

    def add(self, inv, at):
        self.entries.append((at, inv))
        if self.timer is None:
            self.timer = self.loop.call_at(at, self.sweep)

    def sweep(self):
        self.timer = None
        now = self.loop.time()
        entries = self.entries
        while entries:
            at, inv = entries[0]
            if inv.settled:
                entries.popleft()
            elif at <= now:
                entries.popleft()
                self.expire(inv)
            else:
                self.timer = self.loop.call_at(at, self.sweep)
                return


class Invocation:
    """One accepted request, from its head to the last byte of its response."""

    __slots__ = ("conn", "head", "request_id", "started", "arrival", "settled", "context", "work", "body_done")

    def __init__(self, conn, head, request_id, started, arrival):
        self.conn = conn
        self.head = head
        self.request_id = request_id
        self.started = started
        self.arrival = arrival
        self.settled = False
        self.context = None
        self.work = None
        self.body_done = False


class Connection(asyncio.Protocol):
    __slots__ = ("runtime", "transport", "buf", "current", "decoder", "closed", "eof", "last_active", "head_started", "paused")

    def __init__(self, runtime):
        self.runtime = runtime
        self.transport = None
        self.buf = bytearray()
        self.current = None
        self.decoder = None
        self.closed = False
        self.eof = False
        self.last_active = time.monotonic()
        self.head_started = None
        self.paused = False

    def connection_made(self, transport):
        self.transport = transport
        self.runtime.connections.add(self)
        if self.runtime.stopping:
            transport.close()

    def connection_lost(self, exc):
        self.closed = True
        self.runtime.connections.discard(self)
        inv = self.current
        if inv is not None:
            if inv.context is not None:
                inv.context.cancel()
            elif not inv.settled:
                self.runtime.client_gone(inv)

    def data_received(self, data):
        if self.closed:
            return  # lingering after an error response: discard what the client still sends
        self.last_active = time.monotonic()
        self.buf += data
        inv = self.current
        if inv is None:
            self.process()
        elif not inv.body_done and not inv.settled:
            self.runtime.continue_body(inv)
        inv = self.current
        if inv is not None and inv.body_done and len(self.buf) > MAX_BUFFERED and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def eof_received(self):
        # A client that half-closes after a complete request still gets the response (then we
        # close). EOF anywhere else (idle, mid-head, mid-body, or while we linger) ends the
        # connection: whatever was incomplete never will be.
        self.eof = True
        inv = self.current
        return not self.closed and inv is not None and inv.body_done

    def process(self):
        """Starts the requests buffered on this connection, one at a time."""
        runtime = self.runtime
        while self.current is None and self.buf and not self.closed:
            if self.head_started is None:
                self.head_started = time.monotonic()
            try:
                parsed = parse_head(self.buf)
            except BadRequest as err:
                self.reject(err.status, err.reason)
                return
            if parsed is None:
                return
            head, length = parsed
            del self.buf[:length]
            self.head_started = None
            runtime.accept(self, head)
        if self.current is None and self.paused and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def reject(self, status, reason):
        """A request that cannot be parsed: answer and close (its framing is unknown)."""
        body = to_json({"error": reason}).encode()
        self.send(encode_response(status, [("content-type", JSON_TYPE), ("content-length", str(len(body))), ("connection", "close")], body), close=True)
        self.buf.clear()

    def send(self, data, close):
        if self.closed:
            return
        self.transport.write(data)
        if close:
            self.close()

    def close(self):
        """Closes after the response is flushed. The write side is shut first and unread input is
        discarded for a moment: closing a socket with unread data sends a reset, which can destroy
        the response (a 413 sent while the client is still uploading) before the client reads it."""
        if self.closed and self.transport.is_closing():
            return
        self.closed = True
        transport = self.transport
        if transport.can_write_eof():
            try:
                transport.write_eof()
            except OSError:
                transport.abort()
                return
            self.runtime.loop.call_later(LINGER, transport.close)
        else:
            transport.close()

    def finished(self, close):
        """The current request's response is out: close, or move on to the next request."""
        self.current = None
        self.last_active = time.monotonic()
        if close or self.runtime.stopping or (self.eof and not self.buf):
            if not self.closed:
                self.close()
            return
        if self.buf:
            self.process()
            if self.eof and self.current is None and not self.closed:
                self.close()  # what is left after the client's EOF is not a complete request
        elif self.paused and not self.closed:
            self.paused = False
            self.transport.resume_reading()


class Runtime:
    def __init__(self, handler, function_name, timeout_ms, max_concurrency, max_body_bytes, shutdown_grace_ms, threads, sink):
        self.handler = handler
        self.is_async = inspect.iscoroutinefunction(handler)
        self.function_name = function_name
        self.function_json = to_json(function_name)
        self.timeout = timeout_ms / 1000
        self.timeout_ms = timeout_ms
        self.max_concurrency = max_concurrency
        self.max_body_bytes = max_body_bytes
        self.shutdown_grace = shutdown_grace_ms / 1000
        self.sink = sink
        self.log = JsonLogger(sink, json_fragment({"function": function_name}))
        self.metrics = RuntimeMetrics(function_name)
        self.http = self.metrics.trigger("http")
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="handler")
        self.connections = set()
        self.stopping = False
        self.server = None
        self.loop = None
        # Distinguishes processes in generated ids, as the Node runtime's random prefix does.
        self._id_prefix = "%08x%04x-" % (int.from_bytes(os.urandom(4), "big"), int(time.time()) & 0xFFFF)
        self._id_counter = 0
        self._drained = None
        self._sweeper = None
        self.deadlines = None
        #: `context.publish`: the queue's when the platform has one (kubefaas_queue.py)
        self.publisher = None
        #: what readiness also waits for (the queue consumers, when the function has queue triggers)
        self.ready_check = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def listen(self, sock):
        self.loop = asyncio.get_running_loop()
        self.deadlines = DeadlineQueue(self.loop, self.timed_out)
        self.server = await self.loop.create_server(lambda: Connection(self), sock=sock, backlog=1024)
        self._sweeper = self.loop.call_later(1.0, self._sweep)
        return sock.getsockname()[1]

    def _sweep(self):
        """Closes idle keep-alive connections and heads that never complete (slowloris)."""
        now = time.monotonic()
        for conn in list(self.connections):
            if conn.current is not None or conn.closed:
                continue
            if conn.head_started is not None and now - conn.head_started > HEADERS_TIMEOUT:
                conn.reject(408, "request head timed out")
            elif not conn.buf and now - conn.last_active > KEEP_ALIVE_TIMEOUT:
                conn.close()
        self._sweeper = self.loop.call_later(1.0, self._sweep)

    async def shutdown(self):
        """Stops accepting, lets in-flight requests finish within the grace period, closes idle
        keep-alive connections. True once everything finished, False when the grace ran out."""
        self.stopping = True
        self.server.close()
        for conn in list(self.connections):
            if conn.current is None and not conn.closed:
                conn.close()
        if self.metrics.in_flight == 0:
            return True
        self._drained = self.loop.create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._drained), self.shutdown_grace)
            return True
        except asyncio.TimeoutError:
            self.log.warn("shutdown grace period ended with requests in flight", inFlight=self.metrics.in_flight, graceMs=int(self.shutdown_grace * 1000))
            for conn in list(self.connections):
                conn.closed = True
                conn.transport.abort()
            return False

    @property
    def ready(self):
        return not self.stopping and (self.ready_check is None or self.ready_check())

    def begin_work(self):
        """An invocation that is not an HTTP request (a queue delivery) starts: counted in flight."""
        self.metrics.in_flight += 1
        if self.metrics.cold_starts == 0:
            self.metrics.cold_starts = 1

    def end_work(self):
        self.metrics.in_flight -= 1
        self._maybe_drained()

    def _maybe_drained(self):
        if self.stopping and self.metrics.in_flight == 0 and self._drained is not None and not self._drained.done():
            self._drained.set_result(True)

    # -- requests ----------------------------------------------------------------------------

    def next_id(self, incoming):
        if incoming and len(incoming) <= MAX_INCOMING_ID:
            return incoming
        self._id_counter += 1
        return self._id_prefix + _base36(self._id_counter)

    def accept(self, conn, head):
        target = head.target
        if target == HEALTH or target == READY or target == METRICS:
            self.serve_endpoint(conn, head)
            return
        started = time.monotonic()
        request_id = self.next_id(head.request_id)
        inv = Invocation(conn, head, request_id, started, time.time())
        conn.current = inv
        if self.max_concurrency > 0 and self.metrics.in_flight >= self.max_concurrency:
            inv.settled = True
            # The body of a rejected request is not read: close rather than parse past it.
            close = bool(head.content_length or head.chunked)
            self.send_error(inv, 429, f"too many concurrent requests (limit {self.max_concurrency})", extra=[("retry-after", "1")], close=close)
            self.record(inv, 429, REJECTED)
            conn.finished(close)
            return
        self.metrics.in_flight += 1
        if head.content_length is not None and head.content_length > self.max_body_bytes:
            self.body_too_large(inv)
            return
        self.deadlines.add(inv, started + self.timeout)
        if head.expect_continue:
            conn.send(b"HTTP/1.1 100 Continue\r\n\r\n", False)
        if head.chunked:
            conn.decoder = ChunkedDecoder(self.max_body_bytes)
        self.continue_body(inv)

    def continue_body(self, inv):
        conn = inv.conn
        head = inv.head
        if head.chunked:
            try:
                done = conn.decoder.feed(conn.buf)
            except BadRequest as err:
                if err.status == 413:
                    self.body_too_large(inv)
                else:
                    self.malformed_body(inv, err.reason)
                return
            if not done:
                return
            body = conn.decoder.body()
            conn.decoder = None
        else:
            length = head.content_length or 0
            if len(conn.buf) < length:
                return
            if length == 0:
                body = b""
            else:
                body = bytes(conn.buf[:length])
                del conn.buf[:length]
        inv.body_done = True
        self.invoke(inv, body)

    def invoke(self, inv, body):
        head = inv.head
        event = HttpEvent(head.method, head.target, head.headers, body, inv.request_id, self.function_name, inv.arrival)
        context = Context(self.function_name, inv.request_id, inv.arrival + self.timeout, self.sink, trace_id_of(head.traceparent), self.publisher)
        inv.context = context
        if self.metrics.cold_starts == 0:
            self.metrics.cold_starts = 1
        if self.is_async:
            try:
                work = new_task(self.handler(event, context), self.loop)
            except BaseException as err:  # noqa: BLE001 - calling the handler raised before any await
                self.failed(inv, err)
                return
            if work.done():  # ran to the end in its first step (eager start): no callback round trip
                inv.work = work
                self.work_done(inv, work)
                return
        else:
            work = self.loop.run_in_executor(self.pool, self.handler, event, context)
        inv.work = work
        work.add_done_callback(lambda fut: self.work_done(inv, fut))

    def work_done(self, inv, fut):
        if inv.settled:
            return
        if fut.cancelled():
            self.failed(inv, asyncio.CancelledError("the handler was cancelled"))
            return
        err = fut.exception()
        if err is not None:
            self.failed(inv, err)
            return
        result = fut.result()
        if inspect.isawaitable(result):
            # A sync function that returned a coroutine (e.g. a decorated async handler): await it here.
            async def awaited():
                return await result

            inv.work = self.loop.create_task(awaited())
            inv.work.add_done_callback(lambda f: self.work_done(inv, f))
            return
        self.succeeded(inv, result)

    def succeeded(self, inv, result):
        try:
            status, content_type, body, headers = to_response(result)
        except Exception as err:  # noqa: BLE001 - not serializable: nothing was written yet
            self.failed(inv, err)
            return
        self.settle(inv)
        base = self.base_headers(inv)
        if headers is None:
            out = [("content-type", content_type), ("content-length", str(len(body)))] if status != 204 else []
            out += base
        else:
            out = headers
            names = {name.lower() for name, _ in headers}
            if "content-length" not in names and status != 204 and status != 304:
                out.append(("content-length", str(len(body))))
            if "content-type" not in names and body:
                out.append(("content-type", content_type))
            for name, value in base:
                if name not in names:
                    out.append((name, value))
        if status == 204 or status == 304 or inv.head.method == "HEAD":
            body = b""
        close = self.stopping or not inv.head.keep_alive
        inv.conn.send(encode_response(status, out, body), close)
        self.complete(inv, status, SUCCESS, close)

    def failed(self, inv, err):
        if inv.settled:
            return
        self.settle(inv)
        status = client_error_status(err)
        if status is not None:
            # A deliberate client error: the message is meant for the caller.
            message = getattr(err, "message", None)
            self.send_error(inv, status, str(message if isinstance(message, str) else err) or "bad request")
            self.complete(inv, status, SUCCESS, not inv.head.keep_alive)
            return
        # The stack and message go to the log only: they may reveal internals to the caller.
        self.log_handler_error(inv, "handler failed", err)
        self.send_error(inv, 500, "internal error: the function failed; see its logs for this request id")
        self.complete(inv, 500, ERROR, not inv.head.keep_alive)

    def timed_out(self, inv):
        if inv.settled:
            return
        inv.settled = True
        if inv.context is not None:
            inv.context.cancel()
        if inv.work is not None and not inv.work.done():
            inv.work.cancel()  # an async handler gets CancelledError; a queued sync call never starts
        # Still reading the body: do not wait for the rest of it on this connection.
        close = not inv.body_done
        self.send_error(inv, 504, f"function timed out after {self.timeout_ms} ms", close=close)
        if close:
            inv.conn.decoder = None
            inv.conn.buf.clear()
        self.complete(inv, 504, TIMEOUT, close)

    def body_too_large(self, inv):
        self.settle(inv)
        # Closing the connection is what lets us skip the rest of the body instead of reading it.
        self.send_error(inv, 413, f"request body exceeds {self.max_body_bytes} bytes", close=True)
        self.complete(inv, 413, REJECTED, True)

    def malformed_body(self, inv, reason):
        self.settle(inv)
        self.send_error(inv, 400, reason, close=True)
        self.complete(inv, 400, None, True)

    def client_gone(self, inv):
        self.settle(inv)
        # 499 (nginx's "client closed request") in the log; not an invocation: the handler never ran.
        self.complete(inv, 499, None, True)

    def settle(self, inv):
        inv.settled = True

    def complete(self, inv, status, outcome, close):
        self.metrics.in_flight -= 1
        self.record(inv, status, outcome)
        inv.conn.finished(close)
        self._maybe_drained()

    def record(self, inv, status, outcome):
        duration = time.monotonic() - inv.started
        if outcome is not None:
            self.http.count(outcome)
            if outcome != REJECTED:
                self.http.observe(duration)
        head = inv.head
        target = head.target
        q = target.find("?")
        trace_id = trace_id_of(head.traceparent)
        id_json = to_json(inv.request_id) if inv.request_id == head.request_id else '"' + inv.request_id + '"'
        self.sink.line(
            '{"level":"info","time":"%s","msg":"request","function":%s,"requestId":%s%s,"method":"%s","path":%s,"status":%d,"durationMs":%s}'
            % (
                iso_now(), self.function_json, id_json, ',"traceId":"%s"' % trace_id if trace_id else "",
                head.method, to_json(target if q == -1 else target[:q]), status, round(duration * 1000, 3),
            )
        )

    def log_handler_error(self, inv, msg, err):
        fields = {"error": error_fields(err)}
        if inv.context is not None:
            inv.context.log.error(msg, **fields)
        else:
            self.log.error(msg, requestId=inv.request_id, **fields)

    def base_headers(self, inv):
        """x-request-id, and connection: close while shutting down so keep-alive clients move on."""
        if self.stopping or not inv.head.keep_alive:
            return [("x-request-id", inv.request_id), ("connection", "close")]
        if inv.head.version == 10:
            return [("x-request-id", inv.request_id), ("connection", "keep-alive")]
        return [("x-request-id", inv.request_id)]

    def send_error(self, inv, status, message, extra=None, close=False):
        """The JSON error body every runtime-generated error uses: {"error", "requestId"}."""
        body = to_json({"error": message, "requestId": inv.request_id}).encode()
        headers = [("content-type", JSON_TYPE), ("content-length", str(len(body)))] + self.base_headers(inv)
        if close and not (self.stopping or not inv.head.keep_alive):
            headers.append(("connection", "close"))
        if extra:
            headers += extra
        inv.conn.send(encode_response(status, headers, body), close or self.stopping or not inv.head.keep_alive)

    def serve_endpoint(self, conn, head):
        close = self.stopping or not head.keep_alive
        if head.target == HEALTH:
            status, content_type, body = 200, JSON_TYPE, b'{"status":"ok"}'
        elif head.target == READY:
            if self.ready:
                status, content_type, body = 200, JSON_TYPE, b'{"status":"ready"}'
            else:
                status, content_type, body = 503, JSON_TYPE, b'{"status":"shutting down"}'
        else:
            status, content_type, body = 200, CONTENT_TYPE, self.metrics.render().encode()
        headers = [("content-type", content_type), ("content-length", str(len(body)))]
        if close:
            headers.append(("connection", "close"))
        # An endpoint request with a body (never sent by probes): skip it by closing.
        if head.content_length or head.chunked:
            close = True
            headers.append(("connection", "close"))
        conn.send(encode_response(status, headers, b"" if head.method == "HEAD" else body), close)
        if close:
            conn.buf.clear()


def to_response(result):
    """Maps a handler's return value to (status, content type, body bytes, headers or None).

    str -> 200 text; bytes -> 200 octet-stream; None -> 204; Response -> as is; anything else
    (dict, list, numbers, booleans) -> 200 JSON. Raises when the value is not serializable.
    """
    if isinstance(result, str):
        return 200, TEXT, result.encode("utf-8"), None
    if result is None:
        return 204, None, b"", None
    if isinstance(result, (bytes, bytearray, memoryview)):
        return 200, BYTES, bytes(result), None
    if isinstance(result, Response):
        body = result.body
        if body is None:
            content_type, data = None, b""
        elif isinstance(body, str):
            content_type, data = TEXT, body.encode("utf-8")
        elif isinstance(body, (bytes, bytearray, memoryview)):
            content_type, data = BYTES, bytes(body)
        else:
            content_type, data = JSON_TYPE, json_body(body).encode("utf-8")
        headers = []
        for name, value in result.headers.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                v = str(v)
                if not valid_header(name, v):
                    raise ValueError(f"Response header {name!r} has an invalid name or value")
                headers.append((name.lower(), v))
        return result.status, content_type, data, headers
    return 200, JSON_TYPE, json_body(result).encode("utf-8"), None


json_body = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode

_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n):
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS36[r] + out
        if n == 0:
            return out
