"""A small NATS client on asyncio (standard library only), for the queue side of the Python runtime.

It speaks the client protocol nats.js speaks for the Node runtime (src/queue/connection.ts): CONNECT
with the user and password the constructs render (QueueEnv.NATS_USER / NATS_PASSWORD), TLS checked
against the mounted CA when the queue has TLS, PING/PONG, SUB/UNSUB, PUB/HPUB, MSG/HMSG, requests
answered on one inbox under the user's own prefix (`_INBOX_<user>`: with queue isolation a user may
subscribe nowhere else), and reconnects forever with a growing delay.

While the connection is down, writes (acks, publishes) are kept and sent after the reconnect, as
nats.js does; requests waiting for an answer fail at once with code DISCONNECT, so their callers can
retry (a durable publish retries with the same Nats-Msg-Id and is stored once).

Everything here runs on the event loop thread.
"""

import asyncio
import json
import os
import re
import ssl
from urllib.parse import urlsplit

DEFAULT_PORT = 4222
PING_INTERVAL = 10.0  # as the Node runtime (pingInterval: 10 s)
MAX_PINGS_OUT = 2
CONNECT_TIMEOUT = 5.0
RECONNECT_FIRST_DELAY = 0.1
RECONNECT_MAX_DELAY = 2.0
# Output kept while disconnected (acks, publishes) before further writes fail.
MAX_PENDING_BYTES = 8 * 1024 * 1024
MAX_CONTROL_LINE = 64 * 1024
FLUSH_AT = 64 * 1024
# Consecutive authorization refusals before the first connection gives up (as nats.js does).
MAX_AUTH_REFUSALS = 2

_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII without ':' (what nats.js accepts)


