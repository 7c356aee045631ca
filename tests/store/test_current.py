"""Current values kept in memory (:meth:`Store.keep_current`): the same rows as the store's query, in the same
order, for any filters; never more memory than given. On ``small_store`` (real releases of UN DESA, UN WPP,
the World Bank), in each backend."""

from __future__ import annotations

import random
from datetime import date

import orjson
import pandas as pd
import pytest

from imdx.api.encode import records
from imdx.store import connect


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def small(request, small_store, mirror, areas, tmp_path_factory):
    """``small_store``, and the same releases in a PostgreSQL database."""
    if request.param == "duckdb":
        return small_store
    from tests.conftest import load_small

    url = request.getfixturevalue("pg_database")()
    with connect(url) as store:
        load_small(store, mirror, tmp_path_factory.mktemp("small-cache"), areas)
    return url


@pytest.fixture(scope="module")
def stores(small):
    with connect(small, read_only=True) as queried, connect(small, read_only=True) as kept:
        kept.keep_current(2**30)
        yield queried, kept


def _filters(rng: random.Random, flow, full) -> dict[str, list]:
    """One to three dimensions, each with one to three values held, sometimes one no observation holds or none."""
    out = {}
    for dim in rng.sample(flow.dimension_names, rng.randint(1, min(3, len(flow.dimension_names)))):
        column = full[dim].to_pylist()
        out[dim] = list({column[rng.randrange(len(column))] for _ in range(rng.randint(1, 3))})
        if rng.random() < 0.2:
            out[dim].append(1800 if dim == "year" else "NOWHERE")
    if rng.random() < 0.1:
        out[rng.choice(flow.dimension_names)] = []
    return out


def test_the_copy_answers_as_the_query(stores):
    queried, kept = stores
    rng = random.Random(13)
    compared = 0
    for flow_id in queried.servable_dataflows():
        full = queried.select(flow_id, {})
        assert kept.select(flow_id, {}).equals(full), flow_id
        if full.num_rows == 0:
            assert kept.select(flow_id, {"year": [2020]}).equals(queried.select(flow_id, {"year": [2020]}))
            continue
        rows = kept.current(flow_id, {})
        assert rows.total == full.num_rows and rows.table().equals(full)
        assert rows.json() == orjson.dumps(records(full))  # every row of every dataflow, encoded from the copy
        flow, sources = queried.dataflow(flow_id), sorted(set(full["source"].to_pylist()))
        for _ in range(12):
            filters = _filters(rng, flow, full)
            source = rng.choice([None, None, sources[0], "no_such_source"])
            columns = rng.choice([None, ["value"], ["value", "source", "edition", "note"]])
            expected = queried.select(flow_id, filters, source=source, columns=columns)
            got = kept.select(flow_id, filters, source=source, columns=columns)
            assert got.equals(expected), (flow_id, filters, source, columns)
            rows = kept.current(flow_id, filters, source=source)
            assert rows.total == got.num_rows
            if columns is None:  # a page of them, decoded and as JSON
                start = rng.randrange(rows.total + 1)
                stop = min(rows.total, start + rng.choice([0, 1, 7, 1000]))
                page = expected.slice(start, stop - start)
                assert rows.table(start, stop).equals(page), (flow_id, filters, source, start, stop)
                assert rows.json(start, stop) == orjson.dumps(records(page)), (flow_id, filters, source, start)
            compared += 1
    assert compared > 100
    assert queried.current("migrant_stock", {}) is None  # not kept: queried


def test_editions_and_dates_are_still_queried(stores):
    queried, kept = stores
    for args in ({"edition": "2020"}, {"as_of": date(2021, 1, 1)}):
        assert kept.select("migrant_stock", {"destination": ["DEU"]}, **args).equals(
            queried.select("migrant_stock", {"destination": ["DEU"]}, **args))


def test_copies_stay_within_the_memory_given(small):
    with connect(small, read_only=True) as store:
        store.keep_current(1)  # too little for any copy: every read is a query
        assert store.select("births", {"area": ["KEN"]}).num_rows > 0
        assert store.current("births", {"area": ["KEN"]}) is None
        budget = 4 * 2**20
        store.keep_current(budget)
        for flow_id in store.servable_dataflows():
            store.select(flow_id, {"year": [2020]})
        held = [c for _, c in store._copies.values() if c is not None]
        assert held and len(held) < len(store._copies)  # some fit, some did not
        assert sum(c.nbytes for c in held) <= budget


