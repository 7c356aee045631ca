"""Synthetic person files: fitted to a real file, any size, partitioned Parquet; and the two engines'
tables equal cell by cell on ten million synthetic records."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from imdx.census.errors import CensusError
from imdx.census.mapping import load_mapping
from imdx.census.synthetic import MAPPING_FILE, fit, generate
from imdx.census.tables import DIMENSIONS
from imdx.census.tabulate import tabulate

ROWS = 10_000_000


@pytest.fixture(scope="session")
def uci_model(microdata, areas):
    return fit(microdata / "uci_adult" / "adult.data", load_mapping("uci_adult"), areas)


@pytest.fixture(scope="session")
def ten_million(uci_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic") / "persons"
    generate(uci_model, ROWS, folder, partitions=4, seed=7)
    return folder


def test_model_is_the_real_files_joint_distribution(uci_model):
    cells = uci_model.cells
    assert set(cells.columns) == {"birthplace", "nativity", "sex", "age", "p"}
    assert abs(cells["p"].sum() - 1) < 1e-12
    foreign = cells.loc[cells["nativity"] == "FOR", "p"].sum()
    assert abs(foreign - 2_680 / 32_561) < 1e-12  # the real share of the foreign-born, exactly
    mexico = cells.loc[cells["birthplace"] == "MEX", "p"].sum()
    assert abs(mexico - 643 / 32_561) < 1e-12
    assert len(uci_model.weights) == 32_561 and uci_model.weights.min() > 0


def test_ten_million_rows_both_engines_equal(ten_million, uci_model, areas, duckdb_engine, spark_engine):
    parts = sorted(ten_million.glob("part-*.parquet"))
    assert len(parts) == 4 and sum(pq.ParquetFile(p).metadata.num_rows for p in parts) == ROWS
    mapping = load_mapping(str(ten_million / MAPPING_FILE))
    duck = tabulate(ten_million, mapping, areas, engine=duckdb_engine)
    spark = tabulate(ten_million, mapping, areas, engine=spark_engine)
    key = list(DIMENSIONS)
    pd.testing.assert_frame_equal(duck.cells.sort_values(key).reset_index(drop=True),
                                  spark.cells.sort_values(key).reset_index(drop=True))
    assert int(duck.cell()["records"]) == ROWS
    # the synthetic mix is the real one, within sampling error (the share's sd is about 0.0001 here)
    share = int(duck.cell(nativity="FOR")["records"]) / ROWS
    assert abs(share - 2_680 / 32_561) < 0.001
    mean_weight = int(duck.cell()["weight_units"]) / ROWS
    assert abs(mean_weight / uci_model.weights.mean() - 1) < 0.002
    assert [i.type for i in duck.report if i.severity != "info"] == []


def test_generation_is_reproducible_and_refuses_a_full_folder(uci_model, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(uci_model, 1_000, a, seed=3)
    generate(uci_model, 1_000, b, seed=3)
    assert pq.read_table(a / "part-00000.parquet").equals(pq.read_table(b / "part-00000.parquet"))
    with pytest.raises(CensusError, match="not empty"):
        generate(uci_model, 10, a)
    with pytest.raises(CensusError, match="at least 1"):
        generate(uci_model, 0, tmp_path / "c")


def test_model_of_a_banded_unweighted_file(microdata, areas, tmp_path, duckdb_engine):
    model = fit(microdata / "ons_2011_teaching_file_subset" / "2011-census-microdata-small.csv",
                load_mapping("ons_2011_teaching"), areas)
    generate(model, 20_000, tmp_path / "ons")
    tab = tabulate(tmp_path / "ons", load_mapping(str(tmp_path / "ons" / MAPPING_FILE)), areas, engine=duckdb_engine)
    assert int(tab.cell()["records"]) == 20_000 and not tab.weighted
    assert set(tab.cells["age"]) <= {"_T", "Y0T15", "Y16T24", "Y25T34", "Y35T44", "Y45T54", "Y55T64", "Y65T74",
                                     "Y_GE75"}
    assert {"E12000009", "_T"} <= set(tab.cells["region"])
