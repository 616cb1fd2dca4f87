"""JetStream over the NATS client: the API calls, streams and durable consumers created idempotently,
publishes confirmed by a PubAck, and pulled messages with their acknowledgements.

The reference is the Node side (src/queue/resources.ts, publisher.ts, pulled-message.ts,
pull-session.ts): the same stream and consumer configurations, the same API subjects (which are
what the NATS users' permissions allow, constructs/queue/nats-auth.ts), the same ack payloads.
"""

import asyncio
import json

from kubefaas_nats import NatsError

API = "$JS.API"

# JetStream API error codes we react to (nats-server errors.json), as src/queue/api-errors.ts.
STREAM_NOT_FOUND = 10059
STREAM_NAME_IN_USE = 10058
CONSUMER_NOT_FOUND = 10014
CONSUMER_NAME_EXISTS = 10013
CONSUMER_ALREADY_EXISTS = 10148
WRONG_LAST_SEQUENCE = 10071

DEFAULT_PUBLISH_TIMEOUT = 10.0
# Window in which JetStream drops a message whose Nats-Msg-Id it has seen.
DUPLICATE_WINDOW_MS = 2 * 60 * 1000
MSG_ID = "Nats-Msg-Id"


def nanos(ms):
    return int(ms) * 1_000_000


class JsApiError(Exception):
    """An error answer of the JetStream API (or of a publish): `code` is HTTP-like, `err_code` JetStream's."""

    def __init__(self, description, code=None, err_code=None):
        super().__init__(description)
        self.code = code
        self.err_code = err_code


class QueueUnavailableError(Exception):
    """The queue did not confirm a publish in time (server down or restarting)."""


def is_transient(err):
    """Errors that go away by themselves: server restarting, no JetStream leader yet, timeouts."""
    if isinstance(err, NatsError):
        return err.code in ("TIMEOUT", "503", "DISCONNECT")
    if isinstance(err, JsApiError):
        return err.code == 503
    return False


async def api(nc, subject, body=None, timeout=5.0):
    """One JetStream API request (`$JS.API.<subject>`); raises JsApiError on an error answer."""
    payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    msg = await nc.request(f"{API}.{subject}", payload, timeout=timeout)
    try:
        reply = json.loads(msg.data)
    except ValueError:
        raise JsApiError(f"unreadable JetStream answer to {subject}") from None
    error = reply.get("error") if isinstance(reply, dict) else None
    if error:
        raise JsApiError(error.get("description", "JetStream error"), error.get("code"), error.get("err_code"))
    return reply


# -- streams and consumers ---------------------------------------------------------------------


def _common_stream(c):
    return {
        "retention": "limits",
        "storage": "file",
        "max_age": nanos(c["maxAgeMs"]),
        "max_bytes": c["maxBytes"],
        "num_replicas": c["replicas"],
        # Never drop old unconsumed messages to make room: refuse new ones.
        "discard": "new",
        "duplicate_window": nanos(min(DUPLICATE_WINDOW_MS, c["maxAgeMs"])),
    }


def stream_configs(c):
    """The topics stream, the calls stream and the call-state bucket's stream (resources.ts)."""
    bucket = c["callsBucket"]
    return [
        {"name": c["topicsStream"], "subjects": [f"{c['topicsPrefix']}.>"], **_common_stream(c)},
        {"name": c["callsStream"], "subjects": [f"{c['asyncPrefix']}.>", f"{c['cronPrefix']}.>"], **_common_stream(c)},
        {
            "name": f"KV_{bucket}", "subjects": [f"$KV.{bucket}.>"], "retention": "limits", "storage": "file",
            "max_msgs_per_subject": 1, "max_age": nanos(c["callStateTtlMs"]), "max_bytes": c["maxBytes"],
            "num_replicas": c["replicas"], "discard": "new", "allow_rollup_hdrs": True, "deny_delete": True,
            "allow_direct": True, "duplicate_window": nanos(min(DUPLICATE_WINDOW_MS, c["callStateTtlMs"])),
        },
    ]


async def ensure_stream(nc, wanted):
    """Creates the stream when missing. A function never updates one (its NATS user may not: the
    router updates stream limits when it starts), so an existing stream is left as it is."""
    for attempt in range(4):
        try:
            return await api(nc, f"STREAM.INFO.{wanted['name']}")
        except JsApiError as err:
            if err.err_code != STREAM_NOT_FOUND:
                raise
        try:
            return await api(nc, f"STREAM.CREATE.{wanted['name']}", wanted)
        except JsApiError as err:
            # Another process created it between our info and create: read it back.
            if err.err_code != STREAM_NAME_IN_USE or attempt == 3:
                raise
    return None


async def ensure_queue_resources(nc, config):
    for wanted in stream_configs(config):
        await ensure_stream(nc, wanted)


def stream_of(config, kind):
    return config["topicsStream"] if kind == "topic" else config["callsStream"]


