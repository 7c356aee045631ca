"""Hostile files (issue 13): each bomb is refused in bounded memory with the file and the limit named, the
rest of the load goes on, the store keeps what it had, and the process ends normally.

Every bomb is made in the test's tmp folder and put in a mirror folder of links to the real files; `imdx
load` runs on it in a fresh process whose peak memory (and its workers') the kernel reports. Loading
these sources from the real files peaks at 200-330 MB; before the limits the bombs took 4-5 GB or
killed the process.
"""

from __future__ import annotations

import json

import pytest

from imdx.store.duckdb_store import DuckDBStore
from tests import bombs

PEAK = 1 << 30  # generous: a bomb is refused long before its memory would show
DESTINATION_2020 = "undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx"
GDIVIZ = "derived/ims2020_stock_destination_origin_sex_gdiviz.rda"
BILATERAL_2019 = "derived/UN_MigrantStockByOriginAndDestination_2019_clean.csv"
MIGRATION_MATRIX = "knomad/bilateral_migration_matrix_2021_latest.xlsx"
ODA = "oda_wdi_r_package/development_aid.rds"
EUROSTAT = "derived/immigration_bilateral_total.csv"


def _load(tmp_path, mirror, source, folder, bomb_name, make, **env):
    root = bombs.mirror_with(tmp_path, mirror, folder, {bomb_name: make})
    db = tmp_path / "store.duckdb"
    run = bombs.measured(tmp_path, "load", source, "--mirror", str(root), "--db", str(db), env=env)
    return run, db


def _refused(run: dict, file: str, *limits: str) -> str:
    """The error line about ``file``: it names the file and one of ``limits``, says how to raise it, and
    the process ended normally (exit code 1: a release failed), within the memory bound."""
    assert run["code"] == 1, (run["code"], run["err"][-2000:])
    lines = [line for line in run["err"].splitlines() if line.startswith("error:") and file in line]
    assert lines, run["err"][-3000:]
    assert any(f"limit {name} allows" in lines[0] and f"--limit {name}=" in lines[0] for name in limits), lines[0]
    assert "store was left as it was" in lines[0] and "a bug in imdx" not in lines[0]
    assert run["peak"] < PEAK, f"peak memory {run['peak'] / 2**20:,.0f} MiB"
    return lines[0]


def _all_but(source: str, *refused: str) -> set[str]:
    """The releases a load of ``source`` stores when ``refused`` are refused: the others, and the M49 table."""
    from imdx.sources import registry

    keys = {spec.key for spec in registry()[source].releases}
    assert set(refused) <= keys, refused
    return {"m49"} | keys - set(refused)


def _loaded(db) -> set[str]:
    with DuckDBStore(db, read_only=True) as store:
        return set(store.releases().key)


def test_xlsx_whose_one_cell_is_a_1_gib_string(tmp_path, mirror):
    run, db = _load(tmp_path, mirror, "undesa_ims", "undesa_ims", DESTINATION_2020,
                    lambda p: bombs.xlsx_with_huge_string(p, "Table 1"))
    assert (tmp_path / "mirror" / "undesa_ims" / DESTINATION_2020).stat().st_size < 1_500_000
    line = _refused(run, DESTINATION_2020, "max_unpacked", "max_ratio")
    assert "xl/sharedStrings.xml" in line
    assert _loaded(db) == _all_but("undesa_ims", "ims2020-destination")  # every other UN DESA release is loaded


def test_xlsx_whose_used_range_reaches_xfd1048576(tmp_path, mirror):
    """calamine would ask for 512 GiB for it and abort the process (SIGABRT)."""
    run, db = _load(tmp_path, mirror, "knomad", "wdi", MIGRATION_MATRIX,
                    lambda p: bombs.xlsx_reaching_xfd1048576(p, "BRM 2021"))
    line = _refused(run, MIGRATION_MATRIX, "max_cells")
    assert "sheet 'BRM 2021'" in line and "XFD" in line and "17,179,869,184 cells" in line
    assert _loaded(db) == _all_but("knomad", "bmm2021") == {"m49", "brm2021"}  # the other KNOMAD release is loaded


