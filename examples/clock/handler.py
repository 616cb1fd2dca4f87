"""The example's Python function (a PythonFunction: this file travels in a ConfigMap, no image build).

GET answers with the time in a given UTC offset (?offset=+02:00); POST echoes the JSON body back with
its key count. Standard library only.
"""
from datetime import datetime, timedelta, timezone

from kubefaas import HttpError


def parse_offset(text):
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


def main(event, context):
    if event.method == "POST":
        data = event.json() if event.body else {}  # a body that is not JSON answers 400
        keys = len(data) if isinstance(data, dict) else 0
        context.log.info("echo", extra={"keys": keys})
        return {"echo": data, "keys": keys}
    offset = event.query.get("offset", "+00:00")
    try:
        tz = parse_offset(offset if isinstance(offset, str) else offset[0])
    except ValueError:
        raise HttpError(400, "offset must look like +02:00") from None
    return {"now": datetime.now(tz).isoformat(timespec="seconds")}
