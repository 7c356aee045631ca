"""``imdx cases`` through click's test runner, on the group object itself."""

from __future__ import annotations

import os
import re
import stat

import duckdb
import pytest
from click.testing import CliRunner

from imdx.cases.crypto import new_key
from imdx.cli.cases import cases

from .conftest import CTDC_VP_FILE, make_env

OFFICER = {"user": "officer", "password": "officer-password-1"}
PROTECTOR = {"user": "protector", "password": "protector-password-1"}
ADMIN = {"user": "root", "password": "root-password-1"}


@pytest.fixture
def cli(tmp_path):
    env = make_env(tmp_path)
    runner = CliRunner()

    def run(*args, user=None, password=None, extra=None, input=None):
        e = dict(env, **(extra or {}))
        if user:
            e["IMDX_CASES_USER"] = user
        if password:
            e["IMDX_CASES_PASSWORD"] = password
        return runner.invoke(cases, list(args), env=e, catch_exceptions=False, input=input)

    assert run("init", "--admin", "root", "--organisation", "Platform", password="root-password-1").exit_code == 0
    assert run("users", "add-organisation", "OrgA", **ADMIN).exit_code == 0
    for name, role in (("officer", "field_officer"), ("protector", "data_protection_officer")):
        result = run("users", "add", name, "--organisation", "OrgA", "--role", role, **ADMIN,
                     extra={"IMDX_CASES_NEW_PASSWORD": f"{name}-password-1"})
        assert result.exit_code == 0, result.output
    run.env = env
    return run


def test_new_key_prints_a_fernet_key():
    result = CliRunner().invoke(cases, ["new-key"])
    assert result.exit_code == 0 and len(result.output.strip()) == 44


def test_new_config_writes_a_private_file_with_fresh_keys_that_the_database_accepts(tmp_path):
    runner = CliRunner()
    config = tmp_path / "cases.toml"
    result = runner.invoke(cases, ["new-config", str(config), "--db", str(tmp_path / "db" / "cases.duckdb")])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    env = {"IMDX_CASES_CONFIG": str(config), "IMDX_CASES_PASSWORD": "root-password-1"}
    made = runner.invoke(cases, ["init", "--admin", "root", "--organisation", "Platform"], env=env)
    assert made.exit_code == 0, made.output
    assert (tmp_path / "db" / "cases.duckdb").exists()
    again = runner.invoke(cases, ["new-config", str(config)])
    assert again.exit_code == 1 and "exists already" in again.output        # never overwrites keys
    os.chmod(config, 0o644)
    leaky = runner.invoke(cases, ["--user", "root", "verify-audit"], env=env)
    assert leaky.exit_code == 1 and "chmod 600" in leaky.output


def test_validate_reports_and_sets_the_exit_code(tmp_path, cli):
    good = cli("validate", str(CTDC_VP_FILE), "--data-source", "ctdc-synthetic")
    assert good.exit_code == 0
    assert "21195 records: 21195 valid, 0 with errors" in good.output
    bad = tmp_path / "bad.csv"
    bad.write_text("gender,majority_status,ageBroad,data_source\nRobot,Minor,48+,hotline\n")
    result = cli("validate", str(bad))
    assert result.exit_code == 1
    assert "unknown-code" in result.output and "minor-with-adult-age-band" in result.output


