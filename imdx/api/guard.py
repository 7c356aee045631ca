"""The app's outermost layer: what every request must be before any route sees it.

* ``HEAD`` is answered wherever ``GET`` is: the request goes through as a ``GET`` and the answer's body is
  dropped (its headers, ``Content-Length`` included, are the ``GET``'s).
* A bug in a route is answered here (500, in the format of the path; logged with its traceback) and goes no
  further: a server that saw an exception escape the app would close the connection.
* The path, the query string and the body are bounded (:class:`~imdx.api.limits.Limits`): a path too long
  (414) or holding a control character (404: nothing is there), a query too long (414), with too many
  parameters or a value too long or holding a control character (400, naming the parameter), a body larger
  than ``max_body_kib`` (413, whether it says its length or not) are refused here, in the format of the
  path (:func:`imdx.api.errors.refusal`: the envelope under ``/api`` and ``/sdmx``, the portal's page
  elsewhere).
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

from imdx.api.errors import BUG_MESSAGE, ApiError, refusal, shown
from imdx.api.limits import Limits

#: characters no path or query value of this app holds (tab, newline and carriage return may be in a text search)
log = logging.getLogger("imdx.api")
_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"} | {"\x7f"}


def _has_control(text: str) -> bool:
    return not _CONTROL.isdisjoint(text)


class Guard:
    def __init__(self, app, limits: Limits):
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        problem = self.check(scope)
        if problem is not None:
            status, kind, message, parameter = problem
            return await refusal(scope, status, kind, message, parameter)(scope, receive, send)
        if scope["method"] not in ("GET", "OPTIONS"):
            bounded = self._bounded(scope, receive)
            if bounded is None:
                limit = self.limits.max_body_kib
                return await refusal(scope, 413, "too-large", f"the request body may have at most {limit:,} KiB "
                                     f"(IMDX_HTTP_MAX_BODY_KIB)", None)(scope, receive, send)
            receive = bounded
        started = False

        async def sending(message):
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as err:  # noqa: BLE001 -- a bug: answered (when it still can be) and logged, never raised
            log.error("unhandled error on %s", scope.get("path"), exc_info=err)
            if not started:
                await refusal(scope, 500, "internal-error", BUG_MESSAGE)(scope, receive, send)

    def check(self, scope) -> tuple[int, str, str, str | None] | None:
        """(status, type, message, parameter) of what is wrong with the request's path or query, or None."""
        limits, path = self.limits, scope["path"]
        if len(path) > limits.max_path_chars:
            return 414, "uri-too-long", (f"the path has {len(path):,} characters; at most {limits.max_path_chars:,} "
                                         "are allowed"), None
        if _has_control(path):
            return 404, "not-found", f"there is nothing at {shown(path)}: a path holds no control characters", None
        query = scope.get("query_string", b"")
        if len(query) > limits.max_query_bytes:
            return 414, "uri-too-long", (f"the query string has {len(query):,} bytes; at most "
                                         f"{limits.max_query_bytes:,} are allowed: ask for less in one request"), None
        if not query:
            return None
        pairs = query.split(b"&")
        if len(pairs) > limits.max_query_params:
            return 400, "too-many-parameters", (f"the query gives {len(pairs):,} parameters; at most "
                                                f"{limits.max_query_params} are allowed"), None
        for pair in pairs:
            name, _, value = pair.partition(b"=")
            key = unquote_plus(name.decode("latin-1"), errors="replace")
            text = unquote_plus(value.decode("latin-1"), errors="replace")
            if len(key) > 100 or _has_control(key):
                return 400, "unknown-parameter", f"{shown(key, 40)!r} is not a parameter of any route", None
            if len(text) > limits.max_value_chars:
                return 400, "value-too-long", (f"{key}= has {len(text):,} characters; at most "
                                               f"{limits.max_value_chars:,} are allowed"), key
            if _has_control(text):
                return 400, "malformed-value", (f"{key}={shown(text, 60)!r} holds a control character; no value "
                                                "of this server does"), key
        return None

    def _bounded(self, scope, receive):
        """``receive``, refusing (413) a body that grows past the limit; None when its declared length does."""
        limit = self.limits.max_body_kib * 1024
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not (value.isdigit() and len(value) <= 15) or int(value) > limit:
                    return None
        seen = 0

        async def bounded():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, "too-large", f"the request body may have at most {limit // 1024:,} KiB "
                                   "(IMDX_HTTP_MAX_BODY_KIB)", None)
            return message
        return bounded


def _without_body(send):
    """``send`` for a HEAD request: the answer's start as it is, its body left out."""
    async def head(message):
        if message["type"] == "http.response.body":
            if not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send(message)
    return head
