"""``imdx estimate`` through click's CliRunner, on the real store."""

from __future__ import annotations

import shutil

import click
import pytest
from click.testing import CliRunner

from imdx.cli.estimate import estimate_group
from imdx.cli.group import ImdxGroup


@click.group(cls=ImdxGroup)
def cli():
    """The estimate group as `imdx` will mount it (ImdxError -> message and exit code)."""


cli.add_command(estimate_group)


@pytest.fixture(scope="module")
def cli_db(est_store, tmp_path_factory):
    """A copy of the session store: the commands open the file themselves (DuckDB has one writer)."""
    est_store.con.execute("CHECKPOINT")
    copy = tmp_path_factory.mktemp("cli") / "imdx.duckdb"
    shutil.copyfile(est_store.path, copy)
    return copy


@pytest.fixture()
def run(cli_db):
    def invoke(*args):
        return CliRunner().invoke(cli, ["estimate", *args, "--db", str(cli_db)])

    return invoke


def test_flows_are_stored_and_queryable(run, cli_db):
    result = run("flows", "--method", "stock_differencing_drop", "--method", "demographic_accounting_open",
                 "--from", "2010", "--to", "2020", "--replicates", "3")
    assert result.exit_code == 0, result.output
    assert "stored as release" in result.output and "2015-2020" in result.output
    from imdx.query import query
    from imdx.store.duckdb_store import DuckDBStore

    with DuckDBStore(cli_db, read_only=True) as store:
        rows = query(store, "estimated_flows", origin="IND", destination="USA", method="stock_differencing_drop",
                     year=2015)
        assert len(rows) == 1 and rows["value"].iloc[0] > 0
        assert rows["lower"].iloc[0] <= rows["value"].iloc[0] <= rows["upper"].iloc[0]
    again = run("flows", "--method", "stock_differencing_drop", "--method", "demographic_accounting_open",
                "--from", "2010", "--to", "2020", "--replicates", "3")
    assert "stored already" in again.output


def test_default_method_and_sexes_without_flags(run):
    result = run("flows", "--from", "2015", "--to", "2020", "--sex", "M", "--replicates", "2", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "pseudo_bayesian" in result.output and "none: 0.9" in result.output  # the default, and its migest twin
    methods = CliRunner().invoke(cli, ["estimate", "methods"])
    assert methods.exit_code == 0 and "default (recommended)" in methods.output
    assert 'ffs_diff(decrease = "zero")' in methods.output and "ffs_demo(stayer_assumption = FALSE)" in methods.output


def test_reports_are_written(run, tmp_path, mirror, cli_db):
    out = tmp_path / "remittances.md"
    result = run("remittances", "--output", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "Answer from the data" in text and "Ratha & Shaw" in text
    stored = run("remittances", "--store", "--rule", "stock", "--output", str(tmp_path / "again.md"))
    assert stored.exit_code == 0 and "stored as release" in stored.output, stored.output
    assert (tmp_path / "again.md").read_text() == text  # the report reproduces
    from imdx.query import query
    from imdx.store.duckdb_store import DuckDBStore

    with DuckDBStore(cli_db, read_only=True) as store:
        rows = query(store, "bilateral_remittances", receiver="MEX", sender="USA", source="imdx-estimates")
        assert len(rows) == 1 and rows["value"].iloc[0] > 3e10  # US$ tens of billions, as KNOMAD's 52.6 bn
        assert rows["definition"].iloc[0].startswith("ratha_shaw_2007: rule=stock")
    out = tmp_path / "abel.md"
    result = run("report", "abel-sander", "--mirror", str(mirror), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "| 2005-2010 | 41.49 |" in out.read_text()
    result = run("report", "mirror")
    assert result.exit_code == 0, result.output
    assert "Correction factors" in result.output and "totals only" in result.output


def test_mirror_command_dry_run(run):
    result = run("mirror", "--year", "2015", "--replicates", "5", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "harmonised 210 corridor-years in 1 year(s)" in result.output


def test_bad_arguments_say_what_to_do(run):
    result = run("flows", "--method", "stock_differencing_drop", "--from", "2003", "--to", "2010")
    assert result.exit_code == 2 and "stock years" in result.output