def test_import_preview_approve_and_verify_audit(cli):
    result = cli("import", str(CTDC_VP_FILE), "--data-source", "ctdc-synthetic", **OFFICER)
    assert result.exit_code == 0, result.output
    assert "21195 accepted, 0 rejected" in result.output
    requested = cli("release", "request", "k-anonymised", "--param", "attributes=[\"is_forced_labour\"]",
                    **PROTECTOR)
    assert requested.exit_code == 0, requested.output
    release_id = requested.output.strip()
    declined = cli("release", "approve", release_id, **PROTECTOR, input="n\n")
    assert declined.exit_code == 1 and "not published" in declined.output
    assert re.search(r"suppressed: [\d,]+ of 21,195 records .*smallest class \d+", declined.output)
    assert "k=11" in declined.output and "budget 3, spent 0" in declined.output
    approved = cli("release", "approve", release_id, **PROTECTOR, input="y\n")
    assert approved.exit_code == 0 and f"published {release_id}" in approved.output
    assert release_id in cli("release", "list", **PROTECTOR).output
    reproduced = cli("release", "reproduce", release_id, **PROTECTOR)
    assert reproduced.exit_code == 0 and "every file is identical" in reproduced.output
    audit = cli("verify-audit", **PROTECTOR)
    assert audit.exit_code == 0 and "intact" in audit.output
    head = re.search(r"head (\d+:[0-9a-f]{64})", audit.output).group(1)
    assert cli("verify-audit", "--head", head, **PROTECTOR).exit_code == 0


def test_refusals_exit_with_a_message_not_a_traceback(cli):
    result = cli("release", "request", "k-anonymised", **OFFICER)
    assert result.exit_code == 3
    assert "may not release:request" in result.output
    wrong = cli("rotate-key", user="officer", password="not-the-password")
    assert wrong.exit_code == 3 and "wrong user name or password" in wrong.output
    weaker = cli("release", "request", "k-anonymised", "--param", "k=5", **PROTECTOR)
    assert weaker.exit_code == 1 and "below the dataset's policy" in weaker.output


def test_the_budget_is_the_policys_and_an_environment_variable_cannot_raise_it(cli):
    """Attack: IMDX_CASES_EPSILON_BUDGET on one command line used to raise the budget, and the ledger followed."""
    cli("import", str(CTDC_VP_FILE), "--data-source", "ctdc-synthetic", **OFFICER)
    policy = cli("policy", "set", "--epsilon-budget", "0.5", "--epsilon-per-release", "0.5", **PROTECTOR)
    assert policy.exit_code == 0 and re.search(r"epsilon_budget\s+0.5", policy.output)
    first = cli("release", "request", "dp-aggregates", "--param", "epsilon=0.5", **PROTECTOR).output.strip()
    assert cli("release", "approve", first, "--yes", **PROTECTOR).exit_code == 0
    second = cli("release", "request", "dp-aggregates", "--param", "epsilon=0.5", **PROTECTOR).output.strip()
    raised = cli("release", "approve", second, "--yes", **PROTECTOR, extra={"IMDX_CASES_EPSILON_BUDGET": "100"})
    assert raised.exit_code == 1 and "IMDX_CASES_EPSILON_BUDGET is no longer read" in raised.output
    over = cli("release", "approve", second, "--yes", **PROTECTOR)
    assert over.exit_code == 4 and "left of 0.5" in over.output
    con = duckdb.connect(cli.env["IMDX_CASES_DB"], read_only=True)
    assert con.execute("SELECT sum(epsilon) FROM budget_ledger").fetchone()[0] == pytest.approx(0.5)
    assert con.execute("SELECT status FROM releases WHERE release_id = ?", [second]).fetchone()[0] == "pending"
    con.close()
    officer_policy = cli("policy", "set", "--epsilon-budget", "100", **OFFICER)
    assert officer_policy.exit_code == 3 and "may not policy:set" in officer_policy.output


def test_rotate_key_and_backup(tmp_path, cli):
    cli("import", str(CTDC_VP_FILE), "--data-source", "ctdc-synthetic", **OFFICER)
    cli("release", "request", "k-anonymised", **PROTECTOR)
    rotated = cli("rotate-key", **ADMIN, extra={"IMDX_CASES_KEYS": new_key() + "," + cli.env["IMDX_CASES_KEYS"]})
    assert rotated.exit_code == 0 and "re-encrypted 1 values" in rotated.output  # no names; one release secret
    backup = cli("backup", str(tmp_path / "cases.backup"), **ADMIN)
    assert backup.exit_code == 0 and (tmp_path / "cases.backup").stat().st_size > 0


