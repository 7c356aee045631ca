"""The oracle figures of census_microdata/PROVENANCE.md, through both engines, and the two engines'
tables equal cell by cell on every real file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imdx.census.tables import DIMENSIONS
from tests.census.conftest import ENGINES

UCI, UCI_TEST = "uci_adult/adult.data", "uci_adult/adult.test"
EPH3, EPH4 = ("eph_argentina_toybase/toybase_individual_2016_03.rda",
              "eph_argentina_toybase/toybase_individual_2016_04.rda")
ONS = "ons_2011_teaching_file_subset/2011-census-microdata-small.csv"


def records(tab, **dims) -> int:
    cell = tab.cell(**dims)
    assert cell is not None, f"no cell {dims} in {tab.sample}"
    return int(cell["records"])


def units(tab, **dims) -> int:
    return int(tab.cell(**dims)["weight_units"])


@pytest.mark.parametrize("engine", ENGINES)
def test_uci_adult_countries_of_birth(tabulated, engine):
    tab = tabulated[UCI, engine]
    assert records(tab) == 32_561
    assert records(tab, birthplace="USA", nativity="NAT") == 29_170
    assert records(tab, birthplace="MEX", nativity="FOR") == 643
    assert records(tab, birthplace="_U", nativity="_U") == 583  # "?"
    assert records(tab, birthplace="PHL", nativity="FOR") == 198
    assert records(tab, birthplace="DEU", nativity="FOR") == 137
    assert records(tab, birthplace="CAN", nativity="FOR") == 121
    # not US-born and not "?": 2,808, of whom Puerto Rico (114) and the outlying areas (14) are native-born
    assert records(tab, nativity="FOR") == 2_808 - 114 - 14
    assert records(tab, birthplace="PRI", nativity="NAT") == 114
    assert records(tab, birthplace="_O", nativity="NAT") == 14
    residual = {i.message.split(" = ")[1].split(" means")[0]: i.n_obs for i in tab.report
                if i.type == "birthplace-residual"}
    assert residual == {"'?'": 583, "'South'": 80, "'Yugoslavia'": 16, "'Outlying-US(Guam-USVI-etc)'": 14}


@pytest.mark.parametrize("engine", ENGINES)
def test_uci_adult_weighted_share(tabulated, engine):
    """PROVENANCE: not US-born and not '?', weighted by fnlwgt, is a 10.05% share (of those whose country
    is known)."""
    tab = tabulated[UCI, engine]
    known = units(tab) - units(tab, birthplace="_U")
    assert round(100 * (known - units(tab, birthplace="USA")) / known, 2) == 10.05


@pytest.mark.parametrize("engine", ENGINES)
def test_uci_adult_test_file(tabulated, engine):
    tab = tabulated[UCI_TEST, engine]  # its first line is a "|" comment, its labels end with "."
    assert records(tab) == 16_281
    assert records(tab, birthplace="USA") == 14_662
    assert records(tab, birthplace="MEX") == 308


@pytest.mark.parametrize("engine", ENGINES)
def test_eph_2016_q4_weights(tabulated, engine, microdata):
    tab = tabulated[EPH4, engine]
    assert records(tab) == 2_000 and units(tab) == 929_754
    assert records(tab, nativity="FOR") == 72 and units(tab, nativity="FOR") == 50_410
    assert records(tab, nativity="_U") == 1  # CH15 = 9
    assert records(tab, nativity="NAT") == 1_475 + 183 + 269
    # CH15_COD is free text in any case: "CHI" 24 times and "chi" 4 times among the foreign-born, both Chile
    from imdx.sources.rfiles import read_r

    raw = read_r(microdata / EPH4, "toybase_individual_2016_04")["toybase_individual_2016_04"]
    foreign = raw[raw["CH15"].isin([4, 5])]
    chile = foreign["CH15_COD"].astype(str).str.upper() == "CHI"
    assert (foreign["CH15_COD"].astype(str) == "CHI").sum() == 24
    assert records(tab, birthplace="CHL", nativity="FOR") == chile.sum() == 28
    assert units(tab, birthplace="CHL", nativity="FOR") == int(foreign.loc[chile, "PONDERA"].sum())
    # "Est" is not a code the mapping knows (Estados Unidos? Estonia?): reported at its row, counted as _U
    unmapped = [i for i in tab.report if i.type == "unmapped-birthplace"]
    first_est = int(np.flatnonzero(raw["CH15_COD"].astype(str) == "Est")[0]) + 1
    assert [(i.row, i.n_obs) for i in unmapped] == [(first_est, 1)]
    # CH15 = 4 is a bordering country: Peru is not one
    outside = [i for i in tab.report if i.type == "birthplace-outside-category"]
    assert outside and "Per" in outside[0].message and raw.iloc[outside[0].row - 1]["CH15"] == 4


@pytest.mark.parametrize("engine", ENGINES)
def test_eph_2016_q3_weights(tabulated, engine):
    tab = tabulated[EPH3, engine]
    assert units(tab) == 937_869 and records(tab, nativity="FOR") == 56 and units(tab, nativity="FOR") == 40_522


@pytest.mark.parametrize("engine", ENGINES)
def test_ons_country_of_birth_and_regions(tabulated, engine):
    tab = tabulated[ONS, engine]
    assert records(tab) == 50_000 and not tab.weighted
    assert records(tab, nativity="NAT") == 44_454
    assert records(tab, nativity="FOR") == 5_020
    assert records(tab, nativity="_Z") == 526  # -9: no code required, never summed as a birthplace
    foreign_by_region = {"E12000001": 295, "E12000002": 462, "E12000003": 690, "E12000004": 1_967,
                         "E12000005": 456, "E12000009": 1_150}
    for region, n in foreign_by_region.items():
        assert records(tab, region=region, nativity="FOR") == n
    assert records(tab, region="E12000003") == 11_067
    assert "birthplace_sex" in {t.name for t in tab.skipped}  # the file says UK or not, no country


@pytest.mark.parametrize("name", [UCI, UCI_TEST, EPH3, EPH4, ONS])
def test_engines_equal_cell_by_cell(tabulated, name):
    duck, spark = tabulated[name, "duckdb"], tabulated[name, "spark"]
    key = list(DIMENSIONS)
    a = duck.cells.sort_values(key).reset_index(drop=True)
    b = spark.cells.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert [(i.type, i.file, i.row, i.column, i.n_obs) for i in duck.report] == \
        [(i.type, i.file, i.row, i.column, i.n_obs) for i in spark.report]
    pd.testing.assert_frame_equal(duck.observations(), spark.observations())
