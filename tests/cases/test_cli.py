"""``imdx cases`` through click's test runner, on the group object itself."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from imdx.cases.crypto import new_key
from imdx.cli.cases import cases

from .conftest import CTDC_VP_FILE, make_env


@pytest.fixture
def cli(tmp_path):
    env = make_env(tmp_path)
    runner = CliRunner()

    def run(*args, user=None, password=None, extra=None):
        e = dict(env, **(extra or {}))
        if user:
            e["IMDX_CASES_USER"] = user
        if password:
            e["IMDX_CASES_PASSWORD"] = password
        return runner.invoke(cases, list(args), env=e, catch_exceptions=False)

    assert run("init", "--admin", "root", "--organisation", "Platform", password="root-password-1").exit_code == 0
    admin = {"user": "root", "password": "root-password-1"}
    assert run("users", "add-organisation", "OrgA", **admin).exit_code == 0
    for name, role in (("officer", "field_officer"), ("protector", "data_protection_officer")):
        result = run("users", "add", name, "--organisation", "OrgA", "--role", role, **admin,
                     extra={"IMDX_CASES_NEW_PASSWORD": f"{name}-password-1"})
        assert result.exit_code == 0, result.output
    run.env = env
    return run


def test_new_key_prints_a_fernet_key():
    result = CliRunner().invoke(cases, ["new-key"])
    assert result.exit_code == 0 and len(result.output.strip()) == 44


def test_validate_reports_and_sets_the_exit_code(tmp_path, cli):
    good = cli("validate", str(CTDC_VP_FILE), "--data-source", "ctdc-synthetic")
    assert good.exit_code == 0
    assert "21195 records: 21195 valid, 0 with errors" in good.output
    bad = tmp_path / "bad.csv"
    bad.write_text("gender,majority_status,ageBroad,data_source\nRobot,Minor,48+,hotline\n")
    result = cli("validate", str(bad))
    assert result.exit_code == 1
    assert "unknown-code" in result.output and "minor-with-adult-age-band" in result.output


def test_import_release_and_verify_audit(cli):
    officer = {"user": "officer", "password": "officer-password-1"}
    protector = {"user": "protector", "password": "protector-password-1"}
    result = cli("import", str(CTDC_VP_FILE), "--data-source", "ctdc-synthetic", **officer)
    assert result.exit_code == 0, result.output
    assert "21195 accepted, 0 rejected" in result.output
    requested = cli("release", "request", "dp-aggregates", "--param", "epsilon=0.5", **protector)
    assert requested.exit_code == 0, requested.output
    release_id = requested.output.strip()
    approved = cli("release", "approve", release_id, **protector)
    assert approved.exit_code == 0 and "epsilon 0.5" in approved.output
    assert release_id in cli("release", "list", **protector).output
    audit = cli("verify-audit", **protector)
    assert audit.exit_code == 0 and "intact" in audit.output
    head = re.search(r"head (\d+:[0-9a-f]{64})", audit.output).group(1)
    assert cli("verify-audit", "--head", head, **protector).exit_code == 0


def test_refusals_exit_with_a_message_not_a_traceback(cli):
    officer = {"user": "officer", "password": "officer-password-1"}
    result = cli("release", "request", "k-anonymised", **officer)
    assert result.exit_code == 3
    assert "may not release:request" in result.output
    wrong = cli("rotate-key", user="officer", password="not-the-password")
    assert wrong.exit_code == 3 and "wrong user name or password" in wrong.output
    budget = cli("release", "request", "synthetic", "--param", "epsilon=0.5", user="protector",
                 password="protector-password-1")
    release_id = budget.output.strip()
    over = cli("release", "approve", release_id, user="protector", password="protector-password-1",
               extra={"IMDX_CASES_EPSILON_BUDGET": "0.1"})
    assert over.exit_code == 4 and "left of 0.1" in over.output


def test_rotate_key_and_backup(tmp_path, cli):
    admin = {"user": "root", "password": "root-password-1"}
    officer = {"user": "officer", "password": "officer-password-1"}
    cli("import", str(CTDC_VP_FILE), "--data-source", "ctdc-synthetic", **officer)
    rotated = cli("rotate-key", **admin, extra={"IMDX_CASES_KEYS": new_key() + "," + cli.env["IMDX_CASES_KEYS"]})
    assert rotated.exit_code == 0 and "re-encrypted 0 records" in rotated.output   # CTDC file has no names
    backup = cli("backup", str(tmp_path / "cases.backup"), **admin)
    assert backup.exit_code == 0 and (tmp_path / "cases.backup").stat().st_size > 0


def test_missing_keys_are_a_configuration_error(tmp_path):
    result = CliRunner().invoke(cases, ["--user", "x", "verify-audit"],
                                env={"IMDX_CASES_DB": str(tmp_path / "c.duckdb"), "IMDX_CASES_KEYS": "",
                                     "IMDX_CASES_PASSWORD": "x"})
    assert result.exit_code == 1 and "IMDX_CASES_KEYS" in result.output


def test_verify_audit_fails_on_a_tampered_log(cli):
    import duckdb
    protector = {"user": "protector", "password": "protector-password-1"}
    assert cli("verify-audit", **protector).exit_code == 0
    con = duckdb.connect(cli.env["IMDX_CASES_DB"])
    con.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
    con.close()
    result = cli("verify-audit", **protector)
    assert result.exit_code == 1
    assert "audit-entry-changed" in result.output and "BROKEN" in result.output
