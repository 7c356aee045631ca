"""One JSON error envelope for every error the API returns:

    {"error": {"status": 400, "type": "unknown-code", "message": "...what to change...", "parameter": "destination"}}

``type`` is a stable slug, ``message`` says what to change, ``parameter`` names the query or path
parameter at fault (``null`` when none is). Routes raise :class:`ApiError`; the handlers below turn
everything else (unknown routes, wrong methods, validation errors, imdx's own errors, bugs) into the
same shape, so a client needs one code path for failures.
"""

from __future__ import annotations

import logging
import re

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from imdx.errors import ImdxError, QueryError

log = logging.getLogger("imdx.api")

ROUTES_HINT = ("the API's routes are /api/v1/dataflows, /api/v1/dataflows/{id}, /api/v1/data/{dataflow}, "
               "/api/v1/diff/{dataflow}, /api/v1/areas, /api/v1/releases and /api/v1/report "
               "(described in /api/v1/openapi.json)")


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


_DIM_PREFIX = re.compile(r"^--(\w+) ")


def from_query_error(err: QueryError, parameter: str | None = None) -> ApiError:
    """A :class:`QueryError` from :mod:`imdx.query` or the model, worded for HTTP parameters.

    Those messages are written for the command line (``--destination 'X' ...``); here the same
    advice names the query parameter (``destination='X' ...``).
    """
    message = str(err)
    m = _DIM_PREFIX.match(message)
    if m:
        parameter = parameter or m.group(1)
        message = f"{m.group(1)}=" + message[m.end():]
    message = re.sub(r"`imdx areas ([^`]*)` searches", r"/api/v1/areas?q=\1 searches", message)
    if message.startswith("unknown dataflow"):
        return ApiError(404, "unknown-dataflow", message + " (listed at /api/v1/dataflows)", parameter or "dataflow")
    if "is not a year" in message or "is not a date" in message:
        kind = "malformed-value"
    elif "is not an edition" in message:
        kind = "unknown-edition"
    elif "has no releases" in message:
        kind = "unknown-code"
    elif "has no dimension" in message:
        kind = "unknown-parameter"
    elif "is not a" in message:
        kind = "unknown-code"
    else:
        kind = "bad-request"
    return ApiError(400, kind, message, parameter)


_STATUS_TYPES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                 405: "method-not-allowed", 406: "not-acceptable", 413: "too-large", 415: "unsupported-media-type",
                 429: "too-many-requests"}


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the envelope."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError):
        return error_response(err.status, err.type, err.message, err.parameter, err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException):
        headers = dict(err.headers or {})
        if err.status_code == 404:
            message = f"no resource at {request.url.path}; {ROUTES_HINT}"
        elif err.status_code == 405:
            allowed = headers.get("Allow") or headers.get("allow") or "GET"
            message = (f"{request.method} is not allowed on {request.url.path}; this API is read-only: "
                       f"use {allowed}")
        else:
            message = str(err.detail)
        kind = _STATUS_TYPES.get(err.status_code, "http-error")
        return error_response(err.status_code, kind, message, None, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        loc = [str(p) for p in first.get("loc", ())]
        parameter = loc[-1] if len(loc) > 1 else None
        message = f"{parameter or 'the request'}: {first.get('msg', 'is not valid')}; see /api/v1/openapi.json"
        return error_response(400, "invalid-parameter", message, parameter)

    @app.exception_handler(QueryError)
    async def _query_error(request: Request, err: QueryError):
        api = from_query_error(err)
        return error_response(api.status, api.type, api.message, api.parameter)

    @app.exception_handler(ImdxError)
    async def _imdx_error(request: Request, err: ImdxError):
        return error_response(503, "store-error", str(err), None)

    @app.exception_handler(Exception)
    async def _bug(request: Request, err: Exception):
        log.exception("unhandled error on %s", request.url)
        return error_response(500, "internal-error", "the server failed on this request; it has been logged. "
                              "Try again, and report it if it persists.", None)
