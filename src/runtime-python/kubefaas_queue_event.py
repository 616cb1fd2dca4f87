"""The `event` of a queue delivery: the same shape as an HTTP event (CloudEvents attributes, method,
path, query, headers, body), so one handler serves both, with the values the Node runtime's
QueueEvent gives (src/queue/event.ts; table in docs/events.md). Async calls carry the HTTP request
the router accepted; topic messages and cron ticks look like a `POST /`. Fields are computed on
first access."""

import base64
import json
from urllib.parse import parse_qs

import kubefaas_headers as H
from kubefaas_log import iso_of_ms

_CALL_ID = H.CALL_ID.lower()
_CALLBACK_URL = H.CALLBACK_URL.lower()
_METHOD = H.METHOD.lower()
_PATH = H.PATH.lower()
_HTTP_HEADERS = H.HTTP_HEADERS.lower()
_MSG_ID = H.MSG_ID.lower()


class QueueEvent:
    __slots__ = ("_msg", "_sub", "_function", "_headers", "_query", "_id", "call_state")

    def __init__(self, msg, sub, function_name):
        self._msg = msg  # a PulledMessage
        self._sub = sub
        self._function = function_name
        self._headers = None
        self._query = None
        self._id = None
        #: async calls: the state the consumer last wrote for this delivery (kubefaas_calls.py)
        self.call_state = None

    def _header(self, lower_name):
        value = self._msg.msg.header(lower_name)
        return value if value else None

    @property
    def kind(self):
        """`topic`, `async` or `cron`: what the subscription consumes."""
        return self._sub["kind"]

    @property
    def subject(self):
        """The subject the message was published on."""
        return self._msg.subject

    @property
    def sequence(self):
        """Stream sequence: unique per stream, stable across redeliveries."""
        return self._msg.seq

    @property
    def attempt(self):
        """1 for the first delivery."""
        return self._msg.delivery_count

    @property
    def call_id(self):
        return self._header(_CALL_ID) if self.kind == "async" else None

    @property
    def callback_url(self):
        return self._header(_CALLBACK_URL) if self.kind == "async" else None

    @property
    def auth(self):
        """Async calls: who the router's auth policy verified (the `x-kubefaas-auth` header it stored
        with the call; a client's own is dropped by the router). None for topic messages and ticks."""
        if self.kind != "async":
            return None
        return read_auth_info(self.headers.get(H.HTTP_AUTH))

    @property
    def params(self):
        return {}

    @property
    def body(self):
        return self._msg.data

    @property
    def id(self):
        if self._id is None:
            self._id = (
                self._header(H.CE_ID) or self.call_id or self._header(_MSG_ID) or f"{self._msg.stream}:{self._msg.seq}"
            )
        return self._id

    @property
    def type(self):
        explicit = self._header(H.CE_TYPE)
        if explicit:
            return explicit
        kind = self.kind
        return H.ASYNC_CALL_TYPE if kind == "async" else H.CRON_TICK_TYPE if kind == "cron" else H.MESSAGE_TYPE

    @property
    def source(self):
        explicit = self._header(H.CE_SOURCE)
        if explicit:
            return explicit
        kind = self.kind
        if kind == "async":
            return f"/kubefaas/async/{self._function}"
        if kind == "cron":
            return f"/kubefaas/cron/{self._function}/{self._sub['trigger']}"
        return f"/kubefaas/queue/{self._sub['trigger']}"

    @property
    def time(self):
        """CloudEvents `time`: the publisher's, else when the stream stored the message."""
        return self._header(H.CE_TIME) or iso_of_ms(self._msg.timestamp_ns // 1_000_000)

    @property
    def method(self):
        return (self.kind == "async" and self._header(_METHOD)) or "POST"

    def _raw_path(self):
        return (self.kind == "async" and self._header(_PATH)) or "/"

    @property
    def path(self):
        raw = self._raw_path()
        q = raw.find("?")
        return raw if q == -1 else raw[:q]

    @property
    def query(self):
        if self._query is None:
            raw = self._raw_path()
            q = raw.find("?")
            parsed = parse_qs(raw[q + 1:], keep_blank_values=True) if q != -1 else {}
            self._query = {k: v[0] if len(v) == 1 else v for k, v in parsed.items()}
        return self._query

    @property
    def headers(self):
        """Lower-case names. Async calls: the HTTP request's headers (+ `x-call-id`); other messages:
        their own headers without JetStream's `Nats-*`, repeated ones joined with ", " (as HTTP events)."""
        if self._headers is None:
            if self.kind == "async":
                headers = _http_headers_of(self._header(_HTTP_HEADERS))
            else:
                headers = {}
                for name, value in self._msg.msg.headers:
                    lower = name.lower()
                    if lower.startswith("nats-"):
                        continue
                    headers[lower] = value if lower not in headers else headers[lower] + ", " + value
            call_id = self.call_id
            if call_id:
                headers[H.HTTP_CALL_ID] = call_id
            traceparent = self._header(H.TRACEPARENT)
            if traceparent and H.TRACEPARENT not in headers:
                headers[H.TRACEPARENT] = traceparent
            self._headers = headers
        return self._headers

    @property
    def traceparent(self):
        value = self.headers.get(H.TRACEPARENT)
        return value if isinstance(value, str) else None

    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        """The body parsed as JSON. Raises ValueError otherwise: a message that is not JSON fails
        the attempt (retried, then dead-lettered where it can be looked at), as on the Node runtime."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise ValueError(f"message {self.id} body is not valid JSON") from None

    def to_dict(self):
        return {
            "specversion": H.CLOUDEVENTS_SPEC_VERSION, "id": self.id, "source": self.source, "type": self.type,
            "time": self.time, "subject": self.subject, "method": self.method, "path": self.path,
            "query": self.query, "headers": self.headers, "body": self.text(),
        }

    def __repr__(self):
        return f"QueueEvent({self.type} {self.subject}#{self.sequence})"


def _http_headers_of(raw):
    """Async calls carry the original HTTP request headers as JSON; a malformed one leaves the
    event without request headers rather than failing the call."""
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def read_auth_info(value):
    """`x-kubefaas-auth` (base64url JSON, src/contract/policies.ts readAuthInfo) -> dict, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        info = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, TypeError):
        return None
    return info if isinstance(info, dict) else None
