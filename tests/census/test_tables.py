"""The tables: margins that add up, small cells suppressed for both measures, cross-tabs on request,
year of arrival and citizenship."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imdx.census.errors import CensusError
from imdx.census.mapping import from_dict, load_mapping
from imdx.census.tables import DIMENSIONS, TOTAL, age_code, parse_table
from imdx.census.tabulate import tabulate

EPH4 = "eph_argentina_toybase/toybase_individual_2016_04.rda"
UCI = "uci_adult/adult.data"


def table_cells(tab, table) -> pd.DataFrame:
    c = tab.cells
    mask = np.ones(len(c), bool)
    for dim in DIMENSIONS:
        if dim not in table.dims:
            mask &= c[dim].to_numpy() == TOTAL
    if "age" in table.dims:
        codes = {age_code(a, table.age) for a in range(121)} | {TOTAL, "_U"}
        mask &= c["age"].isin(codes).to_numpy()
    return c[mask]


@pytest.mark.parametrize("name", [EPH4, UCI])
def test_every_margin_adds_up(microdata, areas, duckdb_engine, name):
    mapping = load_mapping("eph_toybase_individual" if name == EPH4 else "uci_adult")
    tab = tabulate(microdata / name, mapping, areas, engine=duckdb_engine, min_cell=0)
    checked = 0
    for table in tab.tables:
        cells = table_cells(tab, table)
        for dim in table.dims:
            others = [d for d in table.dims if d != dim]
            parts = cells[cells[dim] != TOTAL].groupby(others)[["records", "weight_units"]].sum() if others else \
                cells[cells[dim] != TOTAL][["records", "weight_units"]].sum().to_frame().T
            totals = cells[cells[dim] == TOTAL].set_index(others)[["records", "weight_units"]] if others else \
                cells[cells[dim] == TOTAL][["records", "weight_units"]].reset_index(drop=True)
            if others:
                pd.testing.assert_frame_equal(parts.sort_index(), totals.sort_index(), check_names=False)
            else:
                assert parts.to_numpy().tolist() == totals.to_numpy().tolist()
            checked += len(totals)
    assert checked > 300


def test_small_cells_suppressed_for_both_measures(microdata, areas, duckdb_engine):
    tab = tabulate(microdata / EPH4, load_mapping("eph_toybase_individual"), areas, engine=duckdb_engine, min_cell=5)
    small = tab.cells[(tab.cells["records"] > 0) & (tab.cells["records"] < 5)]
    assert len(small) and small["suppressed"].all() and not tab.cells.loc[tab.cells["records"] >= 5, "suppressed"].any()
    obs = tab.observations()
    hidden = obs[obs["obs_status"] == "L"]
    assert len(hidden) == 2 * len(small) and hidden["value"].isna().all()
    assert set(hidden["measure"]) == {"PERSONS", "RECORDS"}
    haiti = obs[(obs["birthplace"] == "HTI") & (obs["sex"] == TOTAL) & (obs["age"] == TOTAL) & (obs["region"] == TOTAL)
                & (obs["nativity"] == "FOR")]
    assert list(haiti["obs_status"]) == ["L", "L"]  # one person born in Haiti: not shown
    shown = obs[(obs["obs_status"] == "A") & (obs["measure"] == "RECORDS")]
    assert shown["value"].min() >= 5
    none = tabulate(microdata / EPH4, load_mapping("eph_toybase_individual"), areas, engine=duckdb_engine, min_cell=0)
    assert not none.cells["suppressed"].any()


def test_cross_tab_on_request(microdata, areas, duckdb_engine):
    table = parse_table("birthplace, region, age_broad")
    assert table.dims == ("nativity", "birthplace", "region", "age") and table.age == "broad"
    tab = tabulate(microdata / EPH4, load_mapping("eph_toybase_individual"), areas, engine=duckdb_engine,
                   tables=[table], min_cell=0)
    assert int(tab.cell(nativity="FOR", birthplace="BOL", region="1")["records"]) > 0
    assert set(tab.cells["age"]) <= {"Y0T14", "Y15T24", "Y25T64", "Y_GE65", TOTAL}
    with pytest.raises(CensusError, match="not one"):
        parse_table("birthplace,income")
    with pytest.raises(CensusError, match="declares no citizenship"):
        tabulate(microdata / EPH4, load_mapping("eph_toybase_individual"), areas, engine=duckdb_engine,
                 tables=[parse_table("citizenship")])


def test_year_of_arrival_and_citizenship(microdata, areas, engine, tmp_path):
    """No real file in the mirror has a year of arrival or a citizenship: these columns are made up here,
    from UCI's real birthplaces and ages (arrival at 20, citizenship the birthplace but for every third)."""
    frame = pd.read_csv(microdata / UCI, header=None, skipinitialspace=True, usecols=[0, 2, 9, 13],
                        names=["age", "fnlwgt", "sex", "country"])
    born_us = frame["country"] == "United-States"
    frame["arrived"] = np.where(born_us | (frame["age"] < 20), None, (1994 - frame["age"] + 20).astype(str))
    frame.loc[5, "arrived"] = "2031" if not born_us[5] else frame.loc[5, "arrived"]
    frame["citizen"] = np.where(np.arange(len(frame)) % 3 == 0, "United-States", frame["country"])
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "persons.parquet")
    mapping = from_dict({"id": "made_up", "title": "UCI with made-up arrival and citizenship", "country": "USA",
                         "year": 1994, "format": "parquet", "weight": {"column": "fnlwgt"},
                         "birthplace": {"column": "country", "systems": ["name"],
                                        "codes": {"?": "_U", "United-States": "USA", "South": "_O"}},
                         "citizenship": {"column": "citizen", "systems": ["name"],
                                         "codes": {"?": "_U", "United-States": "USA", "South": "_O"}},
                         "sex": {"column": "sex", "codes": {"Male": "M", "Female": "F"}},
                         "age": {"column": "age"}, "year_of_arrival": {"column": "arrived"}})
    tab = tabulate(tmp_path / "persons.parquet", mapping, areas, engine=engine, min_cell=0)
    assert {"birthplace_arrival", "birthplace_citizenship"} <= {t.name for t in tab.tables}
    natives = tab.cells[(tab.cells["nativity"] == "NAT") & (tab.cells["year_of_arrival"] != TOTAL)]
    assert set(natives["year_of_arrival"]) == {"_Z"}
    mexico = tab.cells[(tab.cells["birthplace"] == "MEX") & (tab.cells["year_of_arrival"] != TOTAL)
                       & (tab.cells["nativity"] == "FOR")]
    assert int(mexico["records"].sum()) == 643
    expected = frame[(frame["country"] == "Mexico") & frame["arrived"].notna()]["arrived"].astype(int)
    periods = (expected - expected % 5).astype(str) + "-" + (expected - expected % 5 + 4).astype(str)
    got = mexico[mexico["year_of_arrival"].str.contains("-")].set_index("year_of_arrival")["records"]
    assert got.sort_index().to_dict() == periods.value_counts().sort_index().to_dict()
    assert int(tab.cell(nativity="FOR", birthplace="MEX", citizenship="USA")["records"]) == \
        int(((frame["country"] == "Mexico") & (np.arange(len(frame)) % 3 == 0)).sum())
    if not born_us[5]:
        assert any(i.type == "arrival-out-of-range" and i.row == 6 for i in tab.report)
