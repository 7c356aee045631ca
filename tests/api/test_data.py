"""/api/v1/data/{dataflow} over HTTP: formats, filters, paging, ordering, caching headers, gzip, CORS."""

from __future__ import annotations

import gzip
import io

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.api.conftest import assert_envelope

STOCK = "/api/v1/data/migrant_stock"
DEU = {"destination": "DEU", "year": "2020"}


def test_germany_2020_total_json(http):
    r = http.get("/api/v1/data/migrant_stock", params={"destination": "Germany", "origin": "total", "sex": "total",
                                                       "age": "total", "year": "2020", "edition": "2020"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["pages"] == 1 and body["unit"] == "persons"
    row = body["data"][0]
    assert (row["destination"], row["origin"], row["year"], row["value"]) == ("DEU", "_T", 2020, 15_762_457)
    assert row["destination_name"] == "Germany" and row["source"] == "undesa_ims" and row["edition"] == "2020"
    assert set(body["columns"]) == set(row)


def test_same_rows_by_iso3_m49_and_name(http):
    totals = []
    for area in ("DEU", "276", "Germany"):
        r = http.get("/api/v1/data/migrant_stock", params={"destination": area, "year": "2020", "origin": "_T"})
        assert r.status_code == 200, r.text
        totals.append([(d["sex"], d["age"], d["value"]) for d in r.json()["data"]])
    assert totals[0] == totals[1] == totals[2] and totals[0]


def test_sexes_of_germany_2020(http):
    r = http.get("/api/v1/data/migrant_stock", params={"destination": "DEU", "origin": "_T", "age": "_T",
                                                       "year": "2020", "sex": "M,F", "edition": "2020"})
    values = {d["sex"]: d["value"] for d in r.json()["data"]}
    assert values == {"F": 7_870_822, "M": 7_891_635}


def test_country_by_origin_json_csv_parquet_agree(http):
    js = http.get(STOCK, params=DEU).json()
    assert js["total"] > 200  # Germany's migrants by origin (and sex) in 2020
    csv = http.get(STOCK, params={**DEU, "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["x-total-count"] == str(js["total"])
    table = pacsv.read_csv(io.BytesIO(csv.content))
    assert table.num_rows == js["total"] and table.column_names == js["columns"]
    pqr = http.get(STOCK, params={**DEU, "format": "parquet"})
    assert pqr.headers["content-type"] == "application/vnd.apache.parquet"
    ptable = pq.read_table(io.BytesIO(pqr.content))
    assert ptable.column_names == js["columns"]
    assert ptable.column("value").to_pylist() == [d["value"] for d in js["data"]]
    assert ptable.schema.metadata[b"imdx:dataflow"] == b"migrant_stock"
    assert table.column("origin").to_pylist() == [d["origin"] for d in js["data"]]


def test_stable_order_and_paging(http):
    whole = http.get(STOCK, params=DEU).json()["data"]
    keys = [(d["destination"], d["origin"], d["sex"], d["age"], d["year"], d["source"]) for d in whole]
    assert keys == sorted(keys)
    pages, url = [], "/api/v1/data/migrant_stock?destination=DEU&year=2020&page_size=100"
    while url:
        body = http.get(url).json()
        pages.extend(body["data"])
        url = body["links"]["next"]
    assert pages == whole
    again = http.get(STOCK, params={**DEU, "page_size": 100, "page": 2}).json()
    assert again["data"] == whole[100:200] and again["page"] == 2 and again["links"]["prev"].endswith("page=1")


def test_empty_result_is_an_empty_page(http):
    r = http.get("/api/v1/data/migrant_stock", params={"destination": "DEU", "year": "1700"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 0 and body["data"] == [] and body["pages"] == 1


def test_page_past_the_end(http):
    total = http.get(STOCK, params=DEU).json()["total"]
    r = http.get(STOCK, params={**DEU, "page_size": 100, "page": total // 100 + 2})
    error = assert_envelope(r, 404, "page-out-of-range", "page")
    assert f"page={total // 100 + 1}" in error["message"]


def test_page_size_limits(http):
    error = assert_envelope(http.get(STOCK, params={**DEU, "page_size": 10_001}), 400, "page-size-too-large",
                            "page_size")
    assert "10000" in error["message"]
    assert http.get(STOCK, params={**DEU, "page_size": 10_000}).status_code == 200
    assert http.get(STOCK, params={**DEU, "page_size": 100_000, "format": "csv"}).status_code == 200
    assert_envelope(http.get(STOCK, params={**DEU, "page_size": 100_001, "format": "csv"}), 400, "page-size-too-large")


def test_year_ranges_and_lists(http):
    r = http.get("/api/v1/data/migrant_stock", params={"destination": "DEU", "origin": "_T", "sex": "_T",
                                                       "age": "_T", "year": "1990:2020"})
    years = [d["year"] for d in r.json()["data"]]
    assert {1990, 1995, 2000, 2005, 2010, 2015, 2020} <= set(years)
    r = http.get("/api/v1/data/migrant_stock?destination=DEU&origin=_T&sex=_T&age=_T&year=1990&year=2020")
    assert {d["year"] for d in r.json()["data"]} == {1990, 2020}


def test_etag_and_conditional_get(http):
    first = http.get(STOCK, params=DEU)
    etag = first.headers["etag"]
    assert etag.startswith('"') and "max-age" in first.headers["cache-control"]
    second = http.get(STOCK, params=DEU, headers={"If-None-Match": etag})
    assert second.status_code == 304 and second.content == b"" and second.headers["etag"] == etag
    reordered = http.get("/api/v1/data/migrant_stock?year=2020&destination=DEU", headers={"If-None-Match": etag})
    assert reordered.status_code == 304
    other = http.get(STOCK, params=DEU, headers={"If-None-Match": '"not-this-one"'})
    assert other.status_code == 200 and other.content == first.content
    csv = http.get(STOCK, params={**DEU, "format": "csv"})
    assert csv.headers["etag"] != etag


def test_gzip(http):
    r = http.get(STOCK, params=DEU, headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    raw = http.get(STOCK, params=DEU, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert r.json() == raw.json()  # httpx decodes gzip
    assert int(r.headers["content-length"]) < len(raw.content) / 3
    with http.stream("GET", STOCK, params=DEU, headers={"Accept-Encoding": "gzip"}) as s:
        assert gzip.decompress(b"".join(s.iter_raw())) == raw.content


def test_cors_for_reads_only(http):
    r = http.get(STOCK, params=DEU, headers={"Origin": "https://example.org"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "X-Total-Count" in r.headers["access-control-expose-headers"]
    pre = http.options(STOCK, params=DEU, headers={"Origin": "https://example.org",
                                                   "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 200 and "GET" in pre.headers["access-control-allow-methods"]
    bad = http.options(STOCK, params=DEU, headers={"Origin": "https://example.org",
                                                   "Access-Control-Request-Method": "POST"})
    assert bad.status_code == 400


def test_cached_and_uncached_answers_are_identical(http):
    url = "/api/v1/data/migrant_stock?destination=FRA&year=2015&origin=_T"
    a, b = http.get(url), http.get(url)
    assert a.content == b.content
    for header in ("etag", "cache-control", "x-total-count", "link", "content-type"):
        assert a.headers[header] == b.headers[header]


@pytest.mark.parametrize("flow", ["population", "fdi_inflows", "remittances", "net_migration", "refugees",
                                  "bilateral_migration", "bilateral_remittances", "displacement_demographics"])
def test_other_dataflows_answer(http, flow):
    big = flow in ("refugees", "displacement_demographics")
    r = http.get(f"/api/v1/data/{flow}", params={"page_size": 5, **({"year": "2020"} if big else {})})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] > 0 and len(body["data"]) == 5


def test_oversized_request(http):
    """An unfiltered query of a dataflow of millions of observations is refused with what to add."""
    error = assert_envelope(http.get("/api/v1/data/displacement_demographics"), 413, "too-large", None)
    assert "year=2020" in error["message"]
    assert_envelope(http.get("/api/v1/data/refugees", params={"format": "csv"}), 413, "too-large")
    assert http.get("/api/v1/data/refugees", params={"year": "2020", "page_size": 1}).status_code == 200


def test_generic_route_matches_the_dataflow_route(http):
    assert http.get("/api/v1/data/population?area=IND&year=2020").json()["data"]


def test_edition_pins_and_as_of(http):
    """as_of=2020-01-01 gives the value as published then (the 2019 edition) for a stock the 2020 edition revised:
    the world's migrant stock in 2015 was 248,861,296 in the 2019 edition and 247,958,644 in the 2020 one."""
    world = {"destination": "World", "origin": "_T", "sex": "_T", "age": "_T", "year": "2015"}

    def one(**extra):
        body = http.get(STOCK, params={**world, **extra}).json()
        assert body["total"] == 1, body
        return body["data"][0]

    assert (one()["value"], one()["edition"]) == (250_042_020, "2024")  # the latest edition is current
    assert one(edition="2020")["value"] == 247_958_644
    assert one(edition="2019")["value"] == 248_861_296
    as_of = one(as_of="2020-01-01")
    assert (as_of["value"], as_of["edition"]) == (248_861_296, "2019")
    assert one(as_of="2021-01-15")["edition"] == "2020"  # published that day
    germany = {**world, "destination": "DEU"}
    assert http.get(STOCK, params={**germany, "as_of": "2016-01-01"}).json()["data"][0]["value"] == 12_005_690
    assert http.get(STOCK, params=germany).json()["data"][0]["value"] == 12_646_813  # the 2024 edition's revision
    assert http.get(STOCK, params={**germany, "edition": "2020"}).json()["data"][0]["value"] == 10_220_418
    assert http.get(STOCK, params={**world, "as_of": "2000-01-01"}).json()["total"] == 0
