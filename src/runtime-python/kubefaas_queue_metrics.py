"""The queue's Prometheus metrics, with the names, labels and help texts of the Node runtime's
(src/queue/metrics.ts; names from src/contract/metrics.ts, documented in docs/metrics.md)."""

import asyncio

from kubefaas_metrics import label_value

DELIVERIES = "kubefaas_queue_deliveries_total"
RETRIES = "kubefaas_queue_retries_total"
DEAD_LETTERS = "kubefaas_queue_dead_letters_total"
CONSUMER_LAG = "kubefaas_queue_consumer_lag_messages"
ASYNC_CALLS = "kubefaas_async_calls_total"

# Lag reads older than this are refreshed at the next scrape.
LAG_MAX_AGE = 1.0


class TriggerCounters:
    """One consumer's counts: plain integers on the hot path, rendered at scrape time."""

    __slots__ = ("ack", "retry", "dead_letter", "redeliveries", "dead_letters")

    def __init__(self):
        self.ack = 0
        self.retry = 0
        self.dead_letter = 0
        #: deliveries after the first (attempt > 1)
        self.redeliveries = 0
        self.dead_letters = 0


class QueueMetrics:
    def __init__(self):
        self._triggers = {}
        self._calls = {}
        self._lag_readers = {}
        self._lag = {}
        self._lag_read_at = None
        self._lag_reading = None

    def for_trigger(self, fn, trigger):
        """The counts of one consumer (created on first use, so its series are exported as zeros too)."""
        counts = self._triggers.get((fn, trigger))
        if counts is None:
            counts = self._triggers[(fn, trigger)] = TriggerCounters()
        return counts

    def async_call(self, fn, state):
        self._calls[(fn, state)] = self._calls.get((fn, state), 0) + 1

    def track_lag(self, fn, trigger, read):
        """`read()` (a coroutine function) returns a consumer's pending + unacknowledged messages."""
        self._lag_readers[(fn, trigger)] = read

        def untrack():
            self._lag_readers.pop((fn, trigger), None)

        return untrack

    def render(self):
        """The exposition text. The lag is read from the server in the background at scrape time
        (the render cannot wait for it): each scrape shows what the previous one started to read."""
        self._refresh_lag()
        out = []

        def counter(name, help_text, rows):
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} counter")
            out.extend(rows)
            out.append("")

        triggers = [(label_value(fn), label_value(t), c) for (fn, t), c in self._triggers.items()]
        counter(
            DELIVERIES,
            "Messages handed to a function by its JetStream consumer, by outcome (ack, retry, dead_letter).",
            [
                f'{DELIVERIES}{{function="{fn}",trigger="{t}",outcome="{outcome}"}} {value}'
                for fn, t, c in triggers
                for outcome, value in (("ack", c.ack), ("retry", c.retry), ("dead_letter", c.dead_letter))
            ],
        )
        counter(
            RETRIES, "Redeliveries after a failed or timed-out attempt.",
            [f'{RETRIES}{{function="{fn}",trigger="{t}"}} {c.redeliveries}' for fn, t, c in triggers],
        )
        counter(
            DEAD_LETTERS,
            "Messages given up on after the last retry (published to the dead-letter subject when one is set).",
            [f'{DEAD_LETTERS}{{function="{fn}",trigger="{t}"}} {c.dead_letters}' for fn, t, c in triggers],
        )
        counter(
            ASYNC_CALLS, "Async calls entering a state: queued, running, succeeded, failed.",
            [f'{ASYNC_CALLS}{{function="{label_value(fn)}",state="{s}"}} {n}' for (fn, s), n in self._calls.items()],
        )
        out.append(f"# HELP {CONSUMER_LAG} Messages waiting for (pending) or being handled by (unacknowledged) the function consumer.")
        out.append(f"# TYPE {CONSUMER_LAG} gauge")
        for (fn, t), value in self._lag.items():
            if (fn, t) in self._lag_readers:
                out.append(f'{CONSUMER_LAG}{{function="{label_value(fn)}",trigger="{label_value(t)}"}} {value}')
        return "\n".join(out) + "\n"

    def _refresh_lag(self):
        if not self._lag_readers or self._lag_reading is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._lag_read_at is not None and loop.time() - self._lag_read_at < LAG_MAX_AGE:
            return
        self._lag_reading = loop.create_task(self._read_lag(loop))

    async def _read_lag(self, loop):
        try:
            readers = list(self._lag_readers.items())
            results = await asyncio.gather(*(read() for _, read in readers), return_exceptions=True)
            for (key, _), value in zip(readers, results):
                if isinstance(value, int):  # a failed read keeps the last known value
                    self._lag[key] = value
        finally:
            self._lag_read_at = loop.time()
            self._lag_reading = None

    async def read_lag_now(self):
        """Reads every consumer's lag once (when the consumers start, so the first scrape has it)."""
        if self._lag_reading is None:
            self._lag_reading = asyncio.get_running_loop().create_task(self._read_lag(asyncio.get_running_loop()))
        await self._lag_reading
