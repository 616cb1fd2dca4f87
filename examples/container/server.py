"""A function in another language, shipped as a container image: any image that serves HTTP on $PORT
(on $KUBEFAAS_BIND_HOST when set).

GET answers with the time in a given UTC offset (?offset=+02:00); POST echoes the JSON body back with
its key count. It uses only the standard library so the stock python image runs it unchanged.
"""
import json
import os
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def parse_offset(text):
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path in ("/healthz", "/readyz"):
            return self._send(200, {"status": "ok"})
        try:
            tz = parse_offset(parse_qs(url.query).get("offset", ["+00:00"])[0])
        except ValueError:
            return self._send(400, {"error": "offset must look like +02:00"})
        self._send(200, {"now": datetime.now(tz).isoformat(timespec="seconds")})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._send(400, {"error": "body must be JSON"})
        keys = len(data) if isinstance(data, dict) else 0
        self._send(200, {"echo": data, "keys": keys})

    def log_message(self, fmt, *args):
        print(json.dumps({"level": "info", "msg": fmt % args}), flush=True)


if __name__ == "__main__":
    # KUBEFAAS_BIND_HOST: unset in a pod (every interface); 127.0.0.1 under `kubefaas dev`.
    host = os.environ.get("KUBEFAAS_BIND_HOST") or "0.0.0.0"
    ThreadingHTTPServer((host, int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
