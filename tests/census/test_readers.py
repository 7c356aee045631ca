"""The readers: IPUMS fixed width and CSV with their DDI code books (real extracts), Stata, SPSS and
Parquet (the ONS file written in each format: the same tables as from its CSV)."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imdx.census.codebook import read_ddi
from imdx.census.mapping import Coded, Mapping, Weight, load_mapping
from imdx.census.read import stage
from imdx.census.tabulate import tabulate
from imdx.census.text import Limits, read_fixed
from tests.census.files import ONS

CPS = "ipums_cps_example"


def _positions(xml: str) -> dict[str, tuple[int, int, int]]:
    """Name -> (start, end, dcml) read with a regular expression, independently of imdx's DDI reader."""
    out = {}
    for m in re.finditer(r'<var ID="(\w+)" dcml="(\d+)".*?<location EndPos="(\d+)" StartPos="(\d+)"', xml, re.DOTALL):
        out[m.group(1)] = (int(m.group(4)), int(m.group(3)), int(m.group(2)))
    return out


def test_ipums_fixed_width_with_its_ddi(microdata):
    xml = (microdata / CPS / "cps_00160.xml").read_text("utf-8")
    book = read_ddi(microdata / CPS / "cps_00160.xml")
    positions = _positions(xml)
    assert book.fixed_width and book.charset == "ISO-8859-1"
    assert {n: (v.start, v.end, v.decimals) for n, v in book.variables.items()} == positions
    assert book.variables["STATEFIP"].labels["1"] == "Alabama" and book.variables["MONTH"].labels["3"] == "March"
    wanted = [book.variables[n] for n in ("AGE", "ASECWT", "STATEFIP")]
    batches = list(read_fixed(microdata / CPS / "cps_00160.dat.gz", wanted, encoding="latin-1", limits=Limits()))
    table = pa.concat_tables(t for t, _ in batches)
    lines = [int(x) for _, ls in batches for x in ls]
    assert table.num_rows == 10_883 and lines == list(range(1, 10_884))
    colspecs = [(positions[n][0] - 1, positions[n][1]) for n in ("AGE", "ASECWT", "STATEFIP")]
    ref = pd.read_fwf(microdata / CPS / "cps_00160.dat.gz", colspecs=colspecs, header=None, names=["a", "w", "s"],
                      dtype=str, compression="gzip")
    assert table["ASECWT"].to_pylist() == [int(v) for v in ref["w"]]  # implied decimals stay whole units
    assert table["AGE"].to_pylist() == [int(v) for v in ref["a"]]
    assert table["STATEFIP"].to_pylist() == [int(v) for v in ref["s"]]


def test_ipums_csv_with_its_ddi_weights_to_the_unit(microdata, tmp_path):
    mapping = Mapping("cps", "IPUMS CPS CSV", "USA", 2016, format="csv", region=Coded("STATEFIP"),
                      weight=Weight("ASECWT"))
    files = stage(microdata / CPS / "cps_00158.csv.gz", mapping, ["region"], tmp_path)
    assert files.weight_decimals == 4 and files.records == 7_668  # the decimals come from the code book
    staged = pq.read_table(files.paths)
    text = pd.read_csv(microdata / CPS / "cps_00158.csv.gz", dtype=str)["ASECWT"]
    assert sum(staged["_weight"].to_pylist()) == int(sum(Decimal(v) for v in text) * 10_000)
    assert staged["_line"].to_pylist()[:2] == [2, 3]


def _ons_frame(microdata) -> pd.DataFrame:
    frame = pd.read_csv(microdata / ONS)
    return frame.rename(columns={"Country of Birth": "cob", "Region": "region", "Sex": "sex", "Age": "age"})[
        ["region", "sex", "age", "cob"]]


STAT_MAPPING = """
id = "ons_{fmt}"
title = "ONS teaching file as {fmt}"
country = "GBR"
year = 2011
format = "{fmt}"
[nativity]
column = "cob"
codes = {{ "1" = "NAT", "2" = "FOR", "-9" = "_Z" }}
[sex]
column = "sex"
codes = {{ "1" = "M", "2" = "F" }}
[age]
column = "age"
[age.bands]
"1" = "Y0T15"
"2" = "Y16T24"
"3" = "Y25T34"
"4" = "Y35T44"
"5" = "Y45T54"
"6" = "Y55T64"
"7" = "Y65T74"
"8" = "Y_GE75"
[region]
column = "region"
"""


@pytest.mark.parametrize("fmt", ["spss", "stata"])
def test_stata_and_spss_files(microdata, areas, duckdb_engine, tmp_path, fmt):
    import pyreadstat

    frame = _ons_frame(microdata)
    path = tmp_path / ("ons.sav" if fmt == "spss" else "ons.dta")
    labels = {"cob": {1: "UK", 2: "Non UK"}, "sex": {1: "Male", 2: "Female"}}  # -9 deliberately not labelled
    (pyreadstat.write_sav if fmt == "spss" else pyreadstat.write_dta)(frame, str(path), variable_value_labels=labels)
    (tmp_path / "m.toml").write_text(STAT_MAPPING.format(fmt=fmt))
    tab = tabulate(path, load_mapping(str(tmp_path / "m.toml")), areas, engine=duckdb_engine)
    csv = tabulate(microdata / ONS, load_mapping("ons_2011_teaching"), areas, engine=duckdb_engine)
    assert tab.cells[["records"]].equals(csv.cells[["records"]]) and int(tab.cell(nativity="FOR")["records"]) == 5_020
    [issue] = [i for i in tab.report if i.type == "code-not-in-codebook"]
    first = int((frame["cob"] == -9).to_numpy().nonzero()[0][0]) + 1
    assert (issue.row, issue.column, issue.n_obs) == (first, "cob", 526)  # the file's own labels are its code book


def test_parquet_parts_and_where_a_problem_is(microdata, areas, engine, tmp_path):
    frame = pd.read_csv(microdata / ONS)
    frame.loc[30_009, "Sex"] = 3
    folder = tmp_path / "ons"
    folder.mkdir()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table.slice(0, 30_000), folder / "part-0.parquet")
    pq.write_table(table.slice(30_000), folder / "part-1.parquet")
    mapping = replace(load_mapping("ons_2011_teaching"), format="parquet")
    tab = tabulate(folder, mapping, areas, engine=engine)
    assert int(tab.cell()["records"]) == 50_000 and int(tab.cell(nativity="FOR")["records"]) == 5_020
    [issue] = [i for i in tab.report if i.type == "code-not-in-mapping"]
    assert (issue.file, issue.row, issue.column) == ("part-1.parquet", 10, "Sex")
