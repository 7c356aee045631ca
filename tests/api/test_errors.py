"""Every error is the one envelope, with a 4xx and a message that says what to change (the idea of
datasette's tests/test_error_shape.py): over every route of the app, and for each kind of bad request."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from tests.api.conftest import assert_envelope

INJECTIONS = ["'; DROP TABLE release; --", "DEU' OR '1'='1", "1; SELECT * FROM release", '" OR ""="',
              "<script>alert(1)</script>", "DEU\x00", "2020); DELETE FROM obs_migrant_stock; --"]


def _valid_path(path: str) -> str:
    return path.replace("{dataflow}", "migrant_stock").replace("{kind}", "organisation").replace(
        "{code}", "KEN").replace("{id}", "migrant_stock").replace("{area}", "DEU")


#: the routes that change the registry (signed-in users, ``imdx serve --registry-edits``; tests/registry)
WRITES = {("/api/v1/registry/entries/{kind}/{id}", "PUT"), ("/api/v1/registry/entries/{kind}/{id}", "DELETE"),
          ("/api/v1/registry/3w", "POST")}


def test_every_route_gives_the_envelope(http, app_routes):
    methods: dict[str, set[str]] = {}
    for path, route_methods in app_routes:
        methods.setdefault(path, set()).update(route_methods)
    assert len(methods) > 20
    for path, allowed in methods.items():
        assert "GET" in allowed and {(path, m) for m in allowed - {"GET", "HEAD"}} <= WRITES, (path, allowed)
        url = _valid_path(path)
        assert_envelope(http.get(url, params={"no_such_parameter": "1"}), 400, "unknown-parameter",
                        "no_such_parameter")
        for method in {"POST", "PUT", "PATCH", "DELETE"} - allowed:
            r = http.request(method, url)
            error = assert_envelope(r, 405, "method-not-allowed")
            assert "GET" in error["message"] and "GET" in r.headers["allow"]
        if "{" in path:  # a path parameter naming nothing: 404 in the envelope
            bogus = path.replace("{dataflow}", "no_such_flow").replace("{id}", "no_such_flow").replace(
                "{kind}", "organisation").replace("{code}", "no_such_flow").replace("{area}", "Narnia")
            error = assert_envelope(http.get(bogus), 404)
            if path.startswith(("/api/v1/library", "/api/v1/registry")):  # a record, an entry, an area
                assert "no_such_flow" in error["message"]
            elif "{area}" in path:  # the census tables of a country
                assert (error["type"], error["parameter"]) == ("unknown-area", "area") and "Narnia" in error["message"]
            else:
                assert (error["type"], error["parameter"]) == ("unknown-dataflow", "dataflow")
                assert "migrant_stock" in error["message"]  # lists what exists


@pytest.mark.parametrize("path", ["/api", "/api/v1/nothing", "/api/v2/dataflows", "/api/v1/data",
                                  "/api/v1/data/migrant_stock/extra", "/api/v1/dataflows/migrant_stock/x"])
def test_unknown_routes(http, path):
    error = assert_envelope(http.get(path), 404, "not-found", None)
    assert "/api/v1/dataflows" in error["message"]


def test_unknown_pages_outside_the_api_are_the_portals(http):
    r = http.get("/favicon.ico")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), r.text[:200]


@pytest.mark.parametrize("params, type, parameter, hint", [
    ({"destination": "Narnia"}, "unknown-code", "destination", "ISO3"),
    ({"destination": "DEU", "origin": "Atlantis"}, "unknown-code", "origin", "/api/v1/areas?q="),
    ({"sex": "X"}, "unknown-code", "sex", "allowed: _T, M, F"),
    ({"age": "Y99"}, "unknown-code", "age", "allowed"),
    ({"year": "20x0"}, "malformed-value", "year", "2010:2020"),
    ({"year": "2020:2010"}, "malformed-value", "year", "first year first"),
    ({"year": "1:99999999"}, "malformed-value", "year", "2010:2020"),
    ({"year": ""}, "malformed-value", "year", "leave year out"),
    ({"destination": ","}, "malformed-value", "destination", "leave destination out"),
    ({"as_of": "yesterday"}, "malformed-value", "as_of", "YYYY-MM-DD"),
    ({"edition": "1999"}, "unknown-edition", "edition", "2020"),
    ({"source": "imf"}, "unknown-code", "source", "undesa_ims"),
    ({"format": "xml"}, "unknown-format", "format", "json, csv, parquet"),
    ({"page": "0"}, "malformed-value", "page", "page=1"),
    ({"page": "two"}, "malformed-value", "page", "whole number"),
    ({"page_size": "-5"}, "malformed-value", "page_size", "whole number"),
    ({"page_size": "1000000"}, "page-size-too-large", "page_size", "10000"),
    ({"destinaton": "DEU"}, "unknown-parameter", "destinaton", "destination"),
    ({"format": ["csv", "json"]}, "repeated-parameter", "format", "once"),
])
def test_bad_data_requests(http, params, type, parameter, hint):
    error = assert_envelope(http.get("/api/v1/data/migrant_stock", params=params), 400, type, parameter)
    assert hint in error["message"], error["message"]


def test_unknown_dataflow(http):
    error = assert_envelope(http.get("/api/v1/data/migrant_stocks"), 404, "unknown-dataflow", "dataflow")
    assert "migrant_stock" in error["message"] and "/api/v1/dataflows" in error["message"]


@pytest.mark.parametrize("url, parameter", [
    ("/api/v1/diff/migrant_stock?to=2020", "from"),
    ("/api/v1/diff/migrant_stock?from=2019&to=1066", "to"),
    ("/api/v1/diff/migrant_stock?from=2019&to=2020&format=parquet", "format"),
    ("/api/v1/areas?kind=planet", "kind"),
    ("/api/v1/areas?q=" + "x" * 101, "q"),
    ("/api/v1/releases?source=nobody", "source"),
    ("/api/v1/releases?dataflow=nothing", "dataflow"),
    ("/api/v1/report?source=nobody", "source"),
    ("/api/v1/report?area=Narnia", "area"),
    ("/api/v1/report?severity=fatal", "severity"),
    ("/api/v1/report?type=no-such-type", "type"),
])
def test_bad_requests_elsewhere(http, url, parameter):
    assert_envelope(http.get(url), 400, None, parameter)


def _documented_parameters(openapi: dict):
    """Every documented query parameter of every /api route (the SDMX routes: tests/sdmx)."""
    for path, item in openapi["paths"].items():
        if not path.startswith("/api/"):
            continue
        for param in item["get"].get("parameters", []):
            if param["in"] == "query" and param["name"] != "filters":
                yield path, param["name"]
            elif param["name"] == "filters":
                yield path, "destination"  # the generic routes' filters are dimensions


def test_injection_in_every_parameter(http, api_db):
    from imdx.store import connect

    with connect(api_db, read_only=True) as store:
        before = (len(store.releases()), store.select("migrant_stock", {"destination": ["DEU"]}).num_rows)
    openapi = http.get("/api/v1/openapi.json").json()
    checked = 0
    for path, name in _documented_parameters(openapi):
        url = _valid_path(path)
        required = {"from": "2019", "to": "2020"} if "/diff/" in path else \
            {"country": "KEN"} if path == "/api/v1/registry/gaps" and name != "country" else {}
        for payload in INJECTIONS:
            r = http.get(url, params={**required, name: payload})
            checked += 1
            if r.status_code == 200 and path.startswith(("/api/v1/library", "/api/v1/registry")):
                continue  # a search for any text, or a facet value no record has, is a question with an answer
            if path == "/api/v1/registry/audit" and r.status_code == 401:  # signed-in users only: refused before
                assert_envelope(r, 401, "unauthorized", None)                # its parameters are read
                continue
            assert_envelope(r, None, None, name)
    for payload in INJECTIONS:  # and in the path
        quoted = quote(payload, safe="")
        assert_envelope(http.get(f"/api/v1/data/{quoted}"), 404)
        assert_envelope(http.get(f"/api/v1/dataflows/{quoted}"), 404)
        assert_envelope(http.get(f"/api/v1/diff/{quoted}?from=2019&to=2020"), 404)
    assert checked > 200
    with connect(api_db, read_only=True) as store:
        after = (len(store.releases()), store.select("migrant_stock", {"destination": ["DEU"]}).num_rows)
    assert after == before


def test_errors_are_not_cached(http):
    r = http.get("/api/v1/data/migrant_stock?destination=Narnia")
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers


def test_messages_name_no_internals(http):
    for url in ("/api/v1/data/migrant_stock?destination='; DROP TABLE release; --", "/api/v1/data/x%00y"):
        message = http.get(url).json()["error"]["message"]
        assert not re.search(r"Traceback|duckdb|SELECT|obs_migrant_stock", message), message
