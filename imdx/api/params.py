"""Query parameters shared by the routes: format, paging, whole numbers, lists of codes, dates; strict about
unknown names.

Numbers are parsed safely: ASCII digits only (``²`` and other Unicode digits are refused, and so is a number
of more digits than its bound has, before Python's ``int`` could be asked to parse 4,300 of them), within
the bounds of :class:`~imdx.api.limits.Limits`. Every value reaches the store only through
:mod:`imdx.query`'s resolution (areas and codes must exist) and bound parameters, never through SQL text.
"""

from __future__ import annotations

import math
from datetime import date
from urllib.parse import urlencode

from starlette.requests import Request

from imdx.api.errors import ApiError, shown
from imdx.api.limits import Limits

MEDIA_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8",
               "parquet": "application/vnd.apache.parquet"}
#: the page size when none is given (at most the largest page the limits allow)
DEFAULT_PAGE_SIZE = {"json": 1_000, "csv": 100_000, "parquet": 100_000}
PAGING = ("page", "page_size")
DEFAULT_LIMITS = Limits()


def limits_of(request: Request) -> Limits:
    """The limits of the app serving ``request`` (the defaults for an app made without them)."""
    state = getattr(request.app.state, "imdx", None)
    return getattr(state, "limits", DEFAULT_LIMITS)


def single(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise ApiError(400, "repeated-parameter", f"{name} was given {len(values)} times; give it once", name)
    return values[0]


def check_known(request: Request, allowed: list[str], where: str) -> None:
    for name in request.query_params:
        if name not in allowed:
            raise ApiError(400, "unknown-parameter", f"{shown(name, 60)!r} is not a parameter of {where}; its "
                           f"parameters are {', '.join(allowed) or 'none'}", name)


def output_format(request: Request, allowed: tuple[str, ...] = ("json", "csv", "parquet")) -> str:
    value = single(request, "format") or "json"
    if value not in allowed:
        raise ApiError(400, "unknown-format", f"format={shown(value, 40)!r} is not offered here; use one of "
                       f"{', '.join(allowed)}", "format")
    return value


def whole_number(raw: str, name: str, low: int, high: int, example: int | None = None,
                 too_large: str | None = None, kind: str = "out-of-range") -> int:
    """``raw`` as a whole number from ``low`` to ``high``: ASCII digits only (no sign, no ``²``), parsed only when
    it has no more digits than ``high``. Not a number, or under ``low``: a 400 ``malformed-value``; over
    ``high``: a 400 of type ``kind`` with ``too_large`` as its message (by default, the range)."""
    text = raw.strip()
    digits = text.lstrip("0") or "0"
    if not (text.isascii() and text.isdigit()) or (len(digits) <= 12 and int(digits) < low):
        raise ApiError(400, "malformed-value", f"{name}={shown(raw, 40)!r} is not a whole number of {low} or more "
                       f"(e.g. {name}={example if example is not None else low})", name)
    if len(digits) > len(str(high)) or int(digits) > high:
        raise ApiError(400, kind, too_large or f"{name}={shown(text, 40)} is out of range: give a whole number "
                       f"from {low:,} to {high:,}", name)
    return int(digits)


def positive_int(request: Request, name: str, default: int, high: int, too_large: str | None = None,
                 kind: str = "out-of-range") -> int:
    """The parameter ``name`` as a whole number from 1 to ``high``; ``default`` when it is not given."""
    raw = single(request, name)
    return default if raw is None else whole_number(raw, name, 1, high, default, too_large, kind)


def paging(request: Request, fmt: str, max_size: int | None = None) -> tuple[int, int]:
    """(page, page_size) of the request; a page size past ``max_size`` (by default the format's, from the
    limits) is a 400 ``page-size-too-large`` that says how to page instead."""
    limits = limits_of(request)
    largest = max_size or limits.page_size_max(fmt)
    page = positive_int(request, "page", 1, limits.max_page)
    default = min(DEFAULT_PAGE_SIZE.get(fmt, 1_000), largest)
    size = positive_int(request, "page_size", default, largest, kind="page-size-too-large", too_large=(
        f"page_size is more than the {largest:,} rows a {fmt} page may hold; ask for page_size={largest} or less "
        "and follow the next links (or narrow the filters)"))
    return page, size


def page_bounds(total: int, page: int, size: int) -> tuple[int, int, int]:
    """(start, stop, pages) of ``page``; a page past the last one is a 404 saying how many pages exist."""
    pages = max(1, math.ceil(total / size))
    if page > pages:
        what = "no rows match" if total == 0 else f"{total:,} rows match, {pages:,} page(s) of {size:,}"
        raise ApiError(404, "page-out-of-range", f"page={page:,} is past the end: {what}; ask for page={pages} "
                       "or less", "page")
    start = (page - 1) * size
    return start, min(start + size, total), pages


def links(request: Request, page: int, pages: int) -> dict[str, str | None]:
    """Relative links to this, the next and the previous page (same query, another ``page``)."""
    kept = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "page"])
    base = f"{request.url.path}?{kept}{'&' if kept else ''}page="  # encoded once: this is on every answer's way

    def at(p: int) -> str:
        return f"{base}{p}"

    return {"self": at(page), "next": at(page + 1) if page < pages else None,
            "prev": at(page - 1) if page > 1 else None, "first": at(1), "last": at(pages)}


def link_header(link: dict[str, str | None]) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in link.items() if url and rel != "self")


def codes(request: Request, name: str) -> list[str] | None:
    """The values of a list parameter, repeated (``a=X&a=Y``) or separated by commas (``a=X,Y``), stripped; None
    when it is not given. More than ``max_codes`` is a 400 ``too-many-values``; only commas, a 400."""
    raw = request.query_params.getlist(name)
    if not raw:
        return None
    parts = [p.strip() for item in raw for p in item.split(",") if p.strip()]
    if not parts:
        raise ApiError(400, "malformed-value", f"{name}= is empty: give one or more codes, e.g. "
                       f"{name}={'2020' if name == 'year' else 'X,Y'}, or leave {name} out for all", name)
    limit = limits_of(request).max_codes
    if len(parts) > limit:
        raise ApiError(400, "too-many-values", f"{name} lists {len(parts):,} values; at most {limit} are allowed "
                       "(IMDX_HTTP_MAX_CODES): split the request, or leave the parameter out for all", name)
    return parts


def iso_date(request: Request, name: str) -> date | None:
    """A ``YYYY-MM-DD`` date (ASCII digits only)."""
    raw = single(request, name)
    if raw is None:
        return None
    try:
        if not (raw.isascii() and len(raw) == 10):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "malformed-value", f"{name}={shown(raw, 40)!r} is not a date: write it as YYYY-MM-DD, "
                       f"e.g. {name}=2020-01-01", name) from None
