"""Both backends, loaded with the same real releases, give the same answers: every observation of every
dataflow (current, by edition, as of a date), the releases, editions, areas and the issue report."""

from __future__ import annotations

import pytest

from tests.store.conftest import DuckDBBackend, PostgresBackend
from tests.store.test_conformance import FDI, _load_releases

RELEASES = FDI + [("wpp", "wpp2024"), ("undesa_ims", "ims2019-total"), ("undesa_ims", "ims2020-destination")]


@pytest.fixture(scope="module")
def stores(mirror, tmp_path_factory, pg_database):
    tmp = tmp_path_factory.mktemp("same")
    opened = []
    for backend in (DuckDBBackend(tmp), PostgresBackend(pg_database)):
        store = backend.open()
        _load_releases(store, mirror, tmp, RELEASES)
        opened.append(store)
    yield opened
    for store in opened:
        store.close()


def test_every_observation_is_the_same(stores):
    duck, pg = stores
    flows = duck.servable_dataflows()
    assert flows == pg.servable_dataflows()
    compared = 0
    for flow in flows:
        for how in ({}, {"edition": "2019"}):
            a, b = duck.select(flow, {}, **how), pg.select(flow, {}, **how)
            assert a.schema == b.schema, flow
            assert a.equals(b), (flow, how)
            compared += a.num_rows
    assert compared > 200_000


def test_as_of_and_filters_are_the_same(stores):
    from datetime import date

    duck, pg = stores
    for flow, filters in (("migrant_stock", {"destination": ["DEU", "FRA", "001"], "sex": ["_T"]}),
                          ("fdi_inflows", {"area": ["IRL", "LUX"], "year": list(range(2000, 2020))})):
        for day in (date(2019, 1, 1), date(2020, 1, 1), date(2024, 1, 1)):
            a = duck.select(flow, filters, as_of=day)
            assert a.equals(pg.select(flow, filters, as_of=day)), (flow, day)


def test_provenance_areas_and_issues_are_the_same(stores):
    duck, pg = stores
    skip = ["loaded_at"]
    assert duck.releases().drop(columns=skip).equals(pg.releases().drop(columns=skip))
    assert duck.editions().equals(pg.editions())
    files = ["release_id", "name", "url", "sha256", "size", "retrieved_from"]
    assert duck.release_files()[files].equals(pg.release_files()[files])
    a, b = duck.areas(), pg.areas()
    assert a.frame.fillna("").astype(str).sort_index().equals(b.frame.fillna("").astype(str).sort_index())
    for text in ("Germany", "Korea, Rep.", "Republic of Korea", "Türkiye", "276", "XKX"):
        assert a.resolve(text) == b.resolve(text), text
    ia, ib = duck.issues(), pg.issues()
    assert len(ia) > 100 and ia.fillna("").astype(str).equals(ib.fillna("").astype(str))
    for flow in ("migrant_stock", "births"):
        assert duck.distinct(flow, "year") == pg.distinct(flow, "year")
        assert duck.distinct(flow, duck.dataflow(flow).dimension_names[0]) == \
            pg.distinct(flow, pg.dataflow(flow).dimension_names[0])
