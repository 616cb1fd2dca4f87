"""A JetStream pull consumer for one subscription, with the Node consumer's rules (src/queue/consumer.ts):

- at most `maxInFlight` handlers run at once, and at most that many more messages are asked for
  (a bounded prefetch: nothing sits in a local buffer while its ack wait runs out);
- ack only after the handler, its reply (PubAck awaited) and the async-call bookkeeping succeeded;
- a failed attempt is NAKed with the backoff delay of its attempt (the last delay repeats);
- messages being worked on are kept in progress (`+WPI`) every third of the ack wait;
- after the last attempt the message goes to the dead-letter subject (PubAck awaited), then `+TERM`;
  a delivery past the last attempt (its run died with its process) is dead-lettered without a run;
- stop(): no more pulls, messages not started are NAKed, running handlers get the grace period.
"""

import asyncio
import collections
import math
import time

import kubefaas_headers as H
from kubefaas_jetstream import api, ensure_consumer, publish_durably, stream_of
from kubefaas_pull import PullSession
from kubefaas_log import iso_now
from kubefaas_queue_event import QueueEvent

MAX_REMEMBERED_ERRORS = 1000


class PlatformError(Exception):
    """An error whose message the platform wrote itself (a timeout, a lost attempt): safe to show
    in a call state, unlike a handler's own message."""


class AttemptFailure:
    __slots__ = ("message", "from_handler")

    def __init__(self, message, from_handler):
        self.message = message
        self.from_handler = from_handler


class Reply:
    """A handler's result as a message: published to `responseSubject`, kept as an async call's result."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> str
        self.body = body


NO_CONTENT = Reply(204, {}, b"")


class Delivery:
    """Per-attempt facts a handler may use; `abort` (timeout, stop) cancels the handler's task."""

    __slots__ = ("attempt", "max_attempts", "deadline", "subscription", "reason", "task", "_listeners")

    def __init__(self, attempt, max_attempts, deadline, subscription):
        self.attempt = attempt
        self.max_attempts = max_attempts
        self.deadline = deadline  # epoch seconds
        self.subscription = subscription
        self.reason = None
        self.task = None
        self._listeners = []

    @property
    def aborted(self):
        return self.reason is not None

    def on_abort(self, listener):
        if self.reason is not None:
            listener(self.reason)
        else:
            self._listeners.append(listener)

    def abort(self, reason):
        if self.reason is not None:
            return
        self.reason = reason
        for listener in self._listeners:
            try:
                listener(reason)
            except Exception:  # noqa: BLE001 - the attempt still fails on time
                pass
        self._listeners = []
        if self.task is not None and not self.task.done():
            self.task.cancel()


def error_message(err):
    return str(err) or type(err).__name__


def one_line(text):
    flat = " ".join(part for part in text.replace("\r", "\n").split("\n") if part)
    return flat if len(flat) <= 1024 else flat[:1021] + "..."


