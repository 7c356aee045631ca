"""Query parameters shared by the routes: format, paging, dates; strict about unknown names.

Every value reaches the store only through :mod:`imdx.query`'s resolution (areas and codes must
exist) and bound parameters, never through SQL text.
"""

from __future__ import annotations

import math
from datetime import date
from urllib.parse import urlencode

from starlette.requests import Request

from imdx.api.errors import ApiError

MEDIA_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8",
               "parquet": "application/vnd.apache.parquet"}
#: the largest page a request may ask for, per format (JSON pages are built in memory as objects)
MAX_PAGE_SIZE = {"json": 10_000, "csv": 100_000, "parquet": 100_000}
#: the page size when none is given
DEFAULT_PAGE_SIZE = {"json": 1_000, "csv": 100_000, "parquet": 100_000}
PAGING = ("page", "page_size")


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
            raise ApiError(400, "unknown-parameter", f"{name!r} is not a parameter of {where}; its parameters are "
                           f"{', '.join(allowed)}", name)


def output_format(request: Request, allowed: tuple[str, ...] = ("json", "csv", "parquet")) -> str:
    value = single(request, "format") or "json"
    if value not in allowed:
        raise ApiError(400, "unknown-format", f"format={value!r} is not offered here; use one of "
                       f"{', '.join(allowed)}", "format")
    return value


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = single(request, name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, "malformed-value", f"{name}={raw!r} is not a whole number of 1 or more "
                       f"(e.g. {name}={default})", name)
    return int(raw)


def paging(request: Request, fmt: str) -> tuple[int, int]:
    page = _positive_int(request, "page", 1)
    size = _positive_int(request, "page_size", DEFAULT_PAGE_SIZE[fmt])
    if size > MAX_PAGE_SIZE[fmt]:
        raise ApiError(400, "page-size-too-large", f"page_size={size:,} is more than the {MAX_PAGE_SIZE[fmt]:,} rows "
                       f"a {fmt} page may hold; ask for page_size={MAX_PAGE_SIZE[fmt]} or less and follow the "
                       f"next links (or narrow the filters)", "page_size")
    return page, size


def page_bounds(total: int, page: int, size: int) -> tuple[int, int, int]:
    """(start, stop, pages) of ``page``; a page past the last one is a 404 saying how many pages exist."""
    pages = max(1, math.ceil(total / size))
    if page > pages:
        what = "no rows match" if total == 0 else f"{total:,} rows match, {pages:,} page(s) of {size:,}"
        raise ApiError(404, "page-out-of-range", f"page={page} is past the end: {what}; ask for page={pages} "
                       "or less", "page")
    start = (page - 1) * size
    return start, min(start + size, total), pages


def links(request: Request, page: int, pages: int) -> dict[str, str | None]:
    """Relative links to this, the next and the previous page (same query, another ``page``)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]

    def at(p: int) -> str:
        return f"{request.url.path}?{urlencode(items + [('page', str(p))])}"

    return {"self": at(page), "next": at(page + 1) if page < pages else None,
            "prev": at(page - 1) if page > 1 else None, "first": at(1), "last": at(pages)}


def link_header(link: dict[str, str | None]) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in link.items() if url and rel != "self")


def iso_date(request: Request, name: str) -> date | None:
    raw = single(request, name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "malformed-value", f"{name}={raw!r} is not a date: write it as YYYY-MM-DD, "
                       f"e.g. {name}=2020-01-01", name) from None
