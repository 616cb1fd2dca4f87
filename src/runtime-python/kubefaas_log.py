"""One-line JSON logs, the same fields as the Node runtime's (docs/logging.md)."""

import json
import os
import sys
import threading
import time
import traceback

# Same batching as the Node runtime's LogSink: at most FLUSH_DELAY after the first line of a batch,
# or at once past MAX_BATCH_CHARS; one write(2) for many request lines under load.
FLUSH_DELAY = 0.010
MAX_BATCH_CHARS = 64 * 1024

_iso_cache = [0, ""]

# JSON as JavaScript's JSON.stringify writes it: no spaces, non-ASCII characters as they are.
to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def iso_now():
    """RFC 3339 UTC time with milliseconds, like JavaScript's toISOString()."""
    ms = int(time.time() * 1000)
    if ms != _iso_cache[0]:
        seconds, millis = divmod(ms, 1000)
        _iso_cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".%03dZ" % millis
        _iso_cache[0] = ms
    return _iso_cache[1]


def iso_of(epoch_seconds):
    return iso_of_ms(int(epoch_seconds * 1000))


def iso_of_ms(epoch_ms):
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".%03dZ" % millis


class LogSink:
    """Collects JSON lines and writes them to fd 1 in batches. Safe to call from handler threads."""

    def __init__(self, fd=1):
        self._fd = fd
        self._pending = []
        self._chars = 0
        self._lock = threading.Lock()
        self._scheduled = False
        self._loop = None
        self._loop_thread = None

    def attach(self, loop):
        """Batch through `loop` from now on (before that, every line is written at once)."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def line(self, text):
        with self._lock:
            self._pending.append(text)
            self._chars += len(text) + 1
            flush_now = self._loop is None or self._chars > MAX_BATCH_CHARS
            schedule = not flush_now and not self._scheduled
            if schedule:
                self._scheduled = True
        if flush_now:
            self.flush()
        elif schedule:
            if threading.get_ident() == self._loop_thread:
                self._loop.call_later(FLUSH_DELAY, self.flush)
            else:
                try:
                    self._loop.call_soon_threadsafe(self._loop.call_later, FLUSH_DELAY, self.flush)
                except RuntimeError:  # the loop is closed: the process is exiting
                    self.flush()

    def flush(self):
        with self._lock:
            self._scheduled = False
            if not self._pending:
                return
            data = ("\n".join(self._pending) + "\n").encode("utf-8", "replace")
            self._pending = []
            self._chars = 0
            view = memoryview(data)
            while view:
                try:
                    written = os.write(self._fd, view)
                except BlockingIOError:
                    continue
                except OSError:
                    return  # stdout is gone; nothing sensible left to do with log lines
                view = view[written:]


def _default(value):
    if isinstance(value, BaseException):
        return error_fields(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


def error_fields(err):
    return {
        "name": type(err).__name__,
        "message": str(err),
        "stack": "".join(traceback.format_exception(type(err), err, err.__traceback__)).rstrip(),
    }


def json_fragment(fields):
    """`"key":value,...` of the fields every line of a logger carries (None values left out)."""
    return ",".join(to_json(k) + ":" + to_json(v) for k, v in fields.items() if v is not None)


class JsonLogger:
    """`context.log`: info/warn/error(msg, extra=None, **fields), one JSON line each."""

    __slots__ = ("_sink", "_base")

    def __init__(self, sink, base_fields):
        self._sink = sink
        self._base = base_fields

    def info(self, msg, extra=None, **fields):
        self.write("info", msg, extra, fields)

    def warn(self, msg, extra=None, **fields):
        self.write("warn", msg, extra, fields)

    warning = warn

    def error(self, msg, extra=None, **fields):
        self.write("error", msg, extra, fields)

    def exception(self, msg, extra=None, **fields):
        """error() plus the exception being handled (inside an `except` block)."""
        err = sys.exc_info()[1]
        if err is not None:
            fields.setdefault("error", error_fields(err))
        self.write("error", msg, extra, fields)

    def write(self, level, msg, extra=None, fields=None):
        line = '{"level":"%s","time":"%s","msg":%s,%s' % (level, iso_now(), to_json(str(msg)), self._base)
        merged = dict(extra) if extra else {}
        if fields:
            merged.update(fields)
        if merged:
            try:
                text = json.dumps(merged, default=_default, separators=(",", ":"), ensure_ascii=False)
            except (TypeError, ValueError) as err:  # circular structures must not fail a request
                text = to_json({"logFieldsError": str(err)})
            if len(text) > 2:
                line += "," + text[1:-1]
        self._sink.line(line + "}")