class NatsError(Exception):
    """A failure of the connection or of a request; `code` is TIMEOUT, 503 (no responders),
    DISCONNECT, CONNECTION_CLOSED, MAX_PAYLOAD or AUTH."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


class Msg:
    """A received message. `headers` is a list of (name, value) as sent; `status` is set on status
    messages (`NATS/1.0 503`), which JetStream uses for "no responders", pull heartbeats, timeouts."""

    __slots__ = ("subject", "reply", "data", "_raw_headers", "_headers", "status", "description", "_client")

    def __init__(self, client, subject, reply, raw_headers, data):
        self._client = client
        self.subject = subject
        self.reply = reply
        self.data = data
        self._raw_headers = raw_headers
        self._headers = None
        self.status = None
        self.description = ""
        if raw_headers is not None:
            first = raw_headers[: raw_headers.find(b"\r\n")]
            parts = first.decode("utf-8", "replace").split(" ", 2)
            if len(parts) > 1 and parts[1]:
                self.status = parts[1]
                self.description = parts[2] if len(parts) > 2 else ""

    @property
    def headers(self):
        if self._headers is None:
            self._headers = parse_headers(self._raw_headers) if self._raw_headers is not None else []
        return self._headers

    def header(self, lower_name):
        """The first value of the first header whose name matches `lower_name` in any case, or None."""
        for name, value in self.headers:
            if name.lower() == lower_name:
                return value
        return None

    def respond(self, data):
        if self.reply:
            self._client.publish(self.reply, data)


def parse_headers(block):
    """`NATS/1.0[ status]\\r\\nName: value\\r\\n...\\r\\n\\r\\n` -> [(name, value)], as nats.js decodes it."""
    out = []
    text = block.decode("utf-8", "replace")
    for line in text.split("\r\n")[1:]:
        colon = line.find(":")
        if colon > 0:
            out.append((line[:colon], line[colon + 1:].strip()))
    return out


def encode_headers(headers):
    """The wire form of [(name, value)]; names and values checked as nats.js checks them."""
    parts = ["NATS/1.0\r\n"]
    for name, value in headers:
        value = str(value)
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"invalid NATS header name {name!r}")
        if "\r" in value or "\n" in value:
            raise ValueError(f"invalid value for NATS header {name}: CR and LF are not allowed")
        parts.append(f"{name}: {value.strip()}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


def parse_server(url):
    """`nats://host:port`, `tls://host:port` or `host[:port]` -> (tls, host, port)."""
    url = url.strip()
    if "://" not in url:
        url = "nats://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("nats", "tls") or not parts.hostname:
        raise ValueError(f"not a NATS server URL: {url!r} (expected nats://host:port)")
    return parts.scheme == "tls", parts.hostname, parts.port or DEFAULT_PORT


class NatsClient:
    def __init__(self, servers, name, log, user=None, password=None, ca_file=None):
        if not servers:
            raise ValueError("no NATS server URL")
        self.servers = [parse_server(s) for s in servers]
        self.name = name
        self.log = log
        self.user = user
        self.password = password
        self.ca_file = ca_file
        # Queue isolation: every user may subscribe only under its own prefix (contract inboxPrefixFor).
        self.inbox_prefix = f"_INBOX_{user}" if user else "_INBOX"
        self.connected = False
        self.closed = False
        self.max_payload = 1024 * 1024
        self._subs = {}
        self._next_sid = 0
        self._out = bytearray()
        self._flush_handle = None
        self._pending = bytearray()
        self._writer = None
        self._listeners = []
        self._requests = {}
        self._request_prefix = None
        self._next_token = 0
        self._pings_out = 0
        self._ping_handle = None
        self._first = None
        self._runner = None
        try:
            # Made on the loop (the runtime's serve()): writes and requests may come before connect().
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    # -- connection ------------------------------------------------------------------------------

    def add_listener(self, listener):
        """`listener(kind)` with kind "disconnect" or "reconnect"."""
        self._listeners.append(listener)

    def remove_listener(self, listener):
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def connect(self):
        """Connects (trying again until a server answers) and keeps reconnecting until close()."""
        self._loop = asyncio.get_running_loop()
        if self._first is None:
            self._first = self._loop.create_future()
            self._runner = self._loop.create_task(self._run())
        await asyncio.shield(self._first)

    async def _run(self):
        attempt = 0
        index = 0
        ever = False
        last_error_log = 0.0
        refused = 0
        while not self.closed:
            tls, host, port = self.servers[index % len(self.servers)]
            index += 1
            try:
                reader, writer = await self._open(tls, host, port)
            except (OSError, asyncio.TimeoutError, NatsError, ValueError, ssl.SSLError) as err:
                refused = refused + 1 if isinstance(err, NatsError) and err.code == "AUTH" else 0
                if not ever and refused >= MAX_AUTH_REFUSALS:
                    # Wrong credentials do not fix themselves: fail the start (the pod restarts, visibly).
                    self._first.set_exception(err)
                    return
                now = self._loop.time()
                if now - last_error_log > 30 or attempt == 0:
                    last_error_log = now
                    self.log.warn("cannot connect to NATS, retrying", server=f"{host}:{port}", error=str(err) or type(err).__name__)
                delay = min(RECONNECT_MAX_DELAY, RECONNECT_FIRST_DELAY * 2 ** min(attempt, 10))
                attempt += 1
                await asyncio.sleep(delay)
                continue
            attempt = 0
            self._connected(writer, reconnect=ever)
            if not ever:
                ever = True
                if not self._first.done():
                    self._first.set_result(None)
            else:
                self.log.info("reconnected to NATS", server=f"{host}:{port}")
            error = await self._read(reader)
            self._disconnected(writer)
            if not self.closed:
                self.log.warn("NATS connection lost, reconnecting", server=f"{host}:{port}", error=error)
                await asyncio.sleep(RECONNECT_FIRST_DELAY)

    async def _open(self, tls, host, port):
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=MAX_CONTROL_LINE), CONNECT_TIMEOUT
        )
        try:
            line = await asyncio.wait_for(reader.readuntil(b"\r\n"), CONNECT_TIMEOUT)
            if not line.startswith(b"INFO "):
                raise NatsError(f"unexpected greeting from {host}:{port}: {line[:80]!r}", "PROTOCOL")
            info = json.loads(line[5:])
            use_tls = tls or self.ca_file is not None or info.get("tls_required", False)
            if use_tls:
                if not (info.get("tls_required") or info.get("tls_available")):
                    raise NatsError(f"{host}:{port} does not offer TLS, which this client requires", "TLS")
                await asyncio.wait_for(writer.start_tls(self._tls_context(), server_hostname=host), CONNECT_TIMEOUT)
            options = {
                "verbose": False, "pedantic": False, "tls_required": bool(use_tls), "name": self.name,
                "lang": "python-kubefaas", "version": "1.0.0", "protocol": 1, "headers": True,
                "no_responders": True, "echo": True,
            }
            if self.user:
                options["user"] = self.user
                options["pass"] = self.password or ""
            writer.write(b"CONNECT " + json.dumps(options, separators=(",", ":")).encode() + b"\r\nPING\r\n")
            while True:
                line = await asyncio.wait_for(reader.readuntil(b"\r\n"), CONNECT_TIMEOUT)
                if line.startswith(b"PONG"):
                    break
                if line.startswith(b"-ERR"):
                    raise NatsError(f"server refused the connection: {line[5:].strip().decode('utf-8', 'replace')}", "AUTH")
                if line.startswith(b"PING"):
                    writer.write(b"PONG\r\n")
                elif line.startswith(b"INFO "):
                    info = json.loads(line[5:])
            self.max_payload = int(info.get("max_payload", self.max_payload))
            return reader, writer
        except BaseException:
            writer.close()
            raise

    def _tls_context(self):
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _connected(self, writer, reconnect):
        self._writer = writer
        self._pings_out = 0
        out = bytearray()
        for sid, (subject, _cb) in self._subs.items():
            out += b"SUB %s %d\r\n" % (subject.encode(), sid)
        out += self._pending
        self._pending = bytearray()
        if out:
            writer.write(bytes(out))
        self.connected = True
        self._ping_handle = self._loop.call_later(PING_INTERVAL, self._ping)
        if reconnect:
            self._notify("reconnect")

    def _disconnected(self, writer):
        was = self.connected
        self.connected = False
        self._writer = None
        if self._ping_handle is not None:
            self._ping_handle.cancel()
            self._ping_handle = None
        # What was not handed to the socket yet goes out after the reconnect.
        if self._out:
            self._pending += self._out
            self._out = bytearray()
        writer.close()
        for future in list(self._requests.values()):
            if not future.done():
                future.set_exception(NatsError("disconnected before the answer arrived", "DISCONNECT"))
        self._requests.clear()
        if was:
            self._notify("disconnect")

    def _notify(self, kind):
        for listener in list(self._listeners):
            try:
                listener(kind)
            except Exception as err:  # noqa: BLE001 - a listener must not stop the others
                self.log.error("NATS status listener failed", error=err)

    def _ping(self):
        self._ping_handle = None
        if not self.connected:
            return
        if self._pings_out >= MAX_PINGS_OUT:
            # No PONG for two intervals: the connection is stale (a server that vanished without a reset).
            self._writer.transport.abort()
            return
        self._pings_out += 1
        self._write(b"PING\r\n")
        self._ping_handle = self._loop.call_later(PING_INTERVAL, self._ping)

    async def _read(self, reader):
        """Reads and dispatches until the connection ends; returns why it ended."""
        buf = bytearray()
        try:
            while True:
                chunk = await reader.read(256 * 1024)
                if not chunk:
                    return "connection closed by the server"
                buf += chunk
                error = self._parse(buf)
                if error:
                    return error
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as err:
            return str(err) or type(err).__name__

    def _parse(self, buf):
        """Handles every complete protocol line/message at the start of `buf` (removing them)."""
        at = 0
        end = len(buf)
        while at < end:
            nl = buf.find(b"\r\n", at)
            if nl == -1:
                if end - at > MAX_CONTROL_LINE:
                    return "protocol line too long"
                break
            op = bytes(buf[at:at + 4]).upper()
            if op == b"MSG ":
                args = bytes(buf[at + 4:nl]).split()
                size = int(args[-1])
                if nl + 2 + size + 2 > end:
                    break
                payload = bytes(buf[nl + 2:nl + 2 + size])
                self._deliver(args, None, payload)
                at = nl + 2 + size + 2
            elif op == b"HMSG":
                args = bytes(buf[at + 5:nl]).split()
                header_size, total = int(args[-2]), int(args[-1])
                if nl + 2 + total + 2 > end:
                    break
                start = nl + 2
                self._deliver(args[:-1], bytes(buf[start:start + header_size]), bytes(buf[start + header_size:start + total]))
                at = start + total + 2
            else:
                line = bytes(buf[at:nl])
                at = nl + 2
                if line.startswith(b"PING"):
                    self._write(b"PONG\r\n")
                elif line.startswith(b"PONG"):
                    self._pings_out = 0
                elif line.startswith(b"INFO "):
                    try:
                        self.max_payload = int(json.loads(line[5:]).get("max_payload", self.max_payload))
                    except ValueError:
                        pass
                elif line.startswith(b"-ERR"):
                    message = line[5:].strip().decode("utf-8", "replace")
                    # Permission violations leave the connection open; anything else the server closes it after.
                    self.log.warn("NATS server error", error=message)
                # +OK is not sent (verbose false); anything else is ignored.
        del buf[:at]
        return None

    def _deliver(self, args, raw_headers, payload):
        # args: subject sid [reply] size (MSG) or subject sid [reply] header-size (HMSG, total dropped)
        subject = args[0].decode()
        sid = int(args[1])
        reply = args[2].decode() if len(args) == 4 else None
        sub = self._subs.get(sid)
        if sub is None:
            return
        msg = Msg(self, subject, reply, raw_headers, payload)
        try:
            sub[1](msg)
        except Exception as err:  # noqa: BLE001 - one bad message must not end the connection
            self.log.error("NATS message handler failed", subject=subject, error=err)

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, data):
        if self.closed:
            raise NatsError("the NATS connection is closed", "CONNECTION_CLOSED")
        if not self.connected:
            if len(self._pending) + len(data) > MAX_PENDING_BYTES:
                raise NatsError("not connected to NATS and the output buffer is full", "DISCONNECT")
            self._pending += data
            return
        self._out += data
        if len(self._out) >= FLUSH_AT:
            self._flush()
        elif self._flush_handle is None:
            # One socket write per loop turn for everything written during it (acks, pulls, publishes).
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self):
        self._flush_handle = None
        if self._out and self._writer is not None:
            data = bytes(self._out)
            self._out = bytearray()
            self._writer.write(data)

    def publish(self, subject, data=b"", reply=None, headers=None):
        """PUB (or HPUB with `headers`, a list of (name, value) or pre-encoded bytes)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        block = encode_headers(headers) if isinstance(headers, list) else headers
        size = len(data) + (len(block) if block else 0)
        if size > self.max_payload:
            raise NatsError(f"message to {subject} is {size} bytes, over the server's max_payload {self.max_payload}", "MAX_PAYLOAD")
        target = subject if reply is None else f"{subject} {reply}"
        if block:
            self._write(b"HPUB %s %d %d\r\n%s%s\r\n" % (target.encode(), len(block), size, block, data))
        else:
            self._write(b"PUB %s %d\r\n%s\r\n" % (target.encode(), len(data), data))

    def subscribe(self, subject, callback):
        """Calls `callback(msg)` on the loop for each message; returns the subscription id."""
        self._next_sid += 1
        sid = self._next_sid
        self._subs[sid] = (subject, callback)
        if self.connected:
            self._write(b"SUB %s %d\r\n" % (subject.encode(), sid))
        return sid

    def unsubscribe(self, sid):
        if self._subs.pop(sid, None) is not None and self.connected:
            self._write(b"UNSUB %d\r\n" % sid)

    def new_inbox(self):
        return f"{self.inbox_prefix}.{os.urandom(11).hex()}"

    async def request(self, subject, data=b"", headers=None, timeout=5.0):
        """Publishes with a reply subject on our inbox and returns the answer. Raises NatsError
        TIMEOUT, 503 (nobody listens on `subject`) or DISCONNECT."""
        if self._request_prefix is None:
            self._request_prefix = self.new_inbox() + "."
            self.subscribe(self._request_prefix + "*", self._answered)
        self._next_token += 1
        token = format(self._next_token, "x")
        future = self._loop.create_future()
        self._requests[token] = future
        try:
            self.publish(subject, data, reply=self._request_prefix + token, headers=headers)
            msg = await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise NatsError(f"no answer from {subject} within {int(timeout * 1000)} ms", "TIMEOUT") from None
        finally:
            self._requests.pop(token, None)
        if msg.status == "503":
            raise NatsError(f"no responders for {subject}", "503")
        return msg

    def _answered(self, msg):
        future = self._requests.pop(msg.subject[len(self._request_prefix):], None)
        if future is not None and not future.done():
            future.set_result(msg)

    async def close(self):
        """Sends what is buffered and closes; no reconnects after this."""
        if self.closed:
            return
        writer = self._writer
        if writer is not None:
            self._flush()
            try:
                await asyncio.wait_for(writer.drain(), 2.0)
            except (OSError, asyncio.TimeoutError, ssl.SSLError):
                pass
        self.closed = True
        if self._runner is not None:
            self._runner.cancel()
        if self._first is not None and not self._first.done():
            self._first.set_exception(NatsError("closed before connecting", "CONNECTION_CLOSED"))
            self._first.exception()  # retrieved: nobody may be waiting
        if writer is not None:
            self._disconnected(writer)
