"""Every route family answers the same from PostgreSQL as from DuckDB: the same store (every source, and the
portal's estimates) in each backend, served by the app ``imdx serve`` runs, asked the same questions over HTTP:
every documented API route (each dataflow's data route with one of its areas, in JSON, CSV and Parquet,
editions pinned and as of a date, revisions, the report, areas, the library, the registry, the census), the
SDMX routes, and the portal's pages. Answers must be identical, byte for byte or as parsed JSON.

This runs in every test run; the API and portal suites themselves run on PostgreSQL when
``IMDX_TEST_BACKENDS=duckdb,postgres`` (tests/conftest.py)."""

from __future__ import annotations

import io
import json
import re

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.portal.test_pages import PAGES

SDMX = ["/sdmx/dataflow", "/sdmx/dataflow/IMDX/MIGRANT_STOCK",
        "/sdmx/datastructure/IMDX/DSD_BIRTHS?references=children", "/sdmx/codelist/IMDX/CL_AREA",
        "/sdmx/data/BIRTHS/DEU+FRA?startPeriod=2015", "/sdmx/data/MIGRANT_STOCK/DEU.MEX._T._T?format=jsondata",
        "/sdmx/data/IMDX,NET_MIGRATION,1.0/DEU?format=csvdata",
        "/sdmx/data/ESTIMATED_FLOWS/SYR.DEU...?format=genericdata"]
#: when a file was fetched, a release loaded, a message prepared: moments of each load and answer, not data
MOMENTS = {"loaded_at", "retrieved_at", "prepared"}
MORE_PAGES = ["/flows?grouping=sdg", "/corridor/SYR/DEU", "/country/USA?edition=2019", "/search?q=refugees"]


class Served:
    """A client of one backend's server, and how to name its releases: a release's id is its place in the load
    order, which differs from load to load (independent releases are written as soon as they are prepared), so
    answers are compared with each id replaced by the release's source and key."""

    def __init__(self, client: httpx.Client, store):
        self.client = client
        self.names = {int(r.release_id): f"{r.source}/{r.key}" for r in store.releases().itertuples()}

    def answer(self, url: str, params: dict | None) -> tuple[int, str, object]:
        r = self.client.get(url, params=params)
        kind = r.headers.get("content-type", "")
        if kind.startswith("application/json"):
            body: object = self._json(r.json())
        elif "parquet" in kind:
            body = self._frame(pq.read_table(io.BytesIO(r.content)).to_pandas()).to_dict("list")
        elif kind.startswith("text/csv"):
            body = self._frame(pd.read_csv(io.BytesIO(r.content), dtype=str, keep_default_na=False)).to_dict("list")
        else:
            body = re.sub(r"<mes:Prepared>[^<]*</mes:Prepared>", "", self._text(r.text))
        return r.status_code, kind, body

    def _text(self, text: str) -> str:
        return re.sub(r"release([-/ ])(\d+)\b", lambda m: f"release{m[1]}{self.names.get(int(m[2]), m[2])}", text)

    def _json(self, value):
        if isinstance(value, dict):
            return {k: self.names.get(v, v) if k == "release_id" and isinstance(v, int) else self._json(v)
                    for k, v in value.items() if k not in MOMENTS}
        if isinstance(value, list):
            items = [self._json(v) for v in value]
            if items and all(isinstance(v, dict) and "release_id" in v for v in items):  # in load order: any order
                items.sort(key=lambda v: json.dumps(v, sort_keys=True, default=str))
            return items
        return self._text(value) if isinstance(value, str) else value

    def _frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        if "release_id" in frame.columns:
            frame["release_id"] = [self.names.get(int(v), v) if str(v).isdigit() else v for v in frame["release_id"]]
        frame = frame.map(lambda v: self._text(v) if isinstance(v, str) else v)
        return frame.astype(object).where(frame.notna(), None)  # missing as None, which compares equal


@pytest.fixture(scope="module")
def both(portal_duckdb, portal_postgres, vendor):
    from tests.portal.conftest import serving

    with serving(portal_duckdb) as duck, serving(portal_postgres) as pg, \
            httpx.Client(base_url=duck["url"], timeout=120) as a, httpx.Client(base_url=pg["url"], timeout=120) as b:
        yield Served(a, duck["store"]), Served(b, pg["store"])


def _same(both, url: str, params: dict | None = None) -> int:
    """The status of the answer, which both backends gave alike."""
    duck, pg = (served.answer(url, params) for served in both)
    assert duck == pg, f"{url} {params or ''}"
    return duck[0]


def _api_questions(client: httpx.Client) -> list[tuple[str, dict]]:
    """Each documented API route with its placeholders filled; a data route with one of its dataflow's areas."""
    questions = []
    for path, item in client.get("/api/v1/openapi.json").json()["paths"].items():
        if "get" not in item or not path.startswith("/api/") or path.startswith("/api/v1/cases"):
            continue
        url = (path.replace("{dataflow}", "migrant_stock").replace("{id}", "migrant_stock")
               .replace("{area}", "DEU").replace("{code}", "DEU").replace("{kind}", "organisation"))
        params: dict = {}
        if path.startswith("/api/v1/data/") and "{" not in path:
            flow = client.get(f"/api/v1/dataflows/{path.rsplit('/', 1)[-1]}").json()
            areas = [d for d in flow["dimensions"] if d["codelist"] == "area" and d.get("codes")]
            params = {areas[0]["name"]: next(iter(areas[0]["codes"]))} if areas else {}
        elif path == "/api/v1/data/{dataflow}":
            params = {"destination": "DEU"}
        elif "/diff/" in path:
            params = {"from": "2019", "to": "2020", "destination": "DEU"}
        elif path == "/api/v1/registry/gaps":
            params = {"country": "KEN"}
        elif path == "/api/v1/report":  # its pages follow the load order: one source's fits one page
            params = {"source": "wpp", "page_size": "1000"}
        questions.append((url, params))
    return questions


def test_every_api_route_answers_the_same(both):
    questions = _api_questions(both[0].client)
    assert len(questions) > 40
    answered = sum(_same(both, url, params) == 200 for url, params in questions)
    assert answered > 35
    flow = "/api/v1/data/migrant_stock"
    for params in ({"destination": "DEU", "year": "2020", "format": "csv"},
                   {"destination": "DEU", "year": "2020", "format": "parquet"},
                   {"year": "2020", "format": "csv", "page_size": "10000"},
                   {"destination": "DEU", "edition": "2019"}, {"destination": "DEU", "as_of": "2020-01-01"},
                   {"destination": "NOWHERE"}, {"origin": "DEU\x00"}):
        _same(both, flow, params)
    _same(both, "/api/v1/data/estimated_flows", {"origin": "SYR", "destination": "DEU", "format": "csv"})
    _same(both, "/api/v1/data/estimated_region_flows", {"grouping": "sdg", "format": "csv"})


def test_every_sdmx_route_answers_the_same(both):
    assert all(_same(both, url) == 200 for url in SDMX)
    assert _same(both, "/sdmx/data/BIRTHS/NOWHERE") == 404


@pytest.mark.parametrize("url", PAGES + MORE_PAGES)
def test_every_page_is_the_same(both, url):
    assert _same(both, url) == 200
