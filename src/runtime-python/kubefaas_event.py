"""`event` and `context`: what a Python handler receives (docs/python.md)."""

import base64
import binascii
import json
import os
import threading
import time
from urllib.parse import parse_qs, unquote

from kubefaas import HttpError
from kubefaas_log import JsonLogger, iso_of, json_fragment
from kubefaas_queue_settings import PUBLISHES

HTTP_EVENT_TYPE = "dev.kubefaas.http.request"

# Guards the lazy creation of Context.cancelled against the runtime cancelling at the same moment.
_cancel_lock = threading.Lock()
PARAMS_HEADER = "x-kubefaas-params"
# Set by the router when an auth policy verified the caller (base64url JSON; src/contract/http.ts Headers.auth).
AUTH_HEADER = "x-kubefaas-auth"


class HttpEvent:
    """A CloudEvents 1.0-shaped event with the HTTP request that caused it.

    Headers, query and params are built on first access: most handlers read a field or two.
    """

    __slots__ = ("method", "body", "_target", "_raw_headers", "_request_id", "_function", "_arrival", "_headers", "_query", "_params")

    def __init__(self, method, target, raw_headers, body, request_id, function_name, arrival):
        self.method = method
        #: the raw body (b"" when there is none)
        self.body = body
        self._target = target
        self._raw_headers = raw_headers
        self._request_id = request_id
        self._function = function_name
        self._arrival = arrival
        self._headers = None
        self._query = None
        self._params = None

    @property
    def headers(self):
        """Lower-case names; repeated headers joined with ", " (as Node's req.headers does)."""
        if self._headers is None:
            headers = {}
            for name, value in self._raw_headers:
                headers[name] = value if name not in headers else headers[name] + ", " + value
            self._headers = headers
        return self._headers

    def _ce(self, name):
        value = self.headers.get(name)
        return value if value else None

    @property
    def id(self):
        return self._ce("ce-id") or self._request_id

    @property
    def source(self):
        return self._ce("ce-source") or f"/kubefaas/http/{self._function}"

    @property
    def type(self):
        return self._ce("ce-type") or HTTP_EVENT_TYPE

    @property
    def time(self):
        return self._ce("ce-time") or iso_of(self._arrival)

    @property
    def path(self):
        q = self._target.find("?")
        return self._target if q == -1 else self._target[:q]

    @property
    def query(self):
        """{name: value}, or {name: [values]} for a repeated name (as Node's querystring does)."""
        if self._query is None:
            q = self._target.find("?")
            parsed = parse_qs(self._target[q + 1:], keep_blank_values=True) if q != -1 else {}
            self._query = {k: v[0] if len(v) == 1 else v for k, v in parsed.items()}
        return self._query

    @property
    def params(self):
        """Path parameters the router matched (`/users/:id` -> {"id": "42"})."""
        if self._params is None:
            self._params = _parse_params(self.headers.get(PARAMS_HEADER))
        return self._params

    @property
    def auth(self):
        """The caller the router verified (`{"type": "apiKey", "keyId": ...}`, `basic` with `user`, or `jwt`
        with `subject` and `claims`), or None without an auth policy. Never the client's own header: the
        router drops that."""
        return _parse_auth(self.headers.get(AUTH_HEADER))

    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        """The body parsed as JSON; a body that is not JSON answers 400."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise HttpError(400, "request body is not valid JSON") from None

    def to_dict(self):
        return {
            "id": self.id, "source": self.source, "type": self.type, "time": self.time,
            "method": self.method, "path": self.path, "headers": self.headers,
            "query": self.query, "params": self.params, "auth": self.auth, "body": self.text(),
        }

    def __repr__(self):
        return f"HttpEvent({self.method} {self.path})"


def _parse_auth(header):
    if not header:
        return None
    try:
        info = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return None
    return info if isinstance(info, dict) else None


def _parse_params(header):
    if not header:
        return {}
    try:
        parsed = json.loads(unquote(header))
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: v for k, v in parsed.items() if isinstance(v, str)}


def _declared_topics():
    """The topics the function declared in `publishes` (KUBEFAAS_PUBLISHES, JSON); None = no check."""
    raw = os.environ.get(PUBLISHES)
    if not raw:
        return None
    try:
        topics = json.loads(raw)
    except ValueError:
        return None
    return [t for t in topics if isinstance(t, str)] if isinstance(topics, list) else None


DECLARED_TOPICS = _declared_topics()


class UndeclaredTopicError(Exception):
    """`context.publish` to a topic the function did not declare in `publishes` (the queue's
    permissions refuse it in a cluster too); the message names the declaration to add."""

    def __init__(self, function_name, topic, declared):
        listed = ", ".join(repr(t) for t in declared) or "none"
        wanted = ", ".join(repr(t) for t in [*declared, topic])
        super().__init__(
            f"context.publish({topic!r}): function {function_name!r} does not declare topic {topic!r} "
            f"(it declares {listed}); add it to the function's props: publishes: [{wanted}]"
        )


class Context:
    """The context of one invocation.

    `deadline` is the epoch time in seconds (compare with time.time()) after which the runtime
    answers 504; `cancelled` is a threading.Event set then (and when the client goes away), for
    sync handlers to poll. Async handlers are also cancelled (CancelledError at their next await).
    """

    __slots__ = ("function_name", "request_id", "deadline", "_cancelled", "_is_cancelled", "_sink", "_trace_id", "_log", "_publish")

    def __init__(self, function_name, request_id, deadline, sink, trace_id, publish=None):
        self.function_name = function_name
        self.request_id = request_id
        self.deadline = deadline
        # The Event is made on first access: most handlers never look, and one per request costs.
        self._cancelled = None
        self._is_cancelled = False
        self._sink = sink
        self._trace_id = trace_id
        self._log = None
        self._publish = publish

    @property
    def cancelled(self):
        """A threading.Event set when the deadline passes or the client goes away."""
        if self._cancelled is None:
            with _cancel_lock:
                if self._cancelled is None:
                    event = threading.Event()
                    if self._is_cancelled:
                        event.set()
                    self._cancelled = event
        return self._cancelled

    def cancel(self):
        """Sets `cancelled` (now, or when the handler first asks for it). Called by the runtime."""
        with _cancel_lock:
            self._is_cancelled = True
            event = self._cancelled
        if event is not None:
            event.set()

    @property
    def trace_id(self):
        return self._trace_id

    @property
    def log(self):
        if self._log is None:
            self._log = JsonLogger(self._sink, json_fragment({"function": self.function_name, "requestId": self.request_id, "traceId": self._trace_id}))
        return self._log

    def remaining(self):
        """Seconds left before the deadline (negative once it passed)."""
        return self.deadline - time.time()

    def publish(self, topic, data=None):
        """Publishes `data` to queue topic `topic` durably (the stream's PubAck awaited): bytes as they
        are, str as text/plain, None as an empty body, anything else as JSON. From a sync handler it
        blocks until stored; from an async handler it returns an awaitable (`await context.publish(...)`).
        Raises (the call fails) when the queue does not confirm within 10 s or the platform has none."""
        # Before the queue: an undeclared topic is a bug in the code, not an outage (as in Node).
        if DECLARED_TOPICS is not None and topic not in DECLARED_TOPICS:
            raise UndeclaredTopicError(self.function_name, topic, DECLARED_TOPICS)
        if self._publish is None:
            raise RuntimeError(
                f"context.publish({topic!r}): no queue configured for this platform; add a queue to the Platform to publish messages"
            )
        return self._publish(topic, data, self._trace_id)
