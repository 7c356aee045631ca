"""One JSON error envelope for every error the API returns:

    {"error": {"status": 400, "type": "unknown-code", "message": "...what to change...", "parameter": "destination"}}

``type`` is a stable slug, ``message`` says what to change, ``parameter`` names the query or path
parameter at fault (``null`` when none is). Routes raise :class:`ApiError`; the handlers below turn
everything else (unknown routes, wrong methods, validation errors, imdx's own errors, bugs) into the
same shape, so a client needs one code path for failures.

That envelope is the answer under ``/api`` and ``/sdmx``. Everywhere else the app serves the web portal,
whose errors are its own HTML pages (404, 400, 405, 413, 429, 500, ... in the portal's style, with the same
message): :func:`install` takes the portal's page maker, and :func:`refusal` answers in the format of the
path. No answer ever carries a traceback, a file path of the server or SQL: a bug is logged, and answered
500 with a message that says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from imdx.errors import ImdxError, QueryError

log = logging.getLogger("imdx.api")

ROUTES_HINT = ("the API's routes are /api/v1/dataflows, /api/v1/dataflows/{id}, /api/v1/data/{dataflow}, "
               "/api/v1/diff/{dataflow}, /api/v1/areas, /api/v1/releases, /api/v1/report, /api/v1/library and "
               "/api/v1/registry (described in /api/v1/openapi.json)")


class ApiError(Exception):
    """An error the API reports on purpose, with its HTTP status and the parameter at fault."""

    def __init__(self, status: int, type: str, message: str, parameter: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.type, self.message, self.parameter = status, type, message, parameter
        self.headers = headers or {}


def envelope(status: int, type: str, message: str, parameter: str | None = None) -> dict:
    return {"error": {"status": status, "type": type, "message": message, "parameter": parameter}}


def error_response(status: int, type: str, message: str, parameter: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(envelope(status, type, message, parameter))
    return Response(body, status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store", **(headers or {})})


#: the API's error type and HTTP status of each kind of :class:`QueryError`
QUERY_ERRORS = {"unknown-dataflow": (404, "unknown-dataflow"), "not-loaded": (404, "not-loaded"),
                "unknown-parameter": (400, "unknown-parameter"), "unknown-code": (400, "unknown-code"),
                "unknown-edition": (400, "unknown-edition"), "unknown-source": (400, "unknown-code"),
                "malformed-value": (400, "malformed-value"), "missing-value": (400, "missing-parameter"),
                "unsupported": (400, "bad-request"), "bad-request": (400, "bad-request")}


def from_query_error(err: QueryError, parameter: str | None = None) -> ApiError:
    """A :class:`QueryError` worded for HTTP: the parameter as a query parameter (``destination='X'``),
    the area search as ``/api/v1/areas?q=``, the status and type from its kind."""
    status, kind = QUERY_ERRORS[err.kind]
    message = err.words(lambda name, value: name if value is None else f"{name}={value!r}",
                        lambda text: f"/api/v1/areas?q={text} searches")
    if err.kind == "unknown-dataflow":
        message += " (listed at /api/v1/dataflows)"
    return ApiError(status, kind, message, err.parameter or parameter)


#: the error type of each HTTP status the API gives for a refused request
STATUS_TYPES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                 405: "method-not-allowed", 406: "not-acceptable", 413: "too-large", 414: "uri-too-long",
                 415: "unsupported-media-type", 422: "unprocessable", 429: "too-many-requests",
                 500: "internal-error", 501: "not-implemented", 503: "busy"}
BUG_MESSAGE = "the server failed on this request; it has been logged. Try again, and report it if it persists."

#: a page maker for the portal's errors: (status, type, message, headers) -> an HTML response
HtmlErrors = Callable[[int, str, str, dict[str, str]], Response]


def is_api(path: str) -> bool:
    """Whether ``path`` is the API's or SDMX's (errors in the envelope) rather than the portal's (HTML pages)."""
    return path in ("/api", "/sdmx") or path.startswith(("/api/", "/sdmx/"))


def refusal(scope, status: int, type: str, message: str, parameter: str | None = None,
            headers: dict[str, str] | None = None) -> Response:
    """The answer to a refused request in the format of its path: the envelope under ``/api`` and ``/sdmx``
    (and everywhere when the app serves no portal), else the portal's HTML error page."""
    app = scope.get("app")
    html: HtmlErrors | None = getattr(getattr(app, "state", None), "html_errors", None)
    if html is not None and not is_api(scope.get("path", "")):
        return html(status, type, message, headers or {})
    return error_response(status, type, message, parameter, headers)


def response_for(request: Request, err: Exception) -> Response:
    """The answer to any error a route raised: on purpose (:class:`ApiError`), a query that names
    what does not exist (:class:`QueryError`), a fault of the store or environment (another
    :class:`ImdxError`: 503, its details logged, not answered: they may name the server's files), or a bug
    (500, logged with its traceback)."""
    if isinstance(err, QueryError):
        err = from_query_error(err)
    if isinstance(err, ApiError):
        return refusal(request.scope, err.status, err.type, err.message, err.parameter, err.headers)
    if isinstance(err, ImdxError):
        log.error("store or environment error on %s: %s", request.url.path, err)
        return refusal(request.scope, 503, "store-error", "the data store could not answer this request; the "
                       "administrator has been told in the server's log. Try again in a minute.", None,
                       {"Retry-After": "60"})
    log.error("unhandled error on %s", request.url.path, exc_info=err)
    return refusal(request.scope, 500, "internal-error", BUG_MESSAGE, None)


def install(app: FastAPI, html: HtmlErrors | None = None) -> None:
    """Register the handlers that answer every error: in the envelope, or with ``html`` (the portal's page
    maker) outside ``/api`` and ``/sdmx``."""
    app.state.html_errors = html

    @app.exception_handler(ApiError)
    @app.exception_handler(QueryError)
    @app.exception_handler(ImdxError)
    @app.exception_handler(Exception)
    async def _error(request: Request, err: Exception):
        return response_for(request, err)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException):
        headers = dict(err.headers or {})
        path, api = shown(request.url.path), is_api(request.url.path)
        if err.status_code == 404:
            message = f"no resource at {path}; {ROUTES_HINT}" if api else \
                f"There is no page at {path}. The site's pages are listed at the top of this one."
        elif err.status_code == 405:
            allowed = headers.get("Allow") or headers.get("allow") or "GET"
            message = (f"{request.method} is not allowed on {path}; this API is read-only: use {allowed}" if api
                       else f"{request.method} is not allowed on {path}: use {allowed}")
        else:
            message = str(err.detail)
        kind = STATUS_TYPES.get(err.status_code, "http-error")
        return refusal(request.scope, err.status_code, kind, message, None, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        loc = [str(p) for p in first.get("loc", ())]
        parameter = loc[-1] if len(loc) > 1 else None
        message = f"{parameter or 'the request'}: {first.get('msg', 'is not valid')}"
        if is_api(request.url.path):
            message += "; see /api/v1/openapi.json"
        return refusal(request.scope, 400, "invalid-parameter", message, parameter)


def shown(text: str, limit: int = 120) -> str:
    """``text`` (a path or a value a client sent) as an answer may quote it: control characters escaped, and cut
    to ``limit`` characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit + 1])
    return text if len(text) <= limit else text[:limit] + "…"