def test_rda_of_13_kb_in_bzip2_that_unpacks_past_4_gb(tmp_path, mirror):
    run, db = _load(tmp_path, mirror, "undesa_ims", "undesa_ims", GDIVIZ, bombs.rda_bzip2_bomb)
    assert (tmp_path / "mirror" / "undesa_ims" / GDIVIZ).stat().st_size < 13_000
    line = _refused(run, GDIVIZ, "max_ratio", "max_unpacked")
    assert "bzip2" in line
    assert "ims2020-origin-destination-gdiviz" not in _loaded(db) and "ims2020-destination" in _loaded(db)


def test_rds_of_8_mb_in_gzip_that_unpacks_past_4_gb(tmp_path, mirror):
    run, db = _load(tmp_path, mirror, "wdi", "wdi", ODA, bombs.rda_gzip_bomb)
    assert (tmp_path / "mirror" / "wdi" / ODA).stat().st_size < 9_000_000
    line = _refused(run, ODA, "max_ratio", "max_unpacked")
    assert "gzip" in line
    assert "DT.ODA.ODAT.CD-2020-02-01" not in _loaded(db) and "BX.TRF.PWKR.CD.DT-2025-07-01" in _loaded(db)


def test_csv_of_9_mb_with_a_million_columns(tmp_path, mirror):
    run, db = _load(tmp_path, mirror, "undesa_ims", "undesa_ims", BILATERAL_2019,
                    lambda p: bombs.csv_of_a_million_columns(p, ["Year", "Dest"]))
    assert 8_000_000 < (tmp_path / "mirror" / "undesa_ims" / BILATERAL_2019).stat().st_size < 10_000_000
    line = _refused(run, BILATERAL_2019, "max_columns")
    assert "1,000,000 columns" in line
    assert "ims2019-origin-destination-clean" not in _loaded(db) and "ims2019-total" in _loaded(db)


def test_header_only_csv_of_a_million_columns_gives_a_short_error(tmp_path, mirror):
    """It gave an error line of 11 MB (the header quoted whole)."""
    run, db = _load(tmp_path, mirror, "eurostat", "eurostat", EUROSTAT,
                    lambda p: bombs.csv_of_a_million_columns(p, ["partner", "geo"], rows=0))
    _refused(run, EUROSTAT, "max_columns")
    assert max(len(line) for line in run["err"].splitlines()) < 2_000
    assert _loaded(db) == _all_but("eurostat", "migr_imm5prv-derived-2025")  # MigMod's release is loaded


def test_a_garbage_eurostat_file_is_named_and_the_store_keeps_what_it_had(tmp_path, mirror):
    """Random bytes where the Eurostat table was: reported as 'a bug in imdx' without a file name before."""
    import os

    db = tmp_path / "store.duckdb"
    good = bombs.measured(tmp_path, "load", "eurostat", "--mirror", str(mirror), "--db", str(db))
    assert good["code"] == 0, good["err"][-2000:]
    with DuckDBStore(db, read_only=True) as store:
        before = store.releases()[["key", "n_obs"]].to_dict("records")
    root = bombs.mirror_with(tmp_path, mirror, "eurostat",
                             {EUROSTAT: lambda p: p.write_bytes(os.urandom(3_000_000))})
    run = bombs.measured(tmp_path, "load", "eurostat", "--mirror", str(root), "--db", str(db))
    assert run["code"] == 1
    line = next(line for line in run["err"].splitlines() if line.startswith("error:"))
    assert EUROSTAT in line and "not UTF-8 text" in line and "a bug in imdx" not in line, line
    assert run["peak"] < PEAK
    with DuckDBStore(db, read_only=True) as store:
        assert store.releases()[["key", "n_obs"]].to_dict("records") == before


