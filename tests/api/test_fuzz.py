"""Fuzzing ``imdx serve`` (issue 13): no request, valid or not, is answered 5xx, and no answer leaks what a
client must not see (a traceback, the server's file paths, SQL).

* schemathesis reads the OpenAPI document the server serves (/api/v1/openapi.json: the REST API, SDMX, the
  library and the registry) and generates requests from its schemas, valid and invalid (stateless: every
  operation on its own; stateful: chains that follow the document's links, e.g. a dataflow listed by
  /api/v1/dataflows asked for its data);
* a hypothesis fuzzer does the same for every route of the web portal (its paths and parameters are
  enumerated from the app, so a new page is fuzzed, or this test fails until it is).

Bounded to fit CI: ``IMDX_FUZZ_STATELESS`` examples per operation of the stateless run (default 6, derandomized;
schemathesis's coverage phase only with ``IMDX_FUZZ_COVERAGE=1``), half of ``IMDX_FUZZ_EXAMPLES`` (default 12)
per stateful chain and three times it over the portal's routes; run a longer campaign locally with e.g.
``IMDX_FUZZ_EXAMPLES=500 IMDX_FUZZ_STATELESS=200 IMDX_FUZZ_COVERAGE=1``.
"""

from __future__ import annotations

import os
import re

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

EXAMPLES = int(os.environ.get("IMDX_FUZZ_EXAMPLES", "12"))
#: examples per operation of the stateless run (every operation is run: one subtest each): half of EXAMPLES,
#: at least 3 (with 12 and the coverage phase it took 88 s of CI for 84 operations; ``IMDX_FUZZ_STATELESS``)
STATELESS = int(os.environ.get("IMDX_FUZZ_STATELESS", str(max(3, EXAMPLES // 2))))
#: what no answer may hold: a Python traceback or frame, the server's files, SQL, a database's own words
LEAKS = re.compile(r"Traceback \(most recent|File \"/|site-packages|/work/|/tmp/|/root/|/home/|"
                   r"\bcoded_[a-z]|(?<![.\w])duckdb\b|_duckdb\b|Binder Error|Catalog Error|Parser Error|psycopg",
                   re.IGNORECASE)
SQL = re.compile(r"\bSELECT\b[^\n]{0,200}\bFROM\b|\bWHERE\b[^\n]{0,100}\b(IN|AND|=)\b")  # SQL's capitals


def leaks(text: str) -> list[str]:
    return [m.group(0)[:80] for pattern in (LEAKS, SQL) for m in pattern.finditer(text)]


@pytest.fixture(scope="module")
def api_schema(served):
    schema = schemathesis.openapi.from_url(f"{served}/api/v1/openapi.json")
    schema.config.base_url = served
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                    max_examples=STATELESS, allow_x00=True, deterministic=True)
    # schemathesis's coverage phase (every parameter's boundary and invalid values, not bounded by max_examples)
    # took some 50 s of CI by itself: on with IMDX_FUZZ_COVERAGE=1
    schema.config.phases.coverage.enabled = os.environ.get("IMDX_FUZZ_COVERAGE") == "1"
    return schema


@schemathesis.check
def no_leak(ctx, response, case):
    found = leaks(response.content.decode("utf-8", errors="replace"))
    if found:
        raise AssertionError(f"the answer shows what it must not: {found}")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=STATELESS, derandomize=True)
def test_api_stateless(case):
    response = case.call(timeout=60)
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error, no_leak])


