"""`imdx census` as a user runs it: tabulate into a store, query the tables back, bad files refused
with the store unchanged, the Spark engine, the list of mappings, synthetic files."""

from __future__ import annotations

import io
import subprocess
import sys

import pandas as pd
from click.testing import CliRunner

from imdx.cli import main
from imdx.store import connect
from tests.census.files import with_line

UCI = "uci_adult/adult.data"
ONS = "ons_2011_teaching_file_subset/2011-census-microdata-small.csv"
EPH4 = "eph_argentina_toybase/toybase_individual_2016_04.rda"


def run(*args):
    return CliRunner(env={"COLUMNS": "200"}).invoke(main, [str(a) for a in args], catch_exceptions=False)


def query(db, *filters) -> pd.DataFrame:
    result = run("query", "foreign_born_population", *filters, "--format", "csv", "--db", db)
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.output), keep_default_na=False)


def test_tabulate_store_and_query(microdata, mirror, tmp_path):
    db = tmp_path / "imdx.duckdb"
    result = run("census", "tabulate", microdata / UCI, "--mapping", "uci_adult", "--db", db, "--mirror", mirror)
    assert result.exit_code == 0, result.output
    assert "29,298" in result.output and "643" in result.output and "birthplace-residual" in result.output
    assert "stored as release 1" in result.output
    mexico = query(db, "--sample", "uci_adult/adult.data", "--birthplace", "Mexico", "--nativity", "FOR",
                   "--sex", "_T", "--age", "_T")
    assert mexico.set_index("measure")["value"]["RECORDS"] == 643
    assert set(mexico["birthplace_name"]) == {"Mexico"} and set(mexico["source"]) == {"census"}
    again = run("census", "tabulate", microdata / UCI, "--mapping", "uci_adult", "--db", db, "--mirror", mirror)
    assert again.exit_code == 0 and "already stored" in again.output
    report = run("report", "--source", "census", "--db", db)
    assert report.exit_code == 0 and "birthplace-residual" in report.output and "adult.data, row 15" in report.output
    with connect(db, read_only=True) as store:
        files = store.release_files().set_index("name")["sha256"].to_dict()
    assert files["adult.data"] == "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d"
    assert "mapping:uci_adult" in files and "tabulation-options.json" in files


def test_suppressed_cells_in_the_store(microdata, mirror, tmp_path):
    db = tmp_path / "imdx.duckdb"
    result = run("census", "tabulate", microdata / EPH4, "--mapping", "eph_toybase_individual", "--min-cell", "10",
                 "--db", db, "--mirror", mirror)
    assert result.exit_code == 0, result.output
    frame = query(db, "--birthplace", "HTI", "--nativity", "FOR", "--sex", "_T", "--age", "_T", "--region", "_T")
    assert list(frame["obs_status"]) == ["L", "L"] and list(frame["value"]) == ["", ""]
    total = query(db, "--birthplace", "_T", "--nativity", "FOR", "--sex", "_T", "--age", "_T", "--region", "_T")
    assert total.set_index("measure")["value"].to_dict() == {"PERSONS": 50_410, "RECORDS": 72}


def test_bad_file_refused_and_store_unchanged(microdata, mirror, tmp_path):
    db = tmp_path / "imdx.duckdb"
    assert run("census", "tabulate", microdata / ONS, "--mapping", "ons_2011_teaching", "--db", db,
               "--mirror", mirror).exit_code == 0
    bad = with_line(microdata / UCI, tmp_path / "adult.data", 99,
                    lambda line: ", ".join(f if i != 2 else "-" + f for i, f in enumerate(line.split(", "))))
    result = run("census", "tabulate", bad, "--mapping", "uci_adult", "--db", db, "--mirror", mirror)
    assert result.exit_code == 1
    assert "file adult.data, line 99, column fnlwgt" in result.output and "nothing was stored" in result.output
    assert "Traceback" not in result.output
    with connect(db, read_only=True) as store:
        assert len(store.releases()) == 1
    unknown = run("census", "tabulate", microdata / UCI, "--mapping", "no_such_mapping", "--db", db)
    assert unknown.exit_code == 2 and "uci_adult" in unknown.output


def test_spark_engine_and_a_cross_tab(microdata, mirror, tmp_path, spark_engine):
    out = tmp_path / "tables.csv"
    result = run("census", "tabulate", microdata / EPH4, "--mapping", "eph_toybase_individual", "--engine", "spark",
                 "--table", "birthplace,region", "--min-cell", "0", "--dry-run", "--output", out, "--mirror", mirror,
                 "--db", tmp_path / "none.duckdb")
    assert result.exit_code == 0, result.output
    assert "(spark;" in result.output and "dry run: nothing stored" in result.output
    frame = pd.read_csv(out, keep_default_na=False)
    chile = frame[(frame["birthplace"] == "CHL") & (frame["region"] == "_T") & (frame["measure"] == "RECORDS")]
    assert list(chile["value"]) == [28, 28]  # nativity FOR and _T
    assert not (tmp_path / "none.duckdb").exists()


def test_mappings_and_synth(microdata, mirror, tmp_path):
    listed = run("census", "mappings")
    assert listed.exit_code == 0
    for name in ("uci_adult", "eph_toybase_individual", "ons_2011_teaching", "ipums_cps"):
        assert name in listed.output
    folder = tmp_path / "synthetic"
    made = run("census", "synth", folder, "--rows", "50000", "--partitions", "2", "--mirror", mirror)
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in folder.iterdir()) == ["_imdx_mapping.toml", "part-00000.parquet",
                                                        "part-00001.parquet"]
    result = run("census", "tabulate", folder, "--mapping", folder / "_imdx_mapping.toml", "--dry-run", "--mirror",
                 mirror, "--db", tmp_path / "none.duckdb")
    assert result.exit_code == 0 and "50,000" in result.output


def test_the_console_command(microdata, mirror, tmp_path):
    db = tmp_path / "imdx.duckdb"
    proc = subprocess.run([sys.executable, "-m", "imdx.cli", "census", "tabulate", str(microdata / ONS), "--mapping",
                           "ons_2011_teaching", "--db", str(db), "--mirror", str(mirror)],
                          check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "5,020" in proc.stdout and "stored as release 1" in proc.stdout


def test_spark_without_java_says_what_to_install(microdata, mirror, tmp_path):
    import os
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)  # python, but no java
    proc = subprocess.run([sys.executable, "-m", "imdx.cli", "census", "tabulate", str(microdata / ONS), "--mapping",
                           "ons_2011_teaching", "--engine", "spark", "--dry-run", "--mirror", str(mirror), "--db",
                           str(tmp_path / "none.duckdb")], check=False, capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 1 and "needs Java 17" in proc.stderr and "default-jre-headless" in proc.stderr
    assert "Traceback" not in proc.stderr
