"""Delivery of async calls' callbacks (src/queue/callback-queue.ts, callback.ts, callback-target.ts):
a pull consumer of the function's callback jobs, with its own slots, POSTs each job once per
delivery; network errors, 408, 429 and 5xx are retried by a delayed NAK; the outcome is written to
the call state.

Where a callback may go is the platform's callback policy (QueueEnv.CALLBACK_POLICY, absent = nowhere),
checked with the same rules as the Node runtime: an allowed URL prefix, then every address the host
resolves to (never link-local, metadata, multicast or reserved; loopback and private networks only
when the policy says so), and the POST connects to the checked address (no second lookup a DNS
rebinding could change) and follows no redirect. The prefix is compared with the URL in its
normalized form; URLs whose normalization could differ between Python and the WHATWG parser the
router checked them with (percent-encoded dots, backslashes, non-ASCII or numeric-looking hosts,
fragments, unusual characters) are refused rather than guessed at.
"""

import asyncio
import ipaddress
import re
import socket
import ssl

from kubefaas_headers import HTTP_CALL_ID
from kubefaas_log import iso_now

DEFAULT_ATTEMPTS = 5
DEFAULT_INITIAL_DELAY_MS = 500
DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_CONCURRENCY = 16
MAX_RESPONSE_BYTES = 1024 * 1024

POLICY_SETTING = "PlatformProps.router.callbacks (CallbackPolicy.allow([...url prefixes]))"


def callback_subscription(config, function_name, async_sub):
    """The subscription of the callback deliverer, derived from the function's async subscription."""
    backoff, delay = [], DEFAULT_INITIAL_DELAY_MS
    for _ in range(max(1, DEFAULT_ATTEMPTS - 1)):
        backoff.append(delay)
        delay *= 2
    return {
        "kind": "async",
        "subject": f"{config['asyncPrefix']}.{function_name}.callback",
        "durable": f"{async_sub['durable']}_callbacks",
        "trigger": "callback",
        "maxInFlight": DEFAULT_CONCURRENCY,
        # A POST is bounded by its timeout; the margin keeps a slow one from being redelivered meanwhile.
        "ackWaitMs": DEFAULT_TIMEOUT_MS + 5000,
        "maxRetries": DEFAULT_ATTEMPTS - 1,
        "backoffMs": backoff,
        "ordered": False,
    }


# -- the URL -----------------------------------------------------------------------------------

_URL = re.compile(r"(https?)://([^/?#@\[\]:]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(/[^#]*)?", re.IGNORECASE)
_SAFE_TAIL = re.compile(r"[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*")
_DNS_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Target:
    __slots__ = ("scheme", "host", "port", "path", "href")

    def __init__(self, scheme, host, port, path, href):
        self.scheme, self.host, self.port, self.path, self.href = scheme, host, port, path, href


def parse_url(raw):
    """The URL in its normalized form, or the reason it is refused."""
    m = _URL.fullmatch(raw)
    if m is None:
        if "://" in raw and raw.split("://", 1)[0].lower() not in ("http", "https"):
            return f"callback URLs must be http: or https:, not {raw.split('://', 1)[0].lower()}:"
        if "@" in raw.split("?", 1)[0]:
            return "callback URLs may not carry credentials"
        return "the callback URL is not a plain absolute http(s) URL this runtime can check"
    scheme, host, port, tail = m.group(1).lower(), m.group(2), m.group(3), m.group(4) or "/"
    if not _SAFE_TAIL.fullmatch(tail) or re.search(r"%(?![0-9A-Fa-f]{2})|%2e", tail, re.IGNORECASE):
        return "the callback URL's path or query has characters this runtime does not check; percent-encode them"
    if host.startswith("["):
        try:
            host = "[" + ipaddress.IPv6Address(host[1:-1]).compressed + "]"
        except ValueError:
            return "the callback URL's host is not a valid IPv6 address"
    else:
        host = host.lower()
        if not _DNS_NAME.fullmatch(host):
            return "the callback URL's host is not a plain host name or IPv4 address"
        last = host.rstrip(".").rsplit(".", 1)[-1]
        if last.isdigit() or last.startswith("0x"):
            # WHATWG reads a host ending in a number as IPv4 (octal, hex and short forms included).
            try:
                canonical = str(ipaddress.IPv4Address(host))
            except ValueError:
                canonical = None
            if canonical != host:
                return "the callback URL's host looks like an IPv4 address but is not in dotted-decimal form"
    number = int(port) if port else _DEFAULT_PORTS[scheme]
    if number > 65535:
        return "the callback URL's port is out of range"
    path = _remove_dot_segments(tail)
    shown_port = "" if number == _DEFAULT_PORTS[scheme] else f":{number}"
    return Target(scheme, host, number, path, f"{scheme}://{host}{shown_port}{path}")