def test_measures_come_from_the_copy_as_from_the_query(backend, areas):
    """A dataflow's measures (harmonised_flows: lower, upper, null where not given) are in the copy: every
    select, columns and source gives what the query gives, also after a later release moves the current values."""
    from imdx.ingest import ingest
    from imdx.store.base import ReleaseRecord

    def release(key, published, rows):
        record = ReleaseRecord("imdx-estimates", key, f"flows {key}", published, date.fromisoformat(published), "test")
        return record, {"harmonised_flows": pd.DataFrame(rows)}

    esp_bel = {"origin": "ESP", "destination": "BEL", "method": "de_beer_2010", "year": 2010}
    with backend.open() as store:
        def both(*args, **kwargs):
            store.keep_current(0)
            queried = store.select(*args, **kwargs)
            store.keep_current(2**30)
            kept = store.select(*args, **kwargs)
            assert store._copies["harmonised_flows"][1] is not None  # answered from the copy
            assert kept.equals(queried), (args, kwargs)
            return kept

        ingest(store, *release("a", "2025-01-01", [
            {**esp_bel, "value": 5951.0, "lower": 5835.0, "upper": 6067.0},
            {**esp_bel, "origin": "BEL", "destination": "ESP", "value": 4000.0}]), areas=areas.copy())
        table = both("harmonised_flows", {})
        assert table.column_names[table.column_names.index("value"):][:3] == ["value", "lower", "upper"]
        assert both("harmonised_flows", {"origin": ["BEL"]})["lower"].to_pylist() == [None]
        assert both("harmonised_flows", {"origin": ["ESP"]}, columns=["upper"])["upper"].to_pylist() == [6067.0]
        ingest(store, *release("b", "2025-06-01", [{**esp_bel, "value": 6000.0, "lower": 5900.0, "upper": 6100.0}]),
               areas=store.areas())
        now = both("harmonised_flows", {"origin": ["ESP"]}, source="imdx-estimates")
        assert now.select(["value", "lower", "upper"]).to_pylist() == [{"value": 6000.0, "lower": 5900.0,
                                                                        "upper": 6100.0}]


def test_read_false_answers_only_from_a_copy_in_memory(small):
    """``current(read=False)`` (what the server calls on its event loop) never reads a copy from the store."""
    with connect(small, read_only=True) as store:
        store.keep_current(2**30)
        assert store.current("births", {"area": ["KEN"]}, read=False) is None and "births" not in store._copies
        rows = store.current("births", {"area": ["KEN"]})  # reads it
        assert rows.total == store.select("births", {"area": ["KEN"]}).num_rows > 0
        assert store.current("births", {"area": ["KEN"]}, read=False).total == rows.total
        assert store.current("births", {"area": ["NOWHERE"], "year": [99999]}, read=False).json() == b"[]"


def test_hostile_texts_and_numbers_encode_as_the_decoded_rows(backend, areas):
    """Notes with quotes, backslashes, newlines, markup, formula starts and emoji, and values at the edges of a
    double (NaN, infinities, -0.0, the smallest and largest): the JSON written from the copy is byte for byte what
    orjson writes for the decoded rows, in each backend."""
    from imdx.ingest import ingest
    from imdx.store.base import ReleaseRecord

    notes = ['say "hi"', "back\\slash", "new\nline\ttab", "</script><b>", "=HYPERLINK(\"x\")", "🙂 ünïcödé", None]
    values = [float("nan"), float("inf"), float("-inf"), -0.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]
    rows = [{"origin": o, "destination": "BEL", "method": "de_beer_2010", "year": 2000 + i, "value": v, "note": n}
            for i, (v, n) in enumerate(zip(values, notes)) for o in ("ESP", "FRA")]
    record = ReleaseRecord("imdx-estimates", "h", "hostile", "2025-01-01", date(2025, 1, 1), "test")
    with backend.open() as store:
        ingest(store, record, {"harmonised_flows": pd.DataFrame(rows)}, areas=areas.copy())
        store.keep_current(2**30)
        for filters in ({}, {"origin": ["FRA"]}, {"year": [2001, 2005]}):
            got = store.current("harmonised_flows", filters)
            decoded = store.select("harmonised_flows", filters)
            assert got.total == decoded.num_rows > 0
            assert got.json() == orjson.dumps(records(decoded)), filters
            assert got.json(1, 3) == orjson.dumps(records(decoded.slice(1, 2)))
        assert {r["note"] for r in orjson.loads(store.current("harmonised_flows", {}).json())} == set(notes)
