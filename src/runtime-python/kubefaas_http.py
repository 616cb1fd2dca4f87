"""A small, strict HTTP/1.1 request parser and response writer (standard library only).

Strict on purpose: the runtime sits behind the kubefaas router, so anything a well-behaved proxy
never sends (bare LF line ends, obs-fold, duplicate Content-Length, Content-Length together with
Transfer-Encoding, control characters) is a malformed request and gets 400 rather than a guess
that could desynchronize the connection (request smuggling).
"""

import re
from http import HTTPStatus

# Node's default limit (server.maxHeaderSize): request line + headers.
MAX_HEAD_BYTES = 16 * 1024

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_HEADER_NAME = re.compile(_TOKEN)
# Field values: visible characters, obs-text, space and tab; never other control characters.
_BAD_VALUE_CHAR = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")

REASONS = {s.value: s.phrase for s in HTTPStatus}


class BadRequest(Exception):
    """The request cannot be parsed; `status` is 400 or 431, `reason` says why (sent to the client)."""

    def __init__(self, reason, status=400):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class RequestHead:
    """The request line and headers of one request."""

    __slots__ = (
        "method", "target", "version", "headers", "content_length", "chunked",
        "keep_alive", "request_id", "traceparent", "expect_continue",
    )

    def __init__(self, method, target, version, headers, content_length, chunked, keep_alive, request_id, traceparent, expect_continue):
        self.method = method
        self.target = target
        self.version = version
        #: list of (lower-case name, value) in arrival order, decoded as latin-1 (bytes preserved)
        self.headers = headers
        self.content_length = content_length
        self.chunked = chunked
        self.keep_alive = keep_alive
        self.request_id = request_id
        self.traceparent = traceparent
        #: the client waits for `100 Continue` before sending its body (curl does above 1 KiB)
        self.expect_continue = expect_continue


# Checked once over the whole head: control characters other than the CR LF line ends and tab.
_BAD_HEAD_CHAR = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_REQUEST_LINE_STR = re.compile(r"(" + _TOKEN.decode() + r") ([^\x00-\x20\x7f]+) HTTP/1\.([01])")
_HEADER_NAME_STR = re.compile(_TOKEN.decode())


def parse_head(buf):
    """Parses the head at the start of `buf` (a bytearray).

    Returns (head, length of the head in bytes), or None when the head is not complete yet.
    Raises BadRequest for a malformed or oversized head.
    """
    start = 0
    # RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line.
    while buf.startswith(b"\r\n", start):
        start += 2
    end = buf.find(b"\r\n\r\n", start)
    if end == -1:
        if len(buf) - start > MAX_HEAD_BYTES:
            raise BadRequest("request head too large", 431)
        if buf.count(b"\n") != buf.count(b"\r\n") or (buf.endswith(b"\n") and not buf.endswith(b"\r\n")):
            raise BadRequest("malformed request: line ends must be CRLF")
        return None
    if end - start > MAX_HEAD_BYTES:
        raise BadRequest("request head too large", 431)
    raw = bytes(buf[start:end])
    if _BAD_HEAD_CHAR.search(raw) is not None:
        raise BadRequest("malformed request: control character in the head")
    crlf = raw.count(b"\r\n")
    if raw.count(b"\r") != crlf or raw.count(b"\n") != crlf:
        raise BadRequest("malformed request: line ends must be CRLF")
    lines = raw.decode("latin-1").split("\r\n")
    m = _REQUEST_LINE_STR.fullmatch(lines[0])
    if m is None:
        raise BadRequest("malformed request line")
    method, target, minor = m.groups()
    if target[0] != "/" and not (target == "*" and method == "OPTIONS"):
        raise BadRequest("malformed request target: expected an absolute path")
    version = 11 if minor == "1" else 10

    headers = []
    content_length = None
    transfer_encoding = None
    connection = None
    request_id = None
    traceparent = None
    has_host = False
    expect_continue = False
    name_ok = _HEADER_NAME_STR.fullmatch
    for i in range(1, len(lines)):
        name, colon, value = lines[i].partition(":")
        # A missing colon, obs-fold (a line starting with whitespace), whitespace before the colon.
        if not colon or name_ok(name) is None:
            raise BadRequest("malformed header line" if not colon else "malformed header name")
        name = name.lower()
        value = value.strip(" \t")
        headers.append((name, value))
        if len(name) not in _SPECIAL_LENGTHS:
            continue
        if name == "host":
            has_host = True
        elif name == "content-length":
            if content_length is not None:
                raise BadRequest("duplicate content-length")
            if _DIGITS_STR.fullmatch(value) is None:
                raise BadRequest("malformed content-length")
            content_length = int(value)
        elif name == "x-request-id":
            request_id = value if request_id is None else request_id + ", " + value
        elif name == "traceparent":
            traceparent = value if traceparent is None else traceparent + ", " + value
        elif name == "transfer-encoding":
            transfer_encoding = value if transfer_encoding is None else transfer_encoding + ", " + value
        elif name == "connection":
            connection = value.lower() if connection is None else connection + ", " + value.lower()
        elif name == "expect":
            expect_continue = value.lower() == "100-continue"

    chunked = False
    if transfer_encoding is not None:
        if content_length is not None:
            raise BadRequest("content-length together with transfer-encoding")
        codings = [c.strip().lower() for c in transfer_encoding.split(",")]
        if codings[-1] != "chunked" or "chunked" in codings[:-1]:
            raise BadRequest("unsupported transfer-encoding: the last coding must be chunked")
        chunked = True
    if version == 11 and not has_host:
        raise BadRequest("missing host header")

    if connection is None:
        keep_alive = version == 11
    else:
        tokens = [t.strip() for t in connection.split(",")]
        keep_alive = "close" not in tokens and (version == 11 or "keep-alive" in tokens)
    head = RequestHead(method, target, version, headers, content_length, chunked, keep_alive, request_id, traceparent,
                       expect_continue and (chunked or bool(content_length)))
    return head, end + 4


