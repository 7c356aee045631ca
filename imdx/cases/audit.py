"""Append-only, tamper-evident audit log: a hash chain keyed with ``IMDX_CASES_AUDIT_KEY``.

Entry *n* carries ``hash_n = HMAC(key, hash_{n-1} | seq | at | actor | action | target | outcome |
detail)``. Changing an entry breaks its own hash; deleting one breaks the sequence and the link of
the next; reordering breaks the links. Because the chain is keyed, someone who can write the
database file but does not hold the audit key cannot rebuild a consistent chain after tampering.
Deleting the *last* entries leaves a shorter valid chain: keep the head (``seq`` and ``hash``
printed by ``imdx cases verify-audit``) somewhere else and pass it back to detect that too.

What is logged: every read of identifying data, every release request, approval and share, every
user and key change, every intake, and every refused action (with the reason).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass

from imdx.cases.db import CaseStore
from imdx.model.report import Issue, Report

GENESIS = "0" * 64
_COLUMNS = ("seq", "logged_at", "actor", "action", "target", "outcome", "detail", "prev_hash", "hash")


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    target: str
    outcome: str
    detail: str
    prev_hash: str
    hash: str


def entry_hash(key: str, prev_hash: str, seq: int, at: str, actor: str, action: str, target: str,
               outcome: str, detail: str) -> str:
    body = json.dumps([prev_hash, seq, at, actor, action, target, outcome, detail], ensure_ascii=False)
    return hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()


class AuditLog:
    """The audit log of one case database."""

    def __init__(self, store: CaseStore, key: str):
        self.store, self._key = store, key

    def record(self, actor: str, action: str, target: str = "", outcome: str = "ok",
               detail: dict | None = None) -> AuditEntry:
        """Append one entry (inside the caller's transaction when there is one)."""
        detail_text = json.dumps(detail or {}, sort_keys=True, ensure_ascii=False, default=str)
        at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        with self.store.transaction() as con:
            last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            h = entry_hash(self._key, prev, seq, at, actor, action, target, outcome, detail_text)
            con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [seq, at, actor, action, target, outcome, detail_text, prev, h])
        return AuditEntry(seq, at, actor, action, target, outcome, detail_text, prev, h)

    def entries(self) -> list[AuditEntry]:
        rows = self.store.query(f"SELECT {', '.join(_COLUMNS)} FROM audit_log ORDER BY seq")
        return [AuditEntry(*r) for r in rows]

    def verify(self, expected_head: tuple[int, str] | None = None) -> Report:
        return verify_chain(self.entries(), self._key, expected_head)


def verify_chain(entries: list[AuditEntry], key: str, expected_head: tuple[int, str] | None = None) -> Report:
    """Check a chain in stored order. Each break is an ``error`` issue; an empty report means intact.

    ``expected_head`` (``(seq, hash)`` noted earlier) also detects removal of the latest entries.
    """
    report = Report()
    prev, expected_seq = GENESIS, 1

    def fail(type_: str, seq: int, message: str):
        report.add(Issue(type=type_, message=message, severity="error", source="cases-audit", row=seq))

    for e in entries:
        if e.seq != expected_seq:
            kind = "audit-entry-missing" if e.seq > expected_seq else "audit-entry-out-of-order"
            fail(kind, e.seq, f"entry {e.seq} found where entry {expected_seq} was expected")
        if e.prev_hash != prev:
            fail("audit-link-broken", e.seq, f"entry {e.seq} does not link to the entry before it")
        recomputed = entry_hash(key, e.prev_hash, e.seq, e.at, e.actor, e.action, e.target, e.outcome, e.detail)
        if not hmac.compare_digest(recomputed, e.hash):
            fail("audit-entry-changed", e.seq, f"entry {e.seq} was changed after it was written")
        prev, expected_seq = e.hash, e.seq + 1
    if expected_head is not None:
        seq, h = expected_head
        known = {e.seq: e.hash for e in entries}
        if known.get(seq) != h:
            fail("audit-head-missing", seq, f"the noted head entry {seq} is absent or different: "
                                            "entries were removed from the end of the log")
    return report