def test_a_limit_is_raised_from_the_command_line_or_the_environment(tmp_path, mirror):
    """The way the message says works: the Eurostat table has 14,932 lines (the M49 table 250)."""
    db = tmp_path / "store.duckdb"
    low = bombs.measured(tmp_path, "load", "eurostat", "--mirror", str(mirror), "--db", str(db),
                         env={"IMDX_MAX_ROWS": "1000"})
    line = _refused(low, EUROSTAT, "max_rows")
    assert "IMDX_MAX_ROWS=" in line and "14,932 rows, more than the limit max_rows allows (1,000 rows)" in line
    assert _loaded(db) == {"m49"}
    raised = bombs.measured(tmp_path, "load", "eurostat", "--mirror", str(mirror), "--db", str(db),
                            "--limit", "max_rows=20000", env={"IMDX_MAX_ROWS": "1000"})
    assert raised["code"] == 0, raised["err"][-2000:]
    assert "migr_imm5prv-derived-2025" in _loaded(db)
    wrong = bombs.measured(tmp_path, "load", "eurostat", "--db", str(db), "--limit", "max_colums=4")
    assert wrong["code"] != 0 and "unknown limit 'max_colums'" in wrong["err"]


@pytest.mark.parametrize("kind", ["billion-laughs", "csv-columns"])
def test_sdmx_messages(tmp_path, mirror, kind):
    """`imdx load sdmx --file`: an SDMX-ML message with entities (a few KB that expand a billionfold,
    or read local files) and an SDMX-CSV message of a million columns."""
    path = tmp_path / ("bomb.xml" if kind == "billion-laughs" else "bomb.csv")
    if kind == "billion-laughs":
        entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
        path.write_text(f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY e0 "lol">{entities}]>'
                        '<message:GenericData xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/'
                        'message"><message:Header><message:ID>&e9;</message:ID></message:Header>'
                        '</message:GenericData>')
    else:
        bombs.csv_of_a_million_columns(path, ["DATAFLOW", "REF_AREA"], rows=1)
    run = bombs.measured(tmp_path, "load", "sdmx", "--file", str(path), "--mirror", str(mirror),
                         "--db", str(tmp_path / "store.duckdb"))
    assert run["code"] == 1, run["err"][-2000:]
    line = next(line for line in run["err"].splitlines() if line.startswith("error:"))
    assert path.name in line, line
    assert ("document type declaration" in line) if kind == "billion-laughs" else ("max_columns" in line)
    assert run["peak"] < PEAK and "Traceback" not in run["err"]


def test_the_measure_sees_a_real_load(tmp_path, mirror):
    """The peak memory the tests read is the load's: a real load shows it (and stays far under the bound)."""
    run = bombs.measured(tmp_path, "load", "eurostat", "--mirror", str(mirror), "--db", str(tmp_path / "s.duckdb"))
    assert run["code"] == 0 and 50 << 20 < run["peak"] < PEAK, (run["code"], run["peak"])
    assert json.dumps(run)  # what the tests read is plain data


def test_a_contributor_workbook_reaching_xfd1048576_is_refused(tmp_path):
    """The case database's intake (`imdx cases import`) reads contributors' workbooks with pandas and
    calamine: checked first, in a process of its own here because unguarded it aborts."""
    import subprocess
    import sys

    path = tmp_path / "contribution.xlsx"
    bombs.xlsx_reaching_xfd1048576(path, "Cases")
    probe = ("import sys; from imdx.cases.intake import read_contributor_file\n"
             "try:\n    read_contributor_file(sys.argv[1])\nexcept Exception as err:\n"
             "    print(type(err).__name__, err)")
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True,
                          timeout=300, check=False, env={"PYTHONPATH": str(bombs.REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("IntakeError") and "contribution.xlsx" in done.stdout and "max_cells" in done.stdout
