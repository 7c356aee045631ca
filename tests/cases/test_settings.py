"""Settings from a configuration file and the environment: read explicitly, checked, never weakened."""

from __future__ import annotations

import os

import pytest

from imdx.cases.crypto import new_key, secret_bits
from imdx.cases.errors import CaseConfigError
from imdx.cases.settings import CaseSettings, configured, write_config


def _config(tmp_path, body: str):
    path = tmp_path / "c.toml"
    path.write_text(body)
    os.chmod(path, 0o600)
    return {"IMDX_CASES_CONFIG": str(path)}


def test_the_file_gives_the_settings_and_the_environment_overrides_it(tmp_path):
    path = write_config(tmp_path / "cases.toml", db=str(tmp_path / "x.duckdb"))
    settings = CaseSettings.from_env({"IMDX_CASES_CONFIG": str(path)})
    assert settings.db_path == tmp_path / "x.duckdb" and settings.token_minutes == 30
    assert settings.checkpoint_path == tmp_path / "x-audit-checkpoints.jsonl"
    assert len(settings.keys) == 1 and settings.keys[0] not in (settings.audit_key, settings.fingerprint_key)
    overridden = CaseSettings.from_env({"IMDX_CASES_CONFIG": str(path), "IMDX_CASES_TOKEN_MINUTES": "5"})
    assert overridden.token_minutes == 5 and overridden.keys == settings.keys
    assert configured({"IMDX_CASES_CONFIG": str(path)}) and not configured({})


@pytest.mark.parametrize("body,expected", [
    ("[cases]\ntoken_minutes = 'long'\n", "token_minutes must be a whole number"),
    ("[cases]\ncolour = 'red'\n", "unknown settings ['colour']"),
    ("token_minutes = 5\n", "no [cases] table"),
    ("[cases\n", "not valid TOML"),
    ("[cases]\nkeys = 'abc'\n", "keys must be a comma-separated list"),
])
def test_a_malformed_file_is_refused_with_what_is_wrong(tmp_path, body, expected):
    with pytest.raises(CaseConfigError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        CaseSettings.from_env(_config(tmp_path, body))


def test_a_file_others_can_read_is_refused(tmp_path):
    env = _config(tmp_path, "[cases]\n")
    os.chmod(env["IMDX_CASES_CONFIG"], 0o640)
    with pytest.raises(CaseConfigError, match="chmod 600"):
        CaseSettings.from_env(env)


def test_secret_strength_estimates():
    assert secret_bits(new_key()) > 200
    assert secret_bits("audit-" + "x" * 32) < 128
    assert secret_bits("correct horse battery staple, and then some more") > 128