class QueueConsumer:
    def __init__(self, nc, function_name, sub, config, handler, metrics, log, hooks=None, handler_timeout_ms=None, fetch_expires_ms=5000):
        self.nc = nc
        self.function_name = function_name
        self.sub = sub
        self.stream = stream_of(config, sub["kind"])
        self.handler = handler
        self.metrics = metrics
        self.log = log
        self.hooks = hooks
        self.max_attempts = sub["maxRetries"] + 1
        self.handler_timeout_ms = handler_timeout_ms if handler_timeout_ms is not None else sub["ackWaitMs"]
        self.fetch_expires_ms = max(1000, fetch_expires_ms)
        self.max_in_flight = 1 if sub["ordered"] else sub["maxInFlight"]
        # Prefetch at most one more window (their ack wait runs while they wait); ask again once half is free.
        self.window = 1 if sub["ordered"] else 2 * self.max_in_flight
        self.refill_at = max(1, math.ceil(self.window / 2))
        self.counters = metrics.for_trigger(function_name, sub["trigger"])
        self.session = None
        self.stopping = False
        self.recovering = False
        self.recover_delay = 0.25
        self.in_flight = 0
        self.waiting = collections.deque()
        self.active = set()
        self.in_progress = {}
        self.failed_errors = collections.OrderedDict()
        self._waiters = []
        self._ticker = None
        self._untrack_lag = None
        self._stopped = None
        self._loop = None

    async def start(self):
        """Creates (or updates) the durable consumer and starts pulling."""
        self._loop = asyncio.get_running_loop()
        await ensure_consumer(self.nc, self.stream, self.sub)
        self._untrack_lag = self.metrics.track_lag(self.function_name, self.sub["trigger"], self._read_lag)
        every = max(0.25, self.sub["ackWaitMs"] / 3000)
        self._ticker = self._loop.call_later(every, self._keep_in_progress, every)
        self.session = PullSession(
            self.nc, self.stream, self.sub["durable"], self.fetch_expires_ms,
            self._received, self._lost, self._pull_more,
        )
        self.session.start()
        self._pull_more()

    async def _read_lag(self):
        info = await api(self.nc, f"CONSUMER.INFO.{self.stream}.{self.sub['durable']}", timeout=2.0)
        return info.get("num_pending", 0) + info.get("num_ack_pending", 0)

    def _keep_in_progress(self, every):
        """Tells the server "still working" for messages held longer than a third of the ack wait."""
        now = self._loop.time()
        for msg, since in list(self.in_progress.items()):
            if now - since >= every:
                msg.working()
                self.in_progress[msg] = now
        if not self.stopping:
            self._ticker = self._loop.call_later(every, self._keep_in_progress, every)

    def stop(self, grace):
        """Stops pulling, hands back messages not started, waits for running handlers up to `grace` s."""
        if self._stopped is None:
            self._stopped = asyncio.ensure_future(self._stop(grace))
        return self._stopped

    async def _stop(self, grace):
        self.stopping = True
        if self._untrack_lag is not None:
            self._untrack_lag()
        if self.session is not None:
            self.session.close()
        # Not started: let another replica take them now rather than after the ack wait.
        while self.waiting:
            msg = self.waiting.popleft()
            self.in_progress.pop(msg, None)
            msg.nak()
        self._wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.in_flight > 0 and loop.time() < deadline:
            await self._changed(max(0.001, deadline - loop.time()))
        # Whatever still runs past the grace period is abandoned: its ack wait expires and it is redelivered.
        stopped = PlatformError("consumer stopped")
        for delivery in list(self.active):
            delivery.abort(stopped)
        if self._ticker is not None:
            self._ticker.cancel()

    def _pull_more(self):
        session = self.session
        if session is None or self.stopping or self.recovering:
            return
        room = self.window - self.in_flight - len(self.waiting) - session.pending
        if room >= self.refill_at:
            session.pull(room)

    def _received(self, msg):
        if self.stopping:
            msg.nak()
            return
        # Ours from now on: kept in progress while it waits for a slot, too.
        self.in_progress[msg] = self._loop.time()
        self.waiting.append(msg)
        self._start_waiting()

    def _start_waiting(self):
        while self.in_flight < self.max_in_flight and self.waiting and not self.stopping:
            msg = self.waiting.popleft()
            self.in_flight += 1
            self._loop.create_task(self._process(msg)).add_done_callback(self._finished)

    def _finished(self, task):
        self.in_flight -= 1
        if not task.cancelled() and task.exception() is not None:
            self.log.error("queue delivery failed unexpectedly", subject=self.sub["subject"], error=task.exception())
        if self.stopping:
            self._wake()
            return
        self.recover_delay = 0.25
        self._start_waiting()
        self._pull_more()

    def _lost(self, reason, consumer_may_be_gone):
        if not self.recovering and not self.stopping:
            self._loop.create_task(self._recover(reason, consumer_may_be_gone))

    async def _recover(self, reason, consumer_may_be_gone):
        """Pulls were lost: wait a little, recreate the consumer if it may be gone, pull again."""
        if self.recovering or self.stopping:
            return
        self.recovering = True
        self.log.warn("queue pull interrupted, pulling again", subject=self.sub["subject"], reason=reason)
        try:
            while True:
                await self._changed(self.recover_delay)
                self.recover_delay = min(self.recover_delay * 2, 5.0)
                if self.stopping:
                    return
                if not consumer_may_be_gone:
                    break
                try:
                    # The server may have lost the consumer (a new, empty store): make sure it exists.
                    await ensure_consumer(self.nc, self.stream, self.sub)
                    break
                except Exception as err:  # noqa: BLE001 - retried with a growing delay
                    self.log.warn("queue consumer not available, retrying", subject=self.sub["subject"], error=error_message(err))
        finally:
            self.recovering = False
        self._pull_more()

    async def _process(self, msg):
        counters = self.counters
        delivered = msg.delivery_count
        attempt = delivered
        if delivered > 1:
            counters.redeliveries += 1
        try:
            event = QueueEvent(msg, self.sub, self.function_name)
            hooks = self.hooks
            # Attempts = handler runs where the hooks record them (async calls), else deliveries.
            if delivered > 1 and hooks is not None and hasattr(hooks, "attempt_of"):
                attempt = await hooks.attempt_of(event, delivered)
            if attempt > self.max_attempts:
                # The last attempt never reported back (process died, ack wait expired): give up now.
                error = self.failed_errors.get(msg.seq) or AttemptFailure(
                    f"attempt {attempt - 1} did not finish (process stopped or ack wait expired)", False
                )
                await self._give_up(msg, event, error, min(attempt - 1, self.max_attempts))
                return
            if hooks is not None and not await hooks.before_attempt(event, attempt):
                msg.ack()
                counters.ack += 1
                return
            try:
                reply = await self._run_handler(event, attempt)
            except Exception as err:  # noqa: BLE001 - the handler failed: retry, then dead-letter
                failure = AttemptFailure(error_message(err), not isinstance(err, PlatformError))
                await self._fail_attempt(msg, event, failure, attempt)
                return
            reply = reply or NO_CONTENT
            if self.sub.get("responseSubject"):
                await self._publish_reply(event, reply)
            if hooks is not None:
                await hooks.succeeded(event, reply, attempt)
            msg.ack()
            counters.ack += 1
        except Exception as err:  # noqa: BLE001 - our own bookkeeping failed: retry the delivery
            self.log.warn(
                "queue delivery bookkeeping failed, will be redelivered",
                subject=msg.subject, sequence=msg.seq, attempt=attempt, error=error_message(err),
            )
            msg.nak(self._backoff(attempt))
            counters.retry += 1
        finally:
            self.in_progress.pop(msg, None)

    async def _run_handler(self, event, attempt):
        """Runs the handler against its timeout; past it the handler's task is cancelled (a sync
        handler's thread runs on, its result ignored) and the attempt fails."""
        timeout = self.handler_timeout_ms / 1000
        delivery = Delivery(attempt, self.max_attempts, time.time() + timeout, self.sub)
        task = asyncio.ensure_future(self.handler(event, delivery))
        delivery.task = task
        self.active.add(delivery)
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        finally:
            self.active.discard(delivery)
        if not done:
            err = PlatformError(f"handler timed out after {self.handler_timeout_ms} ms")
            delivery.abort(err)
            raise err
        if task.cancelled():
            raise delivery.reason or PlatformError("handler cancelled")
        err = task.exception()
        if err is not None:
            if not isinstance(err, Exception):  # SystemExit and the like must not stop the runtime
                raise RuntimeError(f"handler raised {type(err).__name__}: {err}")
            raise err
        return task.result()

    async def _fail_attempt(self, msg, event, error, attempt):
        if attempt < self.max_attempts:
            if self.hooks is not None:
                await self.hooks.retrying(event, error, attempt)
            msg.nak(self._backoff(attempt))
            self.counters.retry += 1
            return
        self._remember_error(msg.seq, error)
        await self._give_up(msg, event, error, attempt)

    async def _give_up(self, msg, event, error, attempts):
        """After the last attempt: dead-letter (stored before we let go of the message), record, terminate."""
        dlq = self.sub.get("deadLetterSubject")
        if dlq:
            kind = self.sub["kind"]
            headers = [(k, v) for k, v in msg.msg.headers if H.kept_on_dead_letter(k, kind)]
            headers += [
                (H.ERROR, one_line(error.message)),
                (H.ATTEMPTS, str(attempts)),
                (H.FUNCTION, self.function_name),
                (H.TRIGGER, self.sub["trigger"]),
                (H.ORIGINAL_SUBJECT, msg.subject),
                (H.ORIGINAL_STREAM, msg.stream),
                (H.ORIGINAL_SEQUENCE, str(msg.seq)),
            ]
            # Raises when not confirmed: the message is NAKed and dead-lettered on its redelivery.
            await publish_durably(self.nc, dlq, msg.data, headers, f"dlq-{msg.stream}-{msg.seq}")
        if self.hooks is not None:
            await self.hooks.failed(event, error, attempts)
        self.log.error(
            "queue message dead-lettered after the last attempt",
            subject=msg.subject, sequence=msg.seq, id=event.id, attempts=attempts,
            error=error.message, deadLetterSubject=dlq,
        )
        msg.term()
        self.failed_errors.pop(msg.seq, None)
        self.counters.dead_letters += 1
        self.counters.dead_letter += 1

    async def _publish_reply(self, event, reply):
        traceparent = event.traceparent
        ours = {
            H.STATUS: str(reply.status),
            H.FUNCTION: self.function_name,
            H.CE_SPEC_VERSION: H.CLOUDEVENTS_SPEC_VERSION,
            H.CE_ID: f"{event.id}-response",
            H.CE_TYPE: H.RESPONSE_TYPE,
            H.CE_SOURCE: f"/kubefaas/function/{self.function_name}",
            H.CE_TIME: iso_now(),
        }
        if traceparent:
            ours[H.TRACEPARENT] = traceparent
        headers = [(k, v) for k, v in reply.headers.items() if H.is_user_header(k) and k not in ours]
        headers += list(ours.items())
        # Stable id: a redelivered message that succeeds again does not publish a second response.
        await publish_durably(self.nc, self.sub["responseSubject"], reply.body, headers, f"{event.id}-response")

    def _backoff(self, attempt):
        steps = self.sub["backoffMs"]
        if not steps:
            return 0
        return steps[min(attempt - 1, len(steps) - 1)]

    def _remember_error(self, seq, error):
        if len(self.failed_errors) >= MAX_REMEMBERED_ERRORS:
            self.failed_errors.popitem(last=False)
        self.failed_errors[seq] = error

    def _wake(self):
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    async def _changed(self, seconds):
        """Returns on the next state change (a handler finished, stop) or after `seconds`."""
        future = self._loop.create_future()
        self._waiters.append(future)
        handle = self._loop.call_later(seconds, lambda: future.done() or future.set_result(None))
        try:
            await future
        finally:
            handle.cancel()
