"""The public API of kubefaas Python handlers: ``from kubefaas import Response, HttpError``.

A handler is ``def main(event, context)`` or ``async def main(event, context)``. It returns
``str``/``bytes`` (200), a ``dict``/``list`` or other JSON value (200 JSON), ``None`` (204) or a
``Response`` (sent as is). Raising ``HttpError(4xx, message)`` answers with that status and message;
any other exception answers 500 without details (they go to the log with the request id).
"""

__all__ = ["Response", "HttpError"]


class Response:
    """A response sent as is: status, headers and body (str, bytes, or a JSON value)."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, body=None, status=200, headers=None):
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 999:
            raise ValueError(f"Response status must be an integer 100..999, got {status!r}")
        self.status = status
        self.headers = dict(headers or {})
        self.body = body

    def __repr__(self):
        return f"Response(status={self.status}, headers={self.headers!r})"


class HttpError(Exception):
    """Raise to answer the caller with a 4xx status and this message (e.g. a bad input)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message
