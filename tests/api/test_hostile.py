"""Hostile requests answered as refusals, never as failures (issue 13, "No 500, ever"): numbers in other
scripts or of thousands of digits, control characters, unknown pages, other methods, HEAD, bodies too large.
Each case below answered 500, the API's JSON on a portal page, or 405 to HEAD, before.

The server is ``imdx serve`` itself (``served``: UN DESA's releases, the research library and the registry).
"""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from tests.api.conftest import assert_envelope, serving

#: a number Python's int() refuses to parse (more than 4,300 digits), and one just within the value limit
HUGE, LONG = "9" * 4301, "9" * 1900


@pytest.fixture(scope="module")
def client(served):
    with httpx.Client(base_url=served, timeout=60) as c:
        yield c


def assert_page(r: httpx.Response, status: int) -> str:
    """The answer is one of the portal's HTML pages (its header and navigation), with ``status``, no JSON."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html"), r.headers["content-type"]
    assert '<header class="site">' in r.text and 'href="/explore"' in r.text  # the portal's own frame
    assert not r.text.lstrip().startswith("{") and '"error":' not in r.text
    assert not re.search(r"Traceback|File \"/|site-packages|/work/|/tmp/", r.text)
    return r.text


@pytest.mark.parametrize("name, value, status, kind", [
    ("page", "²", 400, "malformed-value"),
    ("page_size", "²", 400, "malformed-value"),
    ("page", "٣", 400, "malformed-value"),  # an Arabic-Indic three: a digit to str.isdigit(), not to this API
    ("page", "+1", 400, "malformed-value"),
    ("page", LONG, 400, "out-of-range"),
    ("page_size", LONG, 400, "page-size-too-large"),
    ("page", HUGE, 400, "value-too-long"),
    ("page_size", HUGE, 400, "value-too-long"),
    ("page", "0" * 1500 + "1", 200, None),  # leading zeros are still the number 1
])
def test_numbers_are_parsed_safely(client, name, value, status, kind):
    r = client.get("/api/v1/data/migrant_stock", params={"destination": "DEU", "year": "2020", name: value})
    if status == 200:
        assert r.status_code == 200 and r.json()["page"] == 1
        return
    error = assert_envelope(r, status, kind, name)
    assert len(error["message"]) < 400  # the value is quoted cut short, never whole


@pytest.mark.parametrize("url, parameter", [
    ("/api/v1/areas?page=%C2%B2", "page"),
    ("/api/v1/report?page_size=%C2%B2", "page_size"),
    ("/api/v1/diff/migrant_stock?from=2019&to=2020&page=%C2%B2", "page"),
    ("/api/v1/library?page=%C2%B2", "page"),
    ("/api/v1/library?page_size=" + LONG, "page_size"),
    ("/api/v1/library?year=%C2%B2%C2%B2%C2%B2%C2%B2", "year"),
    ("/api/v1/registry/entries?page=%C2%B2", "page"),
    ("/api/v1/registry/entries?page_size=" + HUGE, "page_size"),
    ("/api/v1/data/migrant_stock?destination=DEU&year=%D9%A2%D9%A0%D9%A2%D9%A0", "year"),
    ("/api/v1/data/migrant_stock?destination=DEU&as_of=%D9%A2%D9%A0%D9%A2%D9%A0-01-01", "as_of"),
    ("/api/v1/data/migrant_stock?destination=" + ",".join(["DEU"] * 301), "destination"),
    ("/sdmx/data/MIGRANT_STOCK/DEU....?startPeriod=%D9%A2%D9%A0%D9%A2%D9%A0", None),
])
def test_every_route_parses_numbers_and_lists_safely(client, url, parameter):
    r = client.get(url)
    assert 400 <= r.status_code < 500, (url, r.status_code, r.text[:300])
    error = r.json()["error"]
    if parameter is not None:
        assert error["parameter"] == parameter, error


def test_the_registry_audit_limit_is_parsed_safely(client):
    r = client.get("/api/v1/registry/audit", params={"limit": "²"}, headers={"Authorization": "Bearer x"})
    assert 400 <= r.status_code < 500  # refused: the token, or the number; never a failure


@pytest.mark.parametrize("url", ["/?year=%C2%B2", "/?year=" + LONG, "/explore?page=%C2%B2",
                                 "/explore?page=" + LONG, "/flows?year=%C2%B2", "/library?page=%C2%B2",
                                 "/chart?year=%C2%B2%C2%B2%C2%B2%C2%B2", "/chart?from=%C2%B2%C2%B2%C2%B2%C2%B2",
                                 "/chart.csv?to=%D9%A2%D9%A0%D9%A2%D9%A0"])
def test_portal_numbers_are_parsed_safely(client, url):
    r = client.get(url)
    assert r.status_code in (200, 400), (url, r.status_code)
    assert_page(r, r.status_code)


@pytest.mark.parametrize("url, status", [
    ("/static/portal.css%00", 404), ("/country/DEU%00", 404), ("/static/../../etc/passwd", 404),
    ("/nothing-here", 404), ("/country/XYZ/abc", 404), ("/favicon.ico", 404), ("/library/records/x%0ay", 404),
    ("/explore?dataflow=x%00y", 400), ("/search?q=" + "a" * 2001, 400), ("/" + "a" * 1100, 414),
])
def test_portal_errors_are_portal_pages(client, url, status):
    assert_page(client.get(url), status)


@pytest.mark.parametrize("url, status", [("/api/v1/data/migrant_stock%00", 404), ("/api/nothing", 404),
                                         ("/sdmx/nothing", 404), ("/api/v1/areas?q=%00", 400),
                                         ("/api/v1/" + "a" * 1100, 414)])
def test_api_errors_stay_json(client, url, status):
    assert_envelope(client.get(url), status)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_pages_are_portal_pages(client, method):
    r = client.request(method, "/country/DEU")
    assert_page(r, 405)
    assert "GET" in r.headers["allow"]
    assert_envelope(client.request(method, "/api/v1/dataflows"), 405)


@pytest.mark.parametrize("url", ["/", "/country/DEU", "/corridor/MEX/USA", "/explore", "/sources", "/search?q=kenya",
                                 "/search?q=irregular+migration", "/flows", "/library", "/registry", "/registry/gaps",
                                 "/static/portal.css",
                                 "/api/v1", "/api/v1/data/migrant_stock?destination=KEN", "/api/v1/openapi.json",
                                 "/sdmx/dataflow", "/nothing-here", "/api/v1/nothing"])
def test_head_answers_as_get_does(client, url):
    get, head = client.get(url), client.head(url)
    assert head.status_code == get.status_code, (url, head.status_code, get.status_code)
    assert head.content == b""
    assert head.headers.get("content-type") == get.headers.get("content-type")  # none on a redirect (q=kenya)
    assert head.headers.get("location") == get.headers.get("location")
    if "content-length" in get.headers and "content-encoding" not in get.headers:
        assert head.headers["content-length"] == get.headers["content-length"]


def test_too_many_parameters_and_too_long_a_query(client):
    many = "&".join(f"p{i}=1" for i in range(65))
    assert_envelope(client.get(f"/api/v1/dataflows?{many}"), 400, "too-many-parameters")
    assert_page(client.get(f"/search?{many}"), 400)
    assert_envelope(client.get("/api/v1/areas?q=" + "a" * 9000), 414, "uri-too-long")


def test_a_body_past_the_limit_is_refused_before_it_is_read(client):
    big = b"x" * (16 * 1024 * 1024 + 1)
    r = client.post("/api/v1/registry/3w", content=big)
    assert_envelope(r, 413, "too-large")
    assert_page(client.post("/registry/sign-in", content=big), 413)


def test_limits_are_configurable(library_db):
    """``IMDX_HTTP_*`` (read when the app is made, as imdx serve's workers do) bound the app it makes; a body
    without a declared length is counted as it arrives."""
    from imdx.api.app import create_app
    from imdx.api.limits import limits

    app = create_app(library_db, limits=limits({"IMDX_HTTP_MAX_PAGE_SIZE_JSON": "5", "IMDX_HTTP_MAX_BODY_KIB": "1",
                                                "IMDX_HTTP_MAX_CODES": "2", "IMDX_HTTP_MAX_PAGE": "3"}))

    async def echo(request: Request) -> Response:
        return Response(await request.body())

    app.add_api_route("/api/v1/echo", echo, methods=["POST"], include_in_schema=False)

    def chunks():
        yield b"x" * 800
        yield b"x" * 800

    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        assert_envelope(c.get("/api/v1/data/migrant_stock?destination=DEU&page_size=6"), 400, "page-size-too-large")
        assert c.get("/api/v1/data/migrant_stock?destination=DEU&page_size=5").json()["page_size"] == 5
        assert_envelope(c.get("/api/v1/data/migrant_stock?destination=DEU,FRA,ITA"), 400, "too-many-values")
        assert_envelope(c.get("/api/v1/data/migrant_stock?destination=DEU&page=4"), 400, "out-of-range", "page")
        assert c.post("/api/v1/echo", content=b"x" * 1000).content == b"x" * 1000
        assert_envelope(c.post("/api/v1/echo", content=chunks()), 413, "too-large")
        assert_page(c.post("/registry/sign-in", content=chunks()), 413)
    app.state.imdx.close()


def test_a_bad_limit_is_a_clear_error():
    from imdx.api.limits import limits
    from imdx.errors import ConfigError

    with pytest.raises(ConfigError, match="IMDX_HTTP_MAX_CODES='²'"):
        limits({"IMDX_HTTP_MAX_CODES": "²"})


@pytest.mark.parametrize("status, headers", [(400, {}), (413, {}), (429, {"Retry-After": "1"}), (500, {}),
                                             (503, {"Retry-After": "60"})])
def test_every_error_status_has_a_portal_page(library_db, status, headers):
    """A route of the portal that fails (a bug: 500) or refuses (429, 503, ...) answers the portal's page, and the
    same failure under /api answers the envelope; a bug's traceback goes to the log, not the answer."""
    from imdx.api.app import create_app
    from imdx.api.errors import ApiError

    app = create_app(library_db)

    def fail():
        if status == 500:
            raise RuntimeError("/secret/path SELECT * FROM coded_migrant_stock")
        raise ApiError(status, "refused", "refused on purpose by the test route", None, headers)

    app.add_api_route("/portal-failure", fail, include_in_schema=False)
    app.add_api_route("/api/v1/failure", fail, include_in_schema=False)
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        page = assert_page(c.get("/portal-failure"), status)
        assert "secret" not in page and "SELECT" not in page
        api = assert_envelope(c.get("/api/v1/failure"), status)
        assert "secret" not in api["message"]
        for name, value in headers.items():
            assert c.get("/portal-failure").headers[name] == value
    app.state.imdx.close()
