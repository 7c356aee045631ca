"""Signed checkpoints: a log shortened at its end, or removed, no longer verifies as intact.

Attack of issue 12: deleting the last rows of the audit log, or the whole log, verified as intact unless
a head had been noted by hand.
"""

from __future__ import annotations

import json

import pytest

from imdx.cases.checkpoints import checkpoint_key
from imdx.cases.releases import publish
from imdx.cases.service import CaseService

from .conftest import approve, principal


def _types(report, severity="error"):
    return {i.type for i in report if i.severity == severity}


@pytest.fixture
def used(service):
    """A database with some history and a release (which signs a checkpoint)."""
    dpo = principal(service, "dpo_a")
    for i in range(5):
        service.audit.record("someone", "case:read", f"case{i}", "ok")
    return service, dpo


def test_an_untouched_log_verifies_and_the_verification_is_signed(used):
    service, dpo = used
    report, head = service.verify_audit(dpo)
    assert report.count("error") == 0 and head[0] > 5
    latest = service.checkpoints.from_table()[-1]
    assert (latest["seq"], latest["hash"], latest["reason"]) == (head[0], head[1], "verify")
    in_file, bad = service.checkpoints.from_file()
    assert bad == 0 and in_file[-1] == latest


@pytest.mark.parametrize("tamper", [
    "DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 3 FROM audit_log)",   # the last rows
    "DELETE FROM audit_log",                                                      # the whole log
])
def test_a_shortened_or_removed_log_is_detected_without_a_noted_head(used, tamper):
    service, dpo = used
    assert service.verify_audit(dpo)[0].count("error") == 0
    service.store.con.execute(tamper)
    report, _ = service.verify_audit(dpo)
    assert "audit-entries-removed" in _types(report)


def test_removing_the_checkpoints_in_the_database_too_is_detected_by_the_file(used):
    service, dpo = used
    service.verify_audit(dpo)
    service.store.con.execute("DELETE FROM audit_log WHERE seq > 3")
    service.store.con.execute("DELETE FROM audit_checkpoints")
    report, _ = service.verify_audit(dpo)
    assert "audit-entries-removed" in _types(report)
    assert "audit-checkpoint-file-behind" not in _types(report, "warning")


def test_removing_every_trace_is_detected_because_the_database_is_in_use(used):
    service, dpo = used
    service.store.con.execute("DELETE FROM audit_log")
    service.store.con.execute("DELETE FROM audit_checkpoints")
    service.settings.checkpoint_path.unlink()
    report, _ = service.verify_audit(dpo)
    assert "audit-checkpoints-missing" in _types(report)


def test_a_forged_checkpoint_is_detected_and_a_truncated_file_is_warned_about(used):
    service, dpo = used
    service.verify_audit(dpo)
    path = service.settings.checkpoint_path
    lines = path.read_text().splitlines()
    forged = json.loads(lines[-1])
    forged["seq"] = 1
    path.write_text("\n".join(lines[:-1] + [json.dumps(forged)]) + "\n")
    report, _ = service.verify_audit(dpo)
    assert "audit-checkpoint-forged" in _types(report)
    path.write_text("")
    report, _ = service.verify_audit(dpo)
    assert report.count("error") == 0 and "audit-checkpoint-file-behind" in _types(report, "warning")


def test_the_checkpoint_key_is_not_the_audit_key_and_a_key_guess_fails(used):
    service, dpo = used
    assert checkpoint_key(service.settings.audit_key) != service.settings.audit_key.encode()
    service.verify_audit(dpo)
    service.store.con.execute("DELETE FROM audit_log WHERE seq > 3")
    service.store.con.execute("DELETE FROM audit_checkpoints")
    service.settings.checkpoint_path.write_text("")
    service.checkpoints._key = checkpoint_key("an attacker's guess of the audit key......")
    service.checkpoints.write("forged")                 # signed with the wrong key
    service.checkpoints._key = checkpoint_key(service.settings.audit_key)
    report, _ = service.verify_audit(dpo)
    assert {"audit-checkpoint-forged", "audit-checkpoints-missing"} <= _types(report)


def test_each_release_and_each_session_end_signs_a_checkpoint(tmp_path, used):
    service, dpo = used
    from imdx.cases.generator import as_text, generate_cases
    as_text(generate_cases(200, seed=3, organisations=("OrgA",))).to_csv(tmp_path / "a.csv", index=False)
    service.import_file(principal(service, "fo_a"), tmp_path / "a.csv")
    approve(service, dpo, publish.request_release(service, dpo, "k-anonymised"))
    assert service.checkpoints.from_table()[-1]["reason"] == "release"
    service.audit.record("someone", "case:read", "later", "ok")
    env_path = service.settings.db_path
    service.close()
    assert service.checkpoints.from_file()[0][-1]["reason"] == "close"
    assert env_path.exists()


def test_the_server_signs_on_schedule(env):
    from imdx.cases.serving import CheckpointSchedule
    svc = CaseService.from_env({**env, "IMDX_CASES_CHECKPOINT_MINUTES": "0.01"})
    try:
        svc.bootstrap("admin", "admin-password-0001", "Platform")
        schedule = CheckpointSchedule(svc)
        schedule.start()
        svc.audit.record("someone", "case:read", "x", "ok")
        head = svc.audit.entries()[-1].seq
        import time
        deadline = time.monotonic() + 10
        while svc.checkpoints.from_table()[-1]["seq"] != head:
            assert time.monotonic() < deadline, "no scheduled checkpoint"
            time.sleep(0.05)
        schedule.stop()
        assert svc.checkpoints.from_table()[-1]["reason"] == "schedule"
    finally:
        svc.close()
