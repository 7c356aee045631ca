"""/api/v1, /api/v1/dataflows, /api/v1/areas, /api/v1/releases, /api/v1/report over HTTP."""

from __future__ import annotations

import io

import pyarrow.csv as pacsv


def test_index(http):
    body = http.get("/api/v1").json()
    assert "migrant_stock" in body["dataflows"] and body["openapi"] == "/api/v1/openapi.json"


def test_dataflows(http):
    body = http.get("/api/v1/dataflows").json()
    flows = {f["id"]: f for f in body["dataflows"]}
    assert body["total"] == len(flows) >= 20
    stock = flows["migrant_stock"]
    assert stock["unit"] == "persons"
    assert [d["name"] for d in stock["dimensions"]] == ["destination", "origin", "sex", "age", "year"]
    sex = next(d for d in stock["dimensions"] if d["name"] == "sex")
    assert sex["codes"] == {"_T": "Both sexes", "M": "Male", "F": "Female", "_O": "Other", "_U": "Unknown"}
    assert "B" in stock["attributes"]["definition"] and "E" in stock["attributes"]["obs_status"]
    assert {"2015", "2019", "2020"} <= {e["edition"] for e in stock["editions"]}
    assert stock["links"]["data"] == "/api/v1/data/migrant_stock"
    assert len({e["edition"] for e in flows["fdi_inflows"]["editions"]}) >= 2
    assert flows["births"]["unit"] == "persons" and flows["crude_birth_rate"]["unit"] == "per 1,000 population"


def test_one_dataflow_lists_the_codes_present(http):
    flow = http.get("/api/v1/dataflows/migrant_stock").json()
    dest = next(d for d in flow["dimensions"] if d["name"] == "destination")
    assert dest["codes"]["DEU"] == "Germany"
    year = flow["dimensions"][-1]
    assert year["name"] == "year" and year["range"][0] <= 1990 and year["range"][1] >= 2020
    assert all(e["n_obs"] > 0 and e["published"][:2] in ("19", "20") for e in flow["editions"])


def test_areas_search(http):
    for q, code in (("Germany", "DEU"), ("DEU", "DEU"), ("276", "DEU"), ("korea", "KOR"), ("Côte", "CIV")):
        body = http.get("/api/v1/areas", params={"q": q}).json()
        assert code in [a["code"] for a in body["data"]], (q, body)
    exact = http.get("/api/v1/areas", params={"q": "DEU"}).json()["data"][0]
    assert exact["code"] == "DEU" and exact["iso2"] == "DE" and exact["m49"] == "276" and exact["kind"] == "country"
    none = http.get("/api/v1/areas", params={"q": "Atlantis"}).json()
    assert none["total"] == 0 and none["data"] == []


def test_areas_listing_kinds_paging_csv(http):
    everything = http.get("/api/v1/areas", params={"page_size": 10_000}).json()
    assert everything["total"] > 250
    countries = http.get("/api/v1/areas", params={"kind": "country", "page_size": 10_000}).json()
    assert 190 < countries["total"] < everything["total"]
    assert all(a["kind"] == "country" for a in countries["data"])
    page2 = http.get("/api/v1/areas", params={"page_size": 10, "page": 2}).json()
    assert page2["data"] == everything["data"][10:20]
    csv = http.get("/api/v1/areas", params={"format": "csv", "kind": "country", "page_size": 10_000})
    assert pacsv.read_csv(io.BytesIO(csv.content)).num_rows == countries["total"]


def test_releases_provenance(http):
    body = http.get("/api/v1/releases").json()
    assert body["total"] >= 8
    sources = {r["source"] for r in body["releases"]}
    assert {"undesa_ims", "wdi", "unhcr", "wpp"} <= sources
    for release in body["releases"]:
        assert release["licence"] and release["published"] and release["files"]
        for f in release["files"]:
            assert len(f["sha256"]) == 64 and f["url"].startswith("http") and f["size"] > 0
    wdi = http.get("/api/v1/releases", params={"source": "wdi"}).json()
    assert wdi["total"] >= 2 and {r["source"] for r in wdi["releases"]} == {"wdi"}
    fdi = http.get("/api/v1/releases", params={"dataflow": "fdi_inflows"}).json()
    assert all(any(d["id"] == "fdi_inflows" for d in r["dataflows"]) for r in fdi["releases"]) and fdi["total"] >= 2


def test_report(http):
    body = http.get("/api/v1/report").json()
    assert body["total"] > 0 and body["counts"]
    first = body["data"][0]
    assert {"type", "severity", "source", "message", "file", "row", "column", "area", "n_obs"} <= set(first)
    source = first["source"]
    mine = http.get("/api/v1/report", params={"source": source, "page_size": 10_000}).json()
    assert mine["total"] > 0 and {i["source"] for i in mine["data"]} == {source}
    csv = http.get("/api/v1/report", params={"source": source, "format": "csv", "page_size": 100_000})
    assert pacsv.read_csv(io.BytesIO(csv.content)).num_rows == mine["total"]


def test_report_by_area(http):
    body = http.get("/api/v1/report", params={"page_size": 10_000}).json()
    areas = [i["area"] for i in body["data"] if i["area"]]
    if not areas:
        return
    area = areas[0]
    mine = http.get("/api/v1/report", params={"area": area, "page_size": 10_000}).json()
    assert mine["total"] >= 1 and all(i["area"] == area for i in mine["data"])