def consumer_config(sub):
    """The durable consumer of one subscription (resources.ts consumerConfig): explicit acks, the
    server's max_deliver unlimited (our consumer counts attempts and dead-letters), ordered = one
    unacknowledged message across all replicas."""
    return {
        "durable_name": sub["durable"],
        "ack_policy": "explicit",
        "ack_wait": nanos(sub["ackWaitMs"]),
        "max_deliver": -1,
        "filter_subject": sub["subject"],
        "deliver_policy": "all",
        "replay_policy": "instant",
        "max_ack_pending": 1 if sub["ordered"] else max(1000, sub["maxInFlight"] * 10),
    }


UPDATABLE_CONSUMER_FIELDS = ("ack_wait", "max_deliver", "max_ack_pending")


async def ensure_consumer(nc, stream, sub):
    wanted = consumer_config(sub)
    durable = sub["durable"]
    create = f"CONSUMER.CREATE.{stream}.{durable}.{wanted['filter_subject']}"
    for attempt in range(4):
        try:
            info = await api(nc, f"CONSUMER.INFO.{stream}.{durable}")
        except JsApiError as err:
            if err.err_code != CONSUMER_NOT_FOUND:
                raise
            info = None
        if info is None:
            try:
                return await api(nc, create, {"stream_name": stream, "config": wanted, "action": "create"})
            except JsApiError as err:
                raced = err.err_code in (CONSUMER_NAME_EXISTS, CONSUMER_ALREADY_EXISTS)
                if raced and attempt < 3:
                    continue
                raise
        current = info.get("config", {})
        if current.get("filter_subject") and current["filter_subject"] != wanted["filter_subject"]:
            raise ValueError(
                f"consumer {durable} on stream {stream} filters {current['filter_subject']!r}, not {wanted['filter_subject']!r}; "
                "durable names must be unique per function and subject (delete the old consumer to reuse the name)"
            )
        changes = {k: wanted[k] for k in UPDATABLE_CONSUMER_FIELDS if current.get(k) != wanted[k]}
        if not changes:
            return info
        return await api(nc, create, {"stream_name": stream, "config": {**current, **changes}, "action": "update"})
    return None


# -- publishing --------------------------------------------------------------------------------


async def publish_acked(nc, subject, data, headers=None, timeout=5.0):
    """One publish whose answer is the stream's PubAck; returns it (a dict with stream, seq)."""
    msg = await nc.request(subject, data, headers=headers, timeout=timeout)
    try:
        ack = json.loads(msg.data)
    except ValueError:
        raise JsApiError(f"publish to {subject}: unreadable PubAck") from None
    error = ack.get("error") if isinstance(ack, dict) else None
    if error:
        raise JsApiError(f"publish to {subject}: {error.get('description', 'JetStream error')}", error.get("code"), error.get("err_code"))
    if not isinstance(ack, dict) or not ack.get("stream"):
        raise JsApiError(f"publish to {subject}: invalid PubAck")
    return ack


