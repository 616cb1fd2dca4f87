"""The queue settings of a Python function pod, read from the environment the constructs render:
QueueEnv of src/contract/env.ts (`KUBEFAAS_NATS_URL`, `_QUEUE_CONFIG`, `_SUBSCRIPTIONS`, the NATS user,
password and TLS directory, the callback policy) and Env.EXPOSE_ERROR_MESSAGES, checked as the Node
side checks them (src/queue/config.ts). Kept apart from the queue client so that a pod without a
queue never imports it.
"""

import json
import os
import re

# QueueEnv (src/contract/env.ts) and Env.EXPOSE_ERROR_MESSAGES.
NATS_URL = "KUBEFAAS_NATS_URL"
QUEUE_CONFIG = "KUBEFAAS_QUEUE_CONFIG"
SUBSCRIPTIONS = "KUBEFAAS_SUBSCRIPTIONS"
NATS_USER = "KUBEFAAS_NATS_USER"
NATS_PASSWORD = "KUBEFAAS_NATS_PASSWORD"
NATS_TLS_DIR = "KUBEFAAS_NATS_TLS_DIR"
CALLBACK_POLICY = "KUBEFAAS_CALLBACK_POLICY"
EXPOSE_ERROR_MESSAGES = "KUBEFAAS_EXPOSE_ERROR_MESSAGES"
# The topics the function declared in `publishes` (JSON array); context.publish refuses any other.
PUBLISHES = "KUBEFAAS_PUBLISHES"

# DEFAULT_QUEUE_CONFIG of src/contract/queue.ts (the local runner and tests may omit the variable).
DEFAULT_QUEUE_CONFIG = {
    "topicsStream": "KUBEFAAS_TOPICS", "topicsPrefix": "topics", "callsStream": "KUBEFAAS_CALLS",
    "asyncPrefix": "async", "cronPrefix": "cron", "callsBucket": "kubefaas_calls",
    "maxAgeMs": 7 * 24 * 3600 * 1000, "callStateTtlMs": 24 * 3600 * 1000, "maxBytes": -1, "replicas": 1,
}
NATS_PASSWORD_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{15,}")


class QueueSettings:
    __slots__ = ("servers", "config", "subscriptions", "user", "password", "ca_file", "callbacks", "expose_error_messages")


def read_queue_settings(env):
    """The queue settings, or None when NATS_URL is unset (the platform has no queue). Raises
    ValueError naming the variable: a pod that ignored its subscriptions would look healthy and
    consume nothing."""
    url = (env.get(NATS_URL) or "").strip()
    if not url:
        return None
    s = QueueSettings()
    s.servers = [u.strip() for u in url.split(",") if u.strip()]
    raw = _json(env, QUEUE_CONFIG)
    if raw is not None and not isinstance(raw, dict):
        raise ValueError(f"{QUEUE_CONFIG} must be a JSON object")
    s.config = _check_config({**DEFAULT_QUEUE_CONFIG, **(raw or {})})
    subs = _json(env, SUBSCRIPTIONS)
    subs = [] if subs is None else subs
    if not isinstance(subs, list):
        raise ValueError(f"{SUBSCRIPTIONS} must be a JSON array of subscriptions")
    s.subscriptions = [_check_subscription(sub, i) for i, sub in enumerate(subs)]
    s.user = (env.get(NATS_USER) or "").strip() or None
    s.password = env.get(NATS_PASSWORD)
    if s.user:
        if not s.password:
            raise ValueError(f"{NATS_USER}={s.user} is set but {NATS_PASSWORD} is empty: add key \"{s.user}\" to the queue's auth Secret")
        if not NATS_PASSWORD_PATTERN.fullmatch(s.password):
            raise ValueError(
                f"{NATS_PASSWORD} of NATS user {s.user} must start with a letter and use only letters, digits, '-' and '_' "
                "(at least 16 characters); e.g. \"k$(openssl rand -hex 24)\""
            )
    tls_dir = (env.get(NATS_TLS_DIR) or "").strip()
    s.ca_file = None
    if tls_dir:
        s.ca_file = tls_dir.rstrip("/") + "/ca.crt"
        if not os.path.exists(s.ca_file):
            raise ValueError(f"{NATS_TLS_DIR}={tls_dir} has no ca.crt: the queue's TLS Secret needs a ca.crt key")
    s.callbacks = policy_from_env(env.get(CALLBACK_POLICY))
    expose = env.get(EXPOSE_ERROR_MESSAGES) or "false"
    if expose not in ("true", "false"):
        raise ValueError(f"{EXPOSE_ERROR_MESSAGES}={json.dumps(expose)} must be 'true' or 'false'")
    s.expose_error_messages = expose == "true"
    return s


def _json(env, name):
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as err:
        raise ValueError(f"{name} is not valid JSON: {err}") from None


def _check_config(c):
    for key in ("topicsStream", "topicsPrefix", "callsStream", "asyncPrefix", "cronPrefix", "callsBucket"):
        if not isinstance(c.get(key), str) or not c[key]:
            raise ValueError(f"{QUEUE_CONFIG}.{key} must be a non-empty string")
    for key in ("maxAgeMs", "callStateTtlMs", "maxBytes", "replicas"):
        if not isinstance(c.get(key), (int, float)) or isinstance(c[key], bool):
            raise ValueError(f"{QUEUE_CONFIG}.{key} must be a number")
    return c


def _check_subscription(raw, index):
    where = f"{SUBSCRIPTIONS}[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be an object")
    if raw.get("kind") not in ("topic", "async", "cron"):
        raise ValueError(f"{where}.kind must be topic, async or cron")
    for key in ("subject", "durable", "trigger"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ValueError(f"{where}.{key} must be a non-empty string")
    for key in ("maxInFlight", "ackWaitMs", "maxRetries"):
        v = raw.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{where}.{key} must be a non-negative integer")
    if raw["maxInFlight"] < 1:
        raise ValueError(f"{where}.maxInFlight must be at least 1")
    backoff = raw.get("backoffMs")
    if not isinstance(backoff, list) or any(not isinstance(n, (int, float)) or isinstance(n, bool) or n < 0 for n in backoff):
        raise ValueError(f"{where}.backoffMs must be an array of non-negative numbers")
    return {**raw, "ordered": raw.get("ordered") is True}


def read_policy(value):
    """Parsed CALLBACK_POLICY JSON as a dict, or a message saying what is wrong (readCallbackUrlPolicy)."""
    if not isinstance(value, dict):
        return "must be an object"
    allow = value.get("allow")
    if not isinstance(allow, list) or not all(isinstance(p, str) and re.match(r"https?://[^/]+/", p) for p in allow):
        return '"allow" must be an array of http(s) URL prefixes, each with a path ("https://host/")'
    if not isinstance(value.get("allowPrivateNetworks"), bool):
        return '"allowPrivateNetworks" must be a boolean'
    if value.get("allowLoopback") is not None and not isinstance(value.get("allowLoopback"), bool):
        return '"allowLoopback" must be a boolean'
    return {"allow": list(allow), "allowPrivateNetworks": value["allowPrivateNetworks"], "allowLoopback": value.get("allowLoopback") is True}


def policy_from_env(raw):
    """QueueEnv.CALLBACK_POLICY: None when unset (every callback refused); raises ValueError when malformed."""
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise ValueError(f"KUBEFAAS_CALLBACK_POLICY is not valid JSON: {err}") from None
    policy = read_policy(value)
    if isinstance(policy, str):
        raise ValueError(f"KUBEFAAS_CALLBACK_POLICY: {policy}")
    return policy
