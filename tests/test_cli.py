"""The `imdx` command, run as a user runs it, on a store loaded from the real files (a few releases where
that is enough, every source for the whole report)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from imdx.cli import main


def run(*args, db=None):
    argv = list(args) + (["--db", str(db)] if db else [])
    return CliRunner(env={"COLUMNS": "240"}).invoke(main, argv, catch_exceptions=False)


def test_query_migrant_stock_csv(small_store):
    result = run("query", "migrant_stock", "--destination", "DEU", "--year", "2020", "--format", "csv",
                 "--origin", "total", "--edition", "2020", db=small_store)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.output), keep_default_na=False)
    values = frame.set_index("sex")["value"].to_dict()
    assert values == {"F": 7_870_822, "M": 7_891_635, "_T": 15_762_457}
    assert set(frame["destination_name"]) == {"Germany"}
    assert {"origin", "origin_name", "unit", "source", "edition", "cell_file", "cell_row"} <= set(frame.columns)


def test_query_accepts_names_and_m49(small_store):
    by_name = run("query", "migrant_stock", "--destination", "Germany", "--year", "2020", "--format", "json",
                  "--edition", "2020", "--origin", "_T", db=small_store)
    by_m49 = run("query", "migrant_stock", "--destination", "276", "--year", "2020", "--format", "json",
                 "--edition", "2020", "--origin", "_T", db=small_store)
    assert by_name.exit_code == 0 and json.loads(by_name.output) == json.loads(by_m49.output)
    world = run("query", "migrant_stock", "--destination", "World", "--year", "1990", "--sex", "_T",
                "--origin", "_T", "--edition", "2020", "--format", "json", db=small_store)
    assert [r["value"] for r in json.loads(world.output)] == [152_986_157]


def test_query_parquet_output(small_store, tmp_path):
    out = tmp_path / "x.parquet"
    result = run("query", "remittances", "--area", "IND", "--flow", "received", "--format", "parquet",
                 "--output", str(out), db=small_store)
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert len(frame) > 40 and set(frame["area"]) == {"IND"}


@pytest.mark.parametrize("args, message", [
    (["query", "no_such_flow"], "unknown dataflow 'no_such_flow'"),
    (["query", "migrant_stock", "--destination", "Atlantis"], "--destination 'Atlantis' is not a known country"),
    (["query", "migrant_stock", "--destination", "Atlantis"], "`imdx areas Atlantis` searches"),
    (["query", "migrant_stock", "--planet", "Mars"], "--planet is not a dimension of migrant_stock"),
    (["query", "migrant_stock", "--sex", "X"], "--sex 'X' is not a code of sex"),
    (["query", "migrant_stock", "--year", "twenty"], "--year 'twenty' is not a year"),
])
def test_bad_queries_are_refused_clearly(small_store, args, message):
    result = CliRunner().invoke(main, args + ["--db", str(small_store)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_report_and_sources(full_store):
    report = run("report", "--format", "csv", db=full_store)
    assert report.exit_code == 0
    issues = pd.read_csv(io.StringIO(report.output))
    assert {"type", "severity", "file", "row", "message", "n_obs"} <= set(issues.columns)
    sources = run("sources", db=full_store)
    assert sources.exit_code == 0 and "undesa_ims" in sources.output and "CC BY" in sources.output
    table = run("report", "--all", db=full_store)  # as a person reads it: places without "nan"
    assert table.exit_code == 0 and "row 265, column 1983" in table.output
    assert "nan" not in table.output.replace("Financial", "")


def test_load_exits_non_zero_when_a_source_cannot_be_loaded(tmp_path, mirror):
    empty = tmp_path / "mirror"
    (empty / "m49").mkdir(parents=True)
    for f in (mirror / "m49").iterdir():
        (empty / "m49" / f.name).write_bytes(f.read_bytes())
    proc = subprocess.run([sys.executable, "-m", "imdx.cli.__main__", "load", "wpp", "--db",
                           str(tmp_path / "x.duckdb")], env={**os.environ, "IMDX_MIRROR": str(empty)},
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "is not in the mirror folder" in proc.stderr


def test_python_api_matches_cli(small_store):
    import imdx

    with imdx.open(small_store) as db:
        frame = db.query("migrant_stock", destination="DEU", year=2020, origin="_T", edition="2020")
        arrow = db.query("migrant_stock", destination="DEU", year=2020, origin="_T", edition="2020", output="arrow")
        polars = db.query("migrant_stock", destination="DEU", year=2020, origin="_T", edition="2020",
                          output="polars")
    assert frame.set_index("sex")["value"]["_T"] == 15_762_457
    assert arrow.num_rows == len(frame) == polars.height == 3


def test_diff_shows_the_2024_edition_revising_2020(full_store):
    result = run("diff", "migrant_stock", "--from", "2020", "--to", "2024", "--destination", "World", "--origin",
                 "total", "--sex", "_T", "--format", "csv", db=full_store)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.output), keep_default_na=False).set_index("year")
    assert (float(frame.loc[2020, "value_from"]), float(frame.loc[2020, "value_to"])) == (280_598_105, 275_284_032)
    assert frame.loc[2020, "change"] == "changed" and frame.loc[2024, "change"] == "appeared"
    assert float(frame.loc[2024, "value_to"]) == 304_021_813


def test_new_sources_are_listed(full_store):
    sources = run("sources", db=full_store)
    for name in ("undesa_flows", "oecd_imo", "unodc_glotip", "iom_gdidata", "rpw"):
        assert name in sources.output
    victims = run("query", "detected_trafficking_victims", "--country", "USA", "--year", "2022", "--sex", "_T",
                  "--age", "_T", "--exploitation", "_T", "--citizenship", "_T", "--repatriation", "_T",
                  "--format", "csv", db=full_store)
    assert victims.exit_code == 0, victims.output
    assert pd.read_csv(io.StringIO(victims.output))["value"].tolist() == [16_390]