# Lengths of the header names parse_head looks at (most headers are skipped on length alone).
_SPECIAL_LENGTHS = frozenset(len(n) for n in ("host", "content-length", "x-request-id", "traceparent", "transfer-encoding", "connection", "expect"))
_DIGITS_STR = re.compile(r"[0-9]{1,15}")


class ChunkedDecoder:
    """Incremental decoder of a chunked body; `feed` consumes from a bytearray in place."""

    __slots__ = ("limit", "chunks", "size", "_remaining", "_state")

    def __init__(self, limit):
        self.limit = limit
        self.chunks = []
        self.size = 0
        self._remaining = 0
        self._state = "size"  # size -> data -> data-crlf -> size ... -> trailers -> done

    def feed(self, buf):
        """Consumes what it can. Returns True once the body is complete.

        Raises BadRequest (400) for bad framing, or BadRequest with status 413 past `limit`.
        """
        while True:
            state = self._state
            if state == "size" or state == "trailers":
                nl = buf.find(b"\r\n")
                if nl == -1:
                    if len(buf) > 4096:
                        raise BadRequest("malformed chunk: line too long")
                    if b"\n" in buf:
                        raise BadRequest("malformed chunk: line ends must be CRLF")
                    return False
                line = bytes(buf[:nl])
                del buf[:nl + 2]
                if state == "trailers":
                    if line == b"":
                        self._state = "done"
                        return True
                    if b":" not in line or _BAD_VALUE_CHAR.search(line):
                        raise BadRequest("malformed chunk trailer")
                    continue
                m = _CHUNK_SIZE.fullmatch(line)
                if m is None:
                    raise BadRequest("malformed chunk size")
                size = int(m.group(1), 16)
                if size == 0:
                    self._state = "trailers"
                    continue
                if self.size + size > self.limit:
                    raise BadRequest("request body too large", 413)
                self._remaining = size
                self._state = "data"
            elif state == "data":
                if not buf:
                    return False
                take = min(self._remaining, len(buf))
                self.chunks.append(bytes(buf[:take]))
                del buf[:take]
                self.size += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = "data-crlf"
            elif state == "data-crlf":
                if len(buf) < 2:
                    return False
                if buf[0:2] != b"\r\n":
                    raise BadRequest("malformed chunk: missing CRLF after data")
                del buf[:2]
                self._state = "size"
            else:
                return True

    def body(self):
        return b"".join(self.chunks)


_STATUS_LINES = {}


def status_line(status):
    line = _STATUS_LINES.get(status)
    if line is None:
        line = f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n".encode("latin-1")
        _STATUS_LINES[status] = line
    return line


_BAD_HEADER_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def valid_header(name, value):
    """True when a handler-given header can be written without breaking the response framing."""
    return (
        isinstance(name, str) and _HEADER_NAME.fullmatch(name.encode("latin-1", "replace")) is not None
        and isinstance(value, str) and _BAD_HEADER_TEXT.search(value) is None
    )


def encode_response(status, headers, body):
    """The bytes of a complete response; `headers` is a list of (name, value) strings."""
    parts = [status_line(status)]
    for name, value in headers:
        parts.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
    parts.append(b"\r\n")
    if body:
        parts.append(body)
    return b"".join(parts)
