"""The audit chain detects a changed, deleted or reordered entry, in a list and in the database."""

import dataclasses

import pytest

from imdx.cases.audit import AuditLog, entry_hash, verify_chain
from imdx.cases.errors import AccessDenied

from .conftest import principal, submit

KEY = "the-audit-key-of-these-tests-Zq8Rw3Lm5Nx"


@pytest.fixture
def log(service):
    service.store.con.execute("DELETE FROM audit_log")   # a chain of its own, under a key of its own
    audit = AuditLog(service.store, KEY)
    for i in range(6):
        audit.record(f"user{i}", "case:read", f"case{i}", "ok", {"i": i})
    return audit


def types(report):
    return {i.type for i in report}


def test_an_untouched_chain_verifies(log):
    assert len(log.verify()) == 0
    assert len(log.entries()) >= 6


def test_a_changed_entry_is_detected(log):
    entries = log.entries()
    entries[3] = dataclasses.replace(entries[3], actor="someone-else")
    report = verify_chain(entries, KEY)
    assert types(report) == {"audit-entry-changed"}
    assert [i.row for i in report] == [entries[3].seq]


def test_a_deleted_entry_is_detected(log):
    entries = log.entries()
    del entries[2]
    assert {"audit-entry-missing", "audit-link-broken"} <= types(verify_chain(entries, KEY))


def test_reordered_entries_are_detected(log):
    entries = log.entries()
    entries[2], entries[3] = entries[3], entries[2]
    assert {"audit-entry-out-of-order", "audit-link-broken"} & types(verify_chain(entries, KEY))
    assert len(verify_chain(entries, KEY)) > 0


def test_swapped_contents_keeping_sequence_numbers_are_detected(log):
    entries = log.entries()
    a, b = entries[2], entries[3]
    entries[2] = dataclasses.replace(b, seq=a.seq, prev_hash=a.prev_hash)
    entries[3] = dataclasses.replace(a, seq=b.seq, prev_hash=b.prev_hash)
    assert "audit-entry-changed" in types(verify_chain(entries, KEY))


def test_a_chain_rebuilt_without_the_key_is_detected(log):
    entries, prev, rebuilt = log.entries(), None, []
    for e in entries:                    # the attacker changes entry 3 and recomputes every hash after it
        e = dataclasses.replace(e, actor="cover-up") if e.seq == 3 else e
        prev = prev or e.prev_hash
        h = entry_hash("attackers-guess", prev, e.seq, e.at, e.actor, e.action, e.target, e.outcome, e.detail)
        rebuilt.append(dataclasses.replace(e, prev_hash=prev, hash=h))
        prev = h
    assert len(verify_chain(rebuilt, "attackers-guess")) == 0
    assert "audit-entry-changed" in types(verify_chain(rebuilt, KEY))


def test_removing_the_latest_entries_is_detected_with_the_noted_head(log):
    entries = log.entries()
    head = (entries[-1].seq, entries[-1].hash)
    assert len(verify_chain(entries[:-2], KEY)) == 0                   # a shorter chain is still a chain ...
    assert "audit-head-missing" in types(verify_chain(entries[:-2], KEY, head))   # ... but not the noted one


@pytest.mark.parametrize("tamper", [
    "UPDATE audit_log SET outcome = 'tampered' WHERE seq = 4",
    "DELETE FROM audit_log WHERE seq = 3",
    "UPDATE audit_log SET seq = CASE seq WHEN 2 THEN 5 WHEN 5 THEN 2 ELSE seq END WHERE seq IN (2, 5)",
])
def test_tampering_in_the_database_is_detected_by_the_service(service, tamper):
    dpo = principal(service, "dpo_a")
    for i in range(6):
        service.audit.record(f"user{i}", "case:read", f"case{i}", "ok", {"i": i})
    report, _ = service.verify_audit(dpo)
    assert report.count("error") == 0
    service.store.con.execute(tamper)
    report, _ = service.verify_audit(dpo)
    assert report.count("error") > 0


def test_identifying_reads_and_refusals_are_logged(service):
    fo_a, fo_b = principal(service, "fo_a"), principal(service, "fo_b")
    case_id = submit(service, fo_a, {"data_source": "hotline", "victim_name": "Logged Person"})
    service.read_case(fo_a, case_id)
    with pytest.raises(AccessDenied):
        service.read_case(fo_b, case_id)
    rows = service.store.query("SELECT actor, action, target, outcome FROM audit_log WHERE target = ? ORDER BY seq",
                               [case_id])
    assert ("fo_a", "case:read", case_id, "ok") in rows
    assert ("fo_b", "case:read", case_id, "denied") in rows
    assert all("Logged Person" not in str(r) for r in service.store.query("SELECT * FROM audit_log"))