def test_deactivated_users_cannot_sign_in(cli):
    assert cli("users", "deactivate", "officer", **ADMIN).exit_code == 0
    refused = cli("release", "list", **OFFICER)
    assert refused.exit_code == 3 and "wrong user name or password" in refused.output
    assert cli("users", "deactivate", "protector", **OFFICER).exit_code == 3
    assert cli("users", "activate", "officer", **ADMIN).exit_code == 0
    assert cli("release", "list", **OFFICER).exit_code == 0


@pytest.mark.parametrize("variable,value,expected", [
    ("IMDX_CASES_KEYS", "", "IMDX_CASES_KEYS not set"),
    ("IMDX_CASES_KEYS", "not-a-key", "not a Fernet key"),
    ("IMDX_CASES_KEYS", "A" * 43 + "=", "not random"),
    ("IMDX_CASES_AUDIT_KEY", "audit-" + "x" * 32, "IMDX_CASES_AUDIT_KEY is too weak"),
    ("IMDX_CASES_FINGERPRINT_KEY", "short", "IMDX_CASES_FINGERPRINT_KEY is too weak"),
    ("IMDX_CASES_TOKEN_MINUTES", "-5", "IMDX_CASES_TOKEN_MINUTES must be between"),
    ("IMDX_CASES_LOCKOUT_AFTER", "many", "must be a whole number"),
])
def test_missing_or_weak_settings_are_refused_with_what_to_do(tmp_path, variable, value, expected):
    env = {**make_env(tmp_path), variable: value, "IMDX_CASES_PASSWORD": "x"}
    result = CliRunner().invoke(cases, ["--user", "x", "verify-audit"], env=env)
    assert result.exit_code == 1 and expected in result.output
    assert "Traceback" not in result.output


def test_the_same_secret_for_two_purposes_is_refused(tmp_path):
    env = make_env(tmp_path)
    env["IMDX_CASES_FINGERPRINT_KEY"] = env["IMDX_CASES_AUDIT_KEY"]
    result = CliRunner().invoke(cases, ["--user", "x", "verify-audit"], env={**env, "IMDX_CASES_PASSWORD": "x"})
    assert result.exit_code == 1 and "must all differ" in result.output


def test_verify_audit_fails_on_a_tampered_or_shortened_log(cli):
    assert cli("verify-audit", **PROTECTOR).exit_code == 0
    con = duckdb.connect(cli.env["IMDX_CASES_DB"])
    con.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
    con.close()
    result = cli("verify-audit", **PROTECTOR)
    assert result.exit_code == 1
    assert "audit-entry-changed" in result.output and "BROKEN" in result.output


def test_the_command_line_keeps_organisations_apart_too(cli):
    assert cli("users", "add-organisation", "OrgB", **ADMIN).exit_code == 0
    other = {"user": "protector_b", "password": "protector-b-password-1"}
    assert cli("users", "add", "protector_b", "--organisation", "OrgB", "--role", "data_protection_officer", **ADMIN,
               extra={"IMDX_CASES_NEW_PASSWORD": other["password"]}).exit_code == 0
    cli("import", str(CTDC_VP_FILE), "--data-source", "ctdc-synthetic", **OFFICER)
    release_id = cli("release", "request", "k-anonymised", "--audience", "internal", **PROTECTOR).output.strip()
    for args in (("release", "preview", release_id), ("release", "approve", release_id, "--yes"),
                 ("release", "share", release_id, "OrgB"), ("release", "reproduce", release_id)):
        refused = cli(*args, **other)
        assert refused.exit_code == 3 and "no such release" in refused.output, args
    assert release_id not in cli("release", "list", **other).output
    assert "epsilon_budget" in cli("policy", "show", **other).output          # its own dataset's policy
    assert cli("release", "approve", release_id, "--yes", **PROTECTOR).exit_code == 0
    assert release_id not in cli("release", "list", **other).output          # internal: still not theirs
    assert cli("release", "share", release_id, "OrgB", **PROTECTOR).exit_code == 0
    assert release_id in cli("release", "list", **other).output              # shared by its owner's DPO
