"""The portal's error pages: every refused or failed request outside ``/api`` and ``/sdmx`` is answered with a
page in the portal's style (``error.html``), never the API's JSON (see :func:`imdx.api.errors.refusal`)."""

from __future__ import annotations

import logging
from html import escape

from fastapi.responses import HTMLResponse, Response

log = logging.getLogger("imdx.portal")

TITLES = {400: "Bad request", 401: "Sign-in needed", 403: "Not allowed", 404: "Not found",
          405: "Method not allowed", 406: "Not available in that format", 413: "Too large", 414: "Address too long",
          429: "Too many requests", 500: "Something went wrong", 501: "Not implemented", 503: "Busy"}


def error_page(status: int, type: str, message: str, headers: dict[str, str]) -> Response:
    """The portal's page for an error: its title from the status, the message, the site's search and map links."""
    from imdx.portal.router import render

    title = TITLES.get(status, "Error")
    try:
        response: Response = render("error.html", status, title=title, message=_sentence(message), q="")
    except Exception:  # noqa: BLE001 -- the error page itself must not fail: a plain page instead
        log.exception("the error page could not be rendered")
        response = HTMLResponse(f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1>"
                                f"<p>{escape(_sentence(message))}</p>", status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Error-Type"] = type
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] if message else message