async def publish_durably(nc, subject, data, headers, msg_id, timeout=DEFAULT_PUBLISH_TIMEOUT):
    """Publishes and returns only with the stream's PubAck (the message is stored). Transient
    failures are retried with the same Nats-Msg-Id until `timeout`, so a retry after a lost PubAck
    cannot store a duplicate (publisher.ts publishDurably)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    block = list(headers) + [(MSG_ID, msg_id)]
    last = None
    attempt = 0
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            return await publish_acked(nc, subject, data, block, timeout=max(0.25, min(remaining, 2.0)))
        except (NatsError, JsApiError) as err:
            last = err
            if not is_transient(err):
                raise
        await asyncio.sleep(min(max(0.0, deadline - loop.time()), min(0.1 * 2 ** attempt, 1.0)))
        attempt += 1
    raise QueueUnavailableError(f"publish to {subject} not confirmed: {last or 'timed out'}")


# -- pulled messages ---------------------------------------------------------------------------

ACK = b"+ACK"
NAK = b"-NAK"
TERM = b"+TERM"
WPI = b"+WPI"


class PulledMessage:
    """A message our pull session received, acknowledged on its reply subject
    `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time ns>.<pending>`
    (newer servers insert a domain and an account hash after `$JS.ACK`, and may add a token).
    After ack, nak or term, further acknowledgements are ignored."""

    __slots__ = ("msg", "stream", "delivery_count", "seq", "timestamp_ns", "_settled")

    def __init__(self, msg):
        self.msg = msg
        tokens = (msg.reply or "").split(".")
        at = 2 if len(tokens) == 9 else 4
        if len(tokens) < at + 7 or tokens[0] != "$JS" or tokens[1] != "ACK":
            raise ValueError(f"not a JetStream delivery (reply subject {msg.reply!r})")
        self.stream = tokens[at]
        self.delivery_count = int(tokens[at + 2])
        self.seq = int(tokens[at + 3])
        self.timestamp_ns = int(tokens[at + 5])
        self._settled = False

    @property
    def subject(self):
        return self.msg.subject

    @property
    def data(self):
        return self.msg.data

    def ack(self):
        self._settle(ACK)

    def nak(self, delay_ms=0):
        """Redeliver after `delay_ms` (at once when 0)."""
        self._settle(b'-NAK {"delay":%d}' % nanos(round(delay_ms)) if delay_ms > 0 else NAK)

    def term(self):
        self._settle(TERM)

    def working(self):
        """Restarts the ack wait: still working on it."""
        if not self._settled:
            self._respond(WPI)

    def _settle(self, payload):
        if self._settled:
            return
        self._settled = True
        self._respond(payload)

    def _respond(self, payload):
        try:
            self.msg.respond(payload)
        except NatsError:
            pass  # closed: the server redelivers after the ack wait


HEARTBEAT_STATUS = "100"
PENDING_MESSAGES = "nats-pending-messages"


class PullSession:
    """Pull requests for one durable consumer, answered on one inbox subscription (pull-session.ts):
    the owner decides how many messages to ask for (`pull(n)`), which bounds its local buffer;
    `pending` counts those asked for and not delivered. A request that expires answers 408 with
    `Nats-Pending-Messages` (what it will not send); requests carry an idle heartbeat, and when
    neither messages nor heartbeats arrive for two intervals, or after a reconnect, the server no
    longer has our requests: `pending` is reset and the owner told (`on_lost`)."""

    def __init__(self, nc, stream, durable, expires_ms, on_message, on_lost, on_room):
        self.nc = nc
        self.inbox = nc.new_inbox()
        self.subject = f"{API}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.expires_ms = expires_ms
        self.heartbeat_ms = max(500, min(5000, expires_ms // 2))
        self.on_message = on_message
        self.on_lost = on_lost
        self.on_room = on_room
        self.pending = 0
        self.closed = False
        self._sid = None
        self._monitor = None
        self._loop = None
        self._last_heard = 0.0

    def start(self):
        self._loop = asyncio.get_running_loop()
        self._last_heard = self._loop.time()
        self._sid = self.nc.subscribe(self.inbox, self._received)
        self.nc.add_listener(self._status)
        self._monitor = self._loop.call_later(self.heartbeat_ms / 1000, self._check_heartbeat)

    @property
    def usable(self):
        return not self.closed and self.nc.connected

    def pull(self, n):
        if n <= 0 or not self.usable:
            return
        if self.pending == 0:
            self._last_heard = self._loop.time()
        self.pending += n
        request = {"batch": n, "expires": nanos(self.expires_ms), "idle_heartbeat": nanos(self.heartbeat_ms)}
        try:
            self.nc.publish(self.subject, json.dumps(request, separators=(",", ":")).encode(), reply=self.inbox)
        except NatsError as err:
            self.pending -= n
            self._lost(f"pull request failed: {err}", False)

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self._monitor is not None:
            self._monitor.cancel()
        self.nc.remove_listener(self._status)
        if self._sid is not None:
            self.nc.unsubscribe(self._sid)

    def _received(self, msg):
        if self.closed:
            return
        self._last_heard = self._loop.time()
        if msg.subject != self.inbox:
            # A message: it fills one unit of the oldest open request.
            if self.pending > 0:
                self.pending -= 1
            self.on_message(PulledMessage(msg))
            return
        code = msg.status or ""
        if code == HEARTBEAT_STATUS:
            return
        try:
            left = int(msg.header(PENDING_MESSAGES) or 0)
        except ValueError:
            left = 0
        if left > 0:
            # A request ended (expired 408, or cut short 409) with `left` messages unsent.
            self.pending = max(0, self.pending - left)
            self.on_room()
            return
        description = msg.description.lower()
        if code == "404" or (code == "408" and "timeout" in description):
            return
        # 409 consumer deleted, 503 no responders, 400 bad request, …: what we asked for will not come.
        self._lost(f"pull refused: {code} {msg.description}".strip(), code in ("409", "503"))

    def _check_heartbeat(self):
        self._monitor = None
        if self.closed:
            return
        if self.nc.connected and self.pending > 0 and self._loop.time() - self._last_heard > 2 * self.heartbeat_ms / 1000:
            self._lost("pull heartbeats missed", True)
        self._monitor = self._loop.call_later(self.heartbeat_ms / 1000, self._check_heartbeat)

    def _lost(self, reason, consumer_may_be_gone):
        if self.closed:
            return
        self.pending = 0
        self._last_heard = self._loop.time()
        self.on_lost(reason, consumer_may_be_gone)

    def _status(self, kind):
        # Requests die with the connection: after a reconnect everything is asked for again.
        if kind == "disconnect":
            self.pending = 0
        elif kind == "reconnect":
            self._lost("reconnected", True)
