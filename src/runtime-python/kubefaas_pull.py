"""Pulled messages and pull requests of one durable consumer, as the Node side has them
(src/queue/pulled-message.ts, pull-session.ts): the same ack payloads, the same pull requests
(`$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>` with batch, expires and an idle heartbeat).
"""

import asyncio
import json

from kubefaas_jetstream import API, nanos
from kubefaas_nats import NatsError

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
