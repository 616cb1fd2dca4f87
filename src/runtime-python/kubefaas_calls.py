"""Async calls on the consumer side (src/queue/async-calls.ts, call-state.ts, callback-queue.ts):
their states in the call-state key-value bucket (`running` before each run, back to `queued` with
the error between retries, then `succeeded` with the result or `failed`), and the callback job
stored before the call is acked.

A state is a JSON document at `$KV.<bucket>.<call id>` (history 1), read with a direct get of the
bucket's stream; `GET /async-function/<name>/<id>` on the router returns it as it is.
"""

import base64
import json
import re

import kubefaas_headers as H
from kubefaas_jetstream import API, publish_acked, publish_durably
from kubefaas_log import iso_now

CALL_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
DEFAULT_MAX_RESULT_BYTES = 64 * 1024

# Headers that describe the hop, not the request (async-calls.ts HOP_HEADERS): never in a callback.
HOP_HEADERS = frozenset(
    ["connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "content-length", "host", "x-callback-url", H.HTTP_CALL_ID]
)


def public_error(failure, request_id, expose_messages):
    """The error stored in the call state and sent in the callback (src/queue/failure.ts): a handler's
    message may hold anything it had (a Secret's value), and the state is readable by whoever knows
    the call id, so only the platform's own messages are kept unless exposeErrorMessages is set."""
    if not failure.from_handler or expose_messages:
        return failure.message
    return f"the function failed; see its logs for request id {request_id}"


def to_call_result(status, headers, body, max_bytes=DEFAULT_MAX_RESULT_BYTES):
    """A reply as the state's bounded `result`: the body cut to `max_bytes`, base64 when not UTF-8."""
    truncated = len(body) > max_bytes
    kept = bytes(body[:max_bytes])
    try:
        text = kept.decode("utf-8")
        is_text = "\ufffd" not in text
    except UnicodeDecodeError:
        is_text = False
    return {
        "status": status,
        "headers": dict(headers),
        "body": text if is_text else base64.b64encode(kept).decode("ascii"),
        "bodyEncoding": "utf8" if is_text else "base64",
        "truncated": truncated,
    }


def _encode(state):
    return json.dumps({k: v for k, v in state.items() if v is not None}, separators=(",", ":"), ensure_ascii=False).encode()


class CallStateStore:
    def __init__(self, nc, config, timeout=5.0):
        self.nc = nc
        self.bucket = config["callsBucket"]
        self.stream = f"KV_{self.bucket}"
        self.timeout = timeout

    async def get(self, call_id):
        """The state, or None when unknown, expired or deleted."""
        if not CALL_ID_PATTERN.fullmatch(call_id or ""):
            return None
        msg = await self.nc.request(f"{API}.DIRECT.GET.{self.stream}.$KV.{self.bucket}.{call_id}", b"", timeout=self.timeout)
        if msg.status == "404":
            return None
        if msg.status:
            raise RuntimeError(f"reading call state {call_id}: status {msg.status} {msg.description}")
        operation = msg.header("kv-operation")
        if operation in ("DEL", "PURGE") or not msg.data:
            return None
        return json.loads(msg.data)

    async def put(self, state):
        """Overwrites the state; returns once the bucket's stream stored it."""
        call_id = state["callId"]
        if not CALL_ID_PATTERN.fullmatch(call_id):
            raise ValueError(f"invalid call id {call_id!r} for the call-state bucket")
        await publish_acked(self.nc, f"$KV.{self.bucket}.{call_id}", _encode(state), timeout=self.timeout)


class CallbackQueue:
    """Stores callback jobs on `<asyncPrefix>.<function>.callback` (PubAck awaited): a second pull
    consumer POSTs them with its own slots (kubefaas_callback.py), never holding a handler slot."""

    def __init__(self, nc, config, function_name, timeout):
        self.nc = nc
        self.subject = f"{config['asyncPrefix']}.{function_name}.callback"
        self.timeout = timeout

    async def enqueue(self, call_id, url, headers, body):
        job_headers = [
            (H.CALL_ID, call_id),
            (H.CALLBACK_URL, url),
            (H.HTTP_HEADERS, json.dumps(headers, separators=(",", ":"), ensure_ascii=False)),
        ]
        await publish_durably(self.nc, self.subject, body, job_headers, f"callback-{call_id}", timeout=self.timeout)


class AsyncCallHooks:
    """State transitions of async calls, written by the consumer around each delivery. A redelivered
    call whose state is already final is not run again; only a callback never stored is retried."""

    def __init__(self, store, function_name, metrics, callbacks, expose_error_messages=False, max_result_bytes=DEFAULT_MAX_RESULT_BYTES):
        self.store = store
        self.function_name = function_name
        self.metrics = metrics
        self.callbacks = callbacks
        self.expose = expose_error_messages
        self.max_result_bytes = max_result_bytes

    async def attempt_of(self, event, delivered):
        """Runs are counted in the state (`running` with its number is stored before each run), so a
        delivery lost before its handler ran costs no attempt, and a run that died with its process counts."""
        if delivered == 1:
            return 1
        previous = await self._current(event)
        event.call_state = previous  # the delivery is ours: before_attempt starts from this read
        if previous["state"] in ("succeeded", "failed"):
            return max(1, previous.get("attempts", 0))
        return previous.get("attempts", 0) + 1

    async def before_attempt(self, event, attempt):
        # A first delivery has only the router's `queued` state, which the message itself carries.
        if attempt == 1 and event.call_state is None:
            previous = self._from_event(event)
        else:
            previous = await self._current(event)
        if previous["state"] in ("succeeded", "failed"):
            if previous.get("callbackUrl") and not previous.get("callback"):
                await self._callback(previous)
            return False
        now = iso_now()
        running = {**previous, "state": "running", "attempts": attempt, "startedAt": previous.get("startedAt") or now, "updatedAt": now}
        await self.store.put(running)
        event.call_state = running
        self.metrics.async_call(self.function_name, "running")
        return True

    async def succeeded(self, event, reply, attempt):
        previous = await self._current(event)
        now = iso_now()
        done = {
            **previous, "state": "succeeded", "attempts": attempt, "updatedAt": now, "finishedAt": now, "error": None,
            "result": to_call_result(reply.status, reply.headers, reply.body, self.max_result_bytes),
        }
        await self.store.put(done)
        self.metrics.async_call(self.function_name, "succeeded")
        if done.get("callbackUrl"):
            await self._callback(done, reply)

    async def retrying(self, event, failure, attempt):
        previous = await self._current(event)
        error = public_error(failure, event.id, self.expose)
        await self.store.put({**previous, "state": "queued", "attempts": attempt, "error": error, "updatedAt": iso_now()})

    async def failed(self, event, failure, attempts):
        previous = await self._current(event)
        now = iso_now()
        error = public_error(failure, event.id, self.expose)
        done = {**previous, "state": "failed", "attempts": attempts, "error": error, "updatedAt": now, "finishedAt": now}
        await self.store.put(done)
        self.metrics.async_call(self.function_name, "failed")
        if done.get("callbackUrl"):
            await self._callback(done)

    async def _current(self, event):
        """The state this delivery last wrote, else the stored one, else one rebuilt from the message."""
        if event.call_state is not None:
            return event.call_state
        stored = await self.store.get(event.call_id or event.id)
        return stored if stored is not None else self._from_event(event)

    def _from_event(self, event):
        state = {
            "callId": event.call_id or event.id, "function": self.function_name, "state": "queued",
            "queuedAt": event.time, "updatedAt": event.time, "attempts": 0,
        }
        if event.callback_url:
            state["callbackUrl"] = event.callback_url
        return state

    async def _callback(self, state, reply=None):
        headers = {H.HTTP_CALL_ID: state["callId"], H.HTTP_FUNCTION: state["function"], H.CALLBACK_STATE: state["state"]}
        if state["state"] == "succeeded":
            result = state.get("result") or {}
            if reply is not None:
                headers[H.CALLBACK_STATUS] = str(reply.status)
                headers.update(_result_headers(reply.headers))
                body = reply.body
            else:
                headers[H.CALLBACK_STATUS] = str(result.get("status", 200))
                headers.update(_result_headers(result.get("headers") or {}))
                raw = result.get("body", "")
                body = base64.b64decode(raw) if result.get("bodyEncoding") == "base64" else raw.encode("utf-8")
        else:
            headers[H.CALLBACK_STATUS] = "500"
            headers["content-type"] = "application/json"
            document = {k: state.get(k) for k in ("callId", "function", "state", "error", "attempts")}
            body = _encode(document)
        # Stored before the call is acked (a failure NAKs the call, whose redelivery enqueues again).
        await self.callbacks.enqueue(state["callId"], state["callbackUrl"], headers, body)


def _result_headers(headers):
    return {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