def test_api_stateful(api_schema):
    """Chains of requests along the document's links (a dataflow listed, then its editions, then the revisions
    between two of them; an area found, then the research on it; an entry listed, then read)."""
    machine = api_schema.as_state_machine()

    class Checked(machine):  # type: ignore[misc, valid-type]
        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=[schemathesis.checks.not_a_server_error, no_leak])

    Checked.run(settings=settings(max_examples=max(4, EXAMPLES // 2), stateful_step_count=5, deadline=None,
                                  suppress_health_check=list(HealthCheck)))


# -- the portal ----------------------------------------------------------------------------------------------
#: every route of the portal: its path parameters' valid values, and the query parameters it reads
PORTAL = {
    "/": ({}, ["indicator", "year", "checks"]),
    "/country/{code}": ({"code": ["DEU", "Germany", "KEN", "404"]}, ["checks", "q", "edition"]),
    "/corridor/{origin}/{destination}": ({"origin": ["MEX", "India"], "destination": ["USA", "ARE"]},
                                         ["checks", "edition"]),
    "/flows": ({}, ["year", "method", "sex", "level", "incomplete", "checks"]),
    "/chart": ({}, ["indicator", "countries", "from", "to", "year", "tab", "embed", "checks"]),
    "/chart.{kind}": ({"kind": ["csv", "json", "svg", "png", "pdf"]}, ["indicator", "countries", "from", "to", "year"]),
    "/explore": ({}, ["dataflow", "destination", "origin", "sex", "age", "year", "area", "edition", "page"]),
    "/explore.xlsx": ({}, ["dataflow", "destination", "origin", "sex", "age", "year", "edition"]),
    "/sources": ({}, []),
    "/search": ({}, ["q"]),
    "/static/{path:path}": ({"path": ["portal.css", "portal.js", "vendor/vega.min.js", "../imdx.duckdb"]}, []),
    "/library": ({}, ["q", "year", "country", "theme", "type", "language", "commissioner", "gcm", "dataflow", "from",
                      "to", "sort", "page"]),
    "/library/records/{record_id}": ({"record_id": ["iom-eval-1", "x"]}, []),
    "/registry": ({}, ["kind"]),
    "/registry/gaps": ({}, ["country"]),
    "/registry/gaps/{country}": ({"country": ["KEN", "Kenya", "XX"]}, []),
    "/registry/sign-in": ({}, []),
    "/registry/sign-out": ({}, []),
    "/registry/{kind}/{entry_id}": ({"kind": ["organisation", "gcm_objective", "activity"], "entry_id": ["IOM", "1"]},
                                    []),
}
VALID = {"indicator": ["migrant_share", "refugees", "remittances_gdp"], "year": ["2020", "1990:2020", "2015"],
         "checks": ["1"], "method": ["stock_differencing"], "level": ["region", "country"],
         "dataflow": ["migrant_stock", "refugees", "population"], "destination": ["DEU", "Germany"],
         "origin": ["total", "IND"], "sex": ["_T", "F"], "age": ["_T"], "area": ["KEN"], "edition": ["2020", "2019"],
         "page": ["1", "2"], "q": ["kenya", "Mexico to United States", "irregular migration"],
         "country": ["KEN", "Kenya,Uganda"], "kind": ["organisation", "activity"], "sort": ["year", "-year"],
         "from": ["2010"], "to": ["2020"], "gcm": ["1"], "type": ["evaluation"],
         "countries": ["KEN,UGA", "Germany", "MEX,USA,IND"], "tab": ["chart", "table", "map", "sources"],
         "embed": ["1"], "incomplete": ["1"]}
#: what an attacker sends: numbers in other scripts and of thousands of digits, control characters, markup, SQL,
#: paths, very long text, empty values
HOSTILE = st.one_of(
    st.sampled_from(["²", "٣", "１２", "-1", "0", "+1", "1e9", "NaN", "9" * 4301, "9" * 1999, "0" * 1999 + "1",
                     "", " ", "\x00", "a\x00b", "\t", "\r\n", "%00", "..", "../../etc/passwd", "/etc/passwd",
                     "<script>alert(1)</script>", "'; DROP TABLE release; --", "' OR '1'='1", "\"", "\\", "{{7*7}}",
                     "${jndi:x}", "%s%s%s", "a" * 2001, "a" * 200, ",,,", "DEU," * 400, "2020:1990", "1:99999",
                     "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"), "\U0001f600", "ǅ", "İ"]),
    st.text(max_size=40),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
)


def _walk(routes, prefix: str = ""):
    """(path, methods) of every route, into the routers the app includes."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)
        elif getattr(route, "path", None):
            yield prefix + route.path, set(getattr(route, "methods", None) or {"GET"})


def _portal_routes(app) -> dict[str, set[str]]:
    from imdx.api.errors import is_api

    out: dict[str, set[str]] = {}
    for path, methods in _walk(app.routes):
        if not is_api(path):
            out.setdefault(path, set()).update(methods)
    return out


@pytest.fixture(scope="module")
def portal_routes(library_db):
    from imdx.api.app import create_app

    app = create_app(library_db)
    try:
        return _portal_routes(app)
    finally:
        app.state.imdx.close()


def test_every_portal_route_is_fuzzed(portal_routes):
    assert set(portal_routes) == set(PORTAL), "add the new route(s) and their parameters to PORTAL"


@st.composite
def portal_requests(draw, routes: dict[str, set[str]]):
    path = draw(st.sampled_from(sorted(PORTAL)))
    fills, names = PORTAL[path]
    url = path
    for name, valid in fills.items():
        value = draw(st.one_of(st.sampled_from(valid), HOSTILE))
        url = url.replace("{" + name + (":path}" if "{" + name + ":path}" in url else "}"), value)
    query = []
    for name in draw(st.lists(st.sampled_from([*names, "zz_unknown"]), max_size=4)) if names else []:
        value = draw(st.one_of(st.sampled_from(VALID.get(name, ["x"])), HOSTILE))
        query.append((name, value))
    method = draw(st.sampled_from(sorted(routes[path] - {"HEAD"}) + ["HEAD", "DELETE"]))
    return method, url, query


def _quote_path(url: str) -> str:
    from urllib.parse import quote

    return quote(url, safe="/:")


def test_portal_fuzz(served, portal_routes):
    """No page answers 5xx or leaks; every refusal outside /api and /sdmx is one of the portal's pages."""
    with httpx.Client(base_url=served, timeout=120) as client:

        @given(portal_requests(portal_routes))
        @settings(max_examples=int(os.environ.get("IMDX_FUZZ_PAGES", str(EXAMPLES * 3))), deadline=None,
                  suppress_health_check=list(HealthCheck), derandomize=True)
        def fuzz(request):
            method, url, query = request
            r = client.request(method, _quote_path(url), params=query,
                               data={"username": "x", "password": "y"} if method == "POST" else None)
            where = f"{method} {url} {query}"
            assert r.status_code < 500, (where, r.status_code, r.text[:500])
            assert not leaks(r.content.decode("utf-8", errors="replace")), (where, leaks(r.text))
            if r.status_code >= 400 and not url.startswith(("/api", "/sdmx")):
                assert r.headers["content-type"].startswith("text/"), (where, r.headers["content-type"])
                assert '"error":' not in r.text, where

        fuzz()