def _remove_dot_segments(tail):
    q = tail.find("?")
    path, query = (tail, "") if q == -1 else (tail[:q], tail[q:])
    out = []
    segments = path.split("/")[1:]
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out) + query


def url_refusal(policy, raw):
    """Why `raw` may not be a callback under `policy` (None = allowed by scheme and prefix), as
    src/contract/policies.ts callbackUrlRefusal answers; returns (reason, target)."""
    if policy is None or not policy["allow"]:
        return f"callbacks are not enabled on this platform: set {POLICY_SETTING}", None
    target = parse_url(raw)
    if isinstance(target, str):
        return target, None
    if not any(target.href.startswith(prefix) for prefix in policy["allow"]):
        return f"the callback URL does not start with an allowed prefix ({', '.join(policy['allow'])}): see {POLICY_SETTING}", None
    return None, target


# -- the addresses -----------------------------------------------------------------------------


def _networks(*cidrs):
    return [ipaddress.ip_network(c) for c in cidrs]


# The node itself, cloud metadata (169.254.169.254; fd00:ec2::254 is in the ULA block), unspecified,
# multicast, broadcast, and IPv6 transition prefixes that embed an IPv4 address.
ALWAYS_REFUSED = _networks(
    "0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "::/128", "fe80::/10", "ff00::/8",
    "2002::/16", "64:ff9b::/96", "64:ff9b:1::/48",
)
LOOPBACK = _networks("127.0.0.0/8", "::1/128")
PRIVATE = _networks("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "fc00::/7")


def address_refusal(policy, address):
    """Why the policy does not let a callback go to `address` (None = it may)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:a.b.c.d is IPv4 a.b.c.d on a dual-stack socket
    if any(ip in n for n in ALWAYS_REFUSED if n.version == ip.version):
        return f"{address} is a link-local, unspecified or reserved address"
    if any(ip in n for n in LOOPBACK if n.version == ip.version):
        return None if policy.get("allowLoopback") else f"{address} is a loopback address"
    if any(ip in n for n in PRIVATE if n.version == ip.version) and not policy["allowPrivateNetworks"]:
        return f"{address} is a private address (allowPrivateNetworks is off)"
    return None


async def resolve_target(policy, raw, resolve=None):
    """(target, address) to POST to, or the reason the callback is refused. Every address the host
    resolves to must be allowed; the POST connects to the first one."""
    refusal, target = url_refusal(policy, raw)
    if refusal is not None:
        return refusal
    host = target.host[1:-1] if target.host.startswith("[") else target.host.rstrip(".")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [host]
    else:
        try:
            infos = await (resolve or _resolve)(host, target.port)
        except OSError as err:
            return f"cannot resolve {host}: {err}"
        addresses = list(dict.fromkeys(infos))
        if not addresses:
            return f"{host} has no address"
    for address in addresses:
        why = address_refusal(policy, address)
        if why is not None:
            return why if literal is not None else f"{host} resolves to a refused address: {why}"
    return target, addresses[0]


async def _resolve(host, port):
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


# -- the POST ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


async def post(target, address, headers, body, timeout):
    """One POST to the checked address; returns the status once the response is read."""
    context = ssl.create_default_context() if target.scheme == "https" else None
    host_name = target.host[1:-1] if target.host.startswith("[") else target.host
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(address, target.port, ssl=context, server_hostname=host_name if context else None), timeout
    )
    try:
        default_port = _DEFAULT_PORTS[target.scheme]
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        lines = [f"POST {target.path} HTTP/1.1", f"host: {host_header}"]
        for name, value in headers.items():
            value = str(value)
            if name.lower() in ("host", "content-length", "connection", "transfer-encoding"):
                continue
            if not _TOKEN.fullmatch(name) or "\r" in value or "\n" in value:
                continue  # not a header HTTP can carry: left out rather than failing the callback
            lines.append(f"{name}: {value}")
        lines += [f"content-length: {len(body)}", "connection: close", "", ""]
        writer.write("\r\n".join(lines).encode("latin-1", "replace") + bytes(body))
        head = await reader.readuntil(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].split(b" ")
        if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1.") or not status_line[1].isdigit():
            raise OSError("the callback receiver did not answer HTTP")
        status = int(status_line[1])
        # Read the response through (bounded) before counting it delivered.
        length = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
        left = min(int(length.group(1)), MAX_RESPONSE_BYTES) if length else MAX_RESPONSE_BYTES
        while left > 0:
            chunk = await reader.read(min(left, 65536))
            if not chunk:
                break
            left -= len(chunk)
            if length is None and chunk.endswith(b"0\r\n\r\n"):
                break
        return status
    finally:
        writer.close()


async def post_callback(policy, url, headers, body, attempt, timeout_ms=DEFAULT_TIMEOUT_MS, resolve=None):
    """One delivery attempt: (final, outcome). Never raises: a refused URL is final and nothing is
    sent; network errors, 408, 429 and 5xx are retryable, other statuses final (3xx included)."""
    resolved = await resolve_target(policy, url, resolve)
    if isinstance(resolved, str):
        return True, {"url": url, "delivered": False, "attempts": 0, "error": f"callback refused: {resolved}"}
    target, address = resolved
    try:
        status = await asyncio.wait_for(post(target, address, headers, body, timeout_ms / 1000), timeout_ms / 1000)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError, ValueError) as err:
        message = "timed out" if isinstance(err, asyncio.TimeoutError) else str(err) or type(err).__name__
        return False, {"url": url, "delivered": False, "attempts": attempt, "error": message}
    if 200 <= status < 300:
        return True, {"url": url, "delivered": True, "attempts": attempt, "status": status}
    retryable = status in (408, 429) or status >= 500
    redirect = " (redirects are not followed)" if 300 <= status < 400 else ""
    return (not retryable), {"url": url, "delivered": False, "attempts": attempt, "status": status, "error": f"callback answered {status}{redirect}"}


class RetryCallback(Exception):
    """Raised to have a callback job retried (NAK with backoff)."""


def callback_handler(store, policy, resolve=None):
    """The deliverer's handler: one POST per delivery; a final outcome (or the last attempt's) is
    written to the call state, anything else raised to be retried."""

    async def deliver(event, delivery):
        headers = {k: v for k, v in event.headers.items() if isinstance(v, str)}
        headers[HTTP_CALL_ID] = event.call_id or headers.get(HTTP_CALL_ID, "")
        final, outcome = await post_callback(policy, event.callback_url or "", headers, event.body, delivery.attempt, resolve=resolve)
        if not final and delivery.attempt < delivery.max_attempts:
            raise RetryCallback(outcome.get("error") or "callback not delivered")
        await record_outcome(store, event.call_id, outcome)
        return None

    return deliver


class CallbackHooks:
    """Records the outcome of a job whose last attempt never reported back (its process died)."""

    def __init__(self, store):
        self.store = store

    async def before_attempt(self, event, attempt):
        return True

    async def succeeded(self, event, reply, attempt):
        pass

    async def retrying(self, event, failure, attempt):
        pass

    async def failed(self, event, failure, attempts):
        await record_outcome(self.store, event.call_id, {"url": event.callback_url or "", "delivered": False, "attempts": attempts, "error": failure.message})


async def record_outcome(store, call_id, outcome):
    if not call_id:
        return
    state = await store.get(call_id)
    if state is None:
        return  # expired meanwhile: nobody can read the outcome anyway
    await store.put({**state, "callback": outcome, "updatedAt": iso_now()})
