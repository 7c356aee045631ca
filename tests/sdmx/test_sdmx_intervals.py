"""Intervals in SDMX: an estimate's ``lower``/``upper`` are the observation attributes ``LOWER_BOUND`` and
``UPPER_BOUND`` of its dataflow's DSD and of every data message (SDMX-ML structure-specific and generic,
SDMX-JSON, SDMX-CSV 1.0 and 2.0), read back by sdmx1 against the served structure and equal to the store's;
a dataflow without intervals carries no such attribute, empty or not. On both backends (the conftest's
store), over HTTP."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest
import sdmx

from tests.sdmx.conftest import HARMONISED_YEARS

SS = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
GENERIC = "application/vnd.sdmx.genericdata+xml;version=2.1"
JSON = "application/vnd.sdmx.data+json;version=1.0.0"
CSV = "application/vnd.sdmx.data+csv;version=1.0.0"
CSV2 = "application/vnd.sdmx.data+csv;version=2.0.0"
BOUNDS = ("LOWER_BOUND", "UPPER_BOUND")
KEY = "ESP+FRA.BEL+DEU+ITA."  # origin.destination.method: a few corridors both sides report


def structure(http, flow):
    answer = http.get(f"/sdmx/datastructure/IMDX/DSD_{flow}", params={"references": "children"})
    assert answer.status_code == 200, answer.text
    return sdmx.read_sdmx(io.BytesIO(answer.content))


def test_the_dsd_declares_the_bounds_as_numeric_conditional_observation_attributes(http):
    msg = structure(http, "HARMONISED_FLOWS")
    dsd = msg.structure["DSD_HARMONISED_FLOWS"]
    for aid, word in zip(BOUNDS, ("Lower", "Upper")):
        attr = dsd.attributes.get(aid)
        assert attr.usage_status.name == "conditional"  # a value without an interval carries none
        assert type(attr.related_to).__name__ == "PrimaryMeasureRelationship"  # observation level
        facet = attr.local_representation.non_enumerated[0]
        assert facet.value_type.name == "double"
        assert str(msg.concept_scheme["CS_IMDX"][aid].name).startswith(word)
    # the others are as before, and a dataflow without measures has no bounds
    assert {"OBS_STATUS", "NOTE", "SOURCE"} <= {a.id for a in dsd.attributes}
    for flow in ("REPORTED_FLOWS", "POPULATION"):
        plain = structure(http, flow).structure[f"DSD_{flow}"]
        assert not set(BOUNDS) & {a.id for a in plain.attributes}


def stored(store_ro) -> pd.DataFrame:
    frame = store_ro.select("harmonised_flows", {"origin": ["ESP", "FRA"], "destination": ["BEL", "DEU", "ITA"]}
                            ).to_pandas()
    assert len(frame) >= 6 and sorted(frame["year"].unique()) == HARMONISED_YEARS
    assert frame[["lower", "upper"]].notna().all().all()
    return frame.set_index(["origin", "destination", "method", "year"])[["value", "lower", "upper"]].sort_index()


def read_back(http, flow, key, media, dsd) -> pd.DataFrame:
    """The answer read by sdmx1 (SDMX-CSV 1.0: pandas), one row per observation: dimensions → value and bounds."""
    answer = http.get(f"/sdmx/data/{flow}/{key}", headers={"accept": media})
    assert answer.status_code == 200, answer.text
    if media == CSV:
        frame = pd.read_csv(io.BytesIO(answer.content), dtype={"TIME_PERIOD": str})
        return frame.rename(columns={"OBS_VALUE": "value"})
    kw = {"format": "csv", "structure": dsd} if media == CSV2 else {} if media == JSON else {"structure": dsd}
    msg = sdmx.read_sdmx(io.BytesIO(answer.content), **kw)
    rows = []
    for ds in msg.data:
        for o in ds.obs:
            row = {k: kv.value for k, kv in o.key.values.items()}
            row["value"] = o.value
            row.update({a: str(v.value) for a, v in o.attached_attribute.items()})
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("media", [SS, GENERIC, JSON, CSV, CSV2])
def test_every_format_carries_the_stored_interval(http, store_ro, media):
    dsd = structure(http, "HARMONISED_FLOWS").structure["DSD_HARMONISED_FLOWS"]
    want = stored(store_ro)
    got = read_back(http, "HARMONISED_FLOWS", KEY, media, dsd)
    assert set(BOUNDS) <= set(got.columns)
    got["TIME_PERIOD"] = got["TIME_PERIOD"].astype(int)
    got = got.set_index(["ORIGIN", "DESTINATION", "METHOD", "TIME_PERIOD"]).sort_index()
    got.index.names = want.index.names
    assert list(got.index) == list(want.index)
    for col, aid in (("value", "value"), ("lower", "LOWER_BOUND"), ("upper", "UPPER_BOUND")):
        for a, b in zip(want[col], got[aid].astype(float)):
            assert math.isclose(a, b, rel_tol=1e-12), (col, a, b)  # written in full (repr), read back exact
    assert (got["LOWER_BOUND"].astype(float) <= got["value"].astype(float)).all()
    assert (got["value"].astype(float) <= got["UPPER_BOUND"].astype(float)).all()


@pytest.mark.parametrize("media", [SS, GENERIC, JSON, CSV, CSV2])
def test_a_dataflow_without_intervals_emits_no_bound_attributes(http, media):
    # origin.destination.reporter.criterion.coverage.sex: both reports of Spain to Belgium
    answer = http.get("/sdmx/data/REPORTED_FLOWS/ESP.BEL....", headers={"accept": media})
    assert answer.status_code == 200, answer.text
    assert b"5835" in answer.content and b"6067" in answer.content  # 2010 as reported by Spain and by Belgium
    assert b"LOWER_BOUND" not in answer.content and b"UPPER_BOUND" not in answer.content


def test_detail_dataonly_leaves_the_bounds_out_and_no_empty_attribute_is_written(http):
    full = http.get(f"/sdmx/data/HARMONISED_FLOWS/{KEY}", headers={"accept": SS}).text
    assert full.count("LOWER_BOUND=") == full.count("<Obs ") == full.count("UPPER_BOUND=") > 0
    assert 'LOWER_BOUND=""' not in full and 'UPPER_BOUND=""' not in full
    bare = http.get(f"/sdmx/data/HARMONISED_FLOWS/{KEY}", params={"detail": "dataonly"},
                    headers={"accept": SS}).text
    assert "<Obs " in bare and "LOWER_BOUND" not in bare
    as_json = http.get(f"/sdmx/data/HARMONISED_FLOWS/{KEY}", params={"detail": "dataonly"},
                       headers={"accept": JSON}).json()
    assert not [a for a in as_json["structure"]["attributes"]["observation"] if a["id"] in BOUNDS]


@pytest.mark.parametrize(("media", "suffix", "with_structure"), [(SS, "xml", True), (CSV, "csv", False)])
def test_imdx_reads_its_own_intervals_back_as_lower_and_upper(http, store_ro, tmp_path, areas, media, suffix,
                                                              with_structure):
    """SDMX in → the interval comes back as the dataflow's measures, not as a note (SDMX-CSV 1.0: known by the
    column names alone)."""
    from imdx.sources.sdmx import load_sdmx
    from imdx.store.duckdb_store import DuckDBStore

    path = tmp_path / f"harmonised.{suffix}"
    path.write_bytes(http.get(f"/sdmx/data/HARMONISED_FLOWS/{KEY}", headers={"accept": media}).content)
    spath = tmp_path / "structure.xml"
    spath.write_bytes(http.get("/sdmx/datastructure/IMDX/DSD_HARMONISED_FLOWS",
                               params={"references": "children"}).content)
    with DuckDBStore(tmp_path / "in.duckdb") as store:
        outcome = load_sdmx(store, file=path, structure=spath if with_structure else None, areas=areas)
        assert outcome.status == "loaded"
        flow = outcome.dataflow
        assert store.dataflow(flow).measures == ("lower", "upper")
        back = store.select(flow, {}).to_pandas()
    assert "LOWER_BOUND" not in " ".join(back["note"].dropna())
    want = stored(store_ro)
    assert sorted(back["lower"]) == pytest.approx(sorted(want["lower"]), rel=1e-12)
    assert sorted(back["upper"]) == pytest.approx(sorted(want["upper"]), rel=1e-12)
