"""The queue's message headers and event types: the values of src/contract/events.ts
(`MessageHeaders`, `QueueEventTypes`) and the platform-header rules of src/queue/platform-headers.ts.
The Python side cannot import the contract; test/runtime-python/contract.test.ts checks these names.

Header names are written as spelled here (NATS names are case-sensitive on the wire); they are
read case-insensitively.
"""

MSG_ID = "Nats-Msg-Id"
CONTENT_TYPE = "content-type"
TRACEPARENT = "traceparent"
CE_ID = "ce-id"
CE_SOURCE = "ce-source"
CE_TYPE = "ce-type"
CE_TIME = "ce-time"
CE_SPEC_VERSION = "ce-specversion"
CALL_ID = "Kubefaas-Call-Id"
CALLBACK_URL = "Kubefaas-Callback-Url"
METHOD = "Kubefaas-Method"
PATH = "Kubefaas-Path"
HTTP_HEADERS = "Kubefaas-Http-Headers"
STATUS = "Kubefaas-Status"
FUNCTION = "Kubefaas-Function"
TRIGGER = "Kubefaas-Trigger"
ERROR = "Kubefaas-Error"
ATTEMPTS = "Kubefaas-Attempts"
ORIGINAL_SUBJECT = "Kubefaas-Original-Subject"
ORIGINAL_SEQUENCE = "Kubefaas-Original-Sequence"
ORIGINAL_STREAM = "Kubefaas-Original-Stream"

CLOUDEVENTS_SPEC_VERSION = "1.0"

MESSAGE_TYPE = "dev.kubefaas.queue.message"
ASYNC_CALL_TYPE = "dev.kubefaas.async.call"
CRON_TICK_TYPE = "dev.kubefaas.cron.tick"
RESPONSE_TYPE = "dev.kubefaas.queue.response"

# HTTP headers of an async call's callback POST (src/contract/http.ts Headers, src/queue/async-calls.ts).
HTTP_CALL_ID = "x-call-id"
HTTP_FUNCTION = "x-kubefaas-function"
HTTP_AUTH = "x-kubefaas-auth"
CALLBACK_STATUS = "x-function-status"
CALLBACK_STATE = "x-call-state"

PLATFORM_PREFIX = "kubefaas-"

_DEAD_LETTER_HEADERS = frozenset(
    h.lower() for h in (ERROR, ATTEMPTS, FUNCTION, TRIGGER, ORIGINAL_SUBJECT, ORIGINAL_STREAM, ORIGINAL_SEQUENCE)
)


def is_platform_header(name):
    """A name in the platform's namespace (`Kubefaas-*`, any case): only platform code writes them."""
    return name[: len(PLATFORM_PREFIX)].lower() == PLATFORM_PREFIX


def is_server_header(name):
    """`Nats-*`: de-duplication ids, expected sequences, rollups: the server's or the publish path's."""
    return name[:5].lower() == "nats-"


def is_user_header(name):
    """What a publisher or a handler's reply may set: not the platform's, not the server's."""
    return not is_platform_header(name) and not is_server_header(name)


def kept_on_dead_letter(name, kind):
    """Whether an original header is copied onto the dead letter: topic messages carry no platform
    header legitimately, so theirs are dropped; async calls and cron ticks (written by the router and
    the cron sender) keep theirs except the dead-letter ones, which the dead-letter step writes."""
    if is_server_header(name):
        return False
    if not is_platform_header(name):
        return True
    return kind != "topic" and name.lower() not in _DEAD_LETTER_HEADERS
