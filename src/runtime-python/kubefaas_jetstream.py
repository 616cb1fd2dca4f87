"""JetStream over the NATS client: the API calls, streams and durable consumers created idempotently,
and publishes confirmed by a PubAck (pulled messages are kubefaas_pull.py's).

The reference is the Node side (src/queue/resources.ts, publisher.ts): the same stream and consumer
configurations and the same API subjects (which are what the NATS users' permissions allow,
constructs/queue/nats-auth.ts).
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
