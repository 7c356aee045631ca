"""Signed checkpoints of the audit chain's head, so that a shortened log is noticed without a head
noted by hand.

A checkpoint is ``(seq, hash)`` of the newest audit entry, the time, the reason and the database's
id, signed with HMAC-SHA256 under a key derived from the audit key (which is never in the
database). Each checkpoint is written twice: appended to the checkpoint file (``IMDX_CASES_CHECKPOINTS``,
by default beside the database; better on another volume or host) and into the table
``audit_checkpoints``. Checkpoints are written when the database is created, at every release
approval and share, every ``checkpoint_minutes`` while ``imdx serve`` runs, when a command or the
server ends, and after every successful verification.

:func:`verify_checkpoints` adds to the chain's own check (see :mod:`imdx.cases.audit`):

- ``audit-entries-removed`` (error): a checkpoint names an entry the log no longer has, or has with
  another hash: entries were removed from the end (or the whole log);
- ``audit-checkpoint-forged`` (error): a checkpoint whose signature is wrong;
- ``audit-checkpoints-missing`` (error): the database has users but there is no checkpoint anywhere;
- ``audit-checkpoint-file-behind`` (warning): the table has checkpoints the file lacks (the file
  was replaced or truncated);
- ``audit-entries-unsigned`` (info): entries newer than the latest checkpoint, which a checkpoint
  does not cover yet (removing only those cannot be noticed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from pathlib import Path

from imdx.cases.audit import AuditLog
from imdx.cases.db import CaseStore
from imdx.cases.errors import CaseConfigError
from imdx.model.report import Issue, Report

_FIELDS = ("seq", "hash", "signed_at", "reason", "database_id")


def checkpoint_key(audit_key: str) -> bytes:
    return hmac.new(audit_key.encode(), b"imdx-cases audit checkpoint v1", hashlib.sha256).digest()


def _mac(key: bytes, record: dict) -> str:
    body = json.dumps([record[f] for f in _FIELDS], ensure_ascii=False)
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


class Checkpoints:
    def __init__(self, store: CaseStore, audit: AuditLog, audit_key: str, path: Path):
        self.store, self.audit, self.path = store, audit, Path(path)
        self._key = checkpoint_key(audit_key)

    def check_writable(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8"):
                pass
        except OSError as err:
            raise CaseConfigError(f"the audit checkpoint file {self.path} cannot be written ({err.strerror}): set "
                                  "IMDX_CASES_CHECKPOINTS to a writable file") from None

    def write(self, reason: str) -> dict | None:
        """Sign the current head (nothing when the log is empty or the head is signed already)."""
        with self.store.transaction() as con:
            head = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            if head is None:
                return None
            last = con.execute("SELECT seq, hash FROM audit_checkpoints ORDER BY seq DESC LIMIT 1").fetchone()
            if last is not None and tuple(last) == tuple(head):
                return None
            record = {"seq": int(head[0]), "hash": head[1], "reason": reason,
                      "signed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                      "database_id": self.store.database_id()}
            record["mac"] = _mac(self._key, record)
            con.execute("INSERT INTO audit_checkpoints VALUES (?, ?, ?, ?, ?, ?)", [record[f] for f in (*_FIELDS,
                                                                                                        "mac")])
            line = json.dumps(record, ensure_ascii=False) + "\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        return record

    def from_table(self) -> list[dict]:
        rows = self.store.query(f"SELECT {', '.join(_FIELDS)}, mac FROM audit_checkpoints ORDER BY seq")
        return [dict(zip((*_FIELDS, "mac"), r)) for r in rows]

    def from_file(self) -> tuple[list[dict], int]:
        """The file's checkpoints, and the number of lines that are not checkpoints at all."""
        if not self.path.exists():
            return [], 0
        out, bad = [], 0
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or not all(f in record for f in (*_FIELDS, "mac")):
                    raise ValueError
                out.append(record)
            except ValueError:
                bad += 1
        return out, bad

    def verify(self) -> Report:
        return verify_checkpoints(self, {e.seq: e.hash for e in self.audit.entries()})


def verify_checkpoints(points: Checkpoints, chain: dict[int, str]) -> Report:
    """The issues of the module's list, for the entries ``chain`` (seq -> hash) as stored now."""
    report = Report()
    database_id = points.store.database_id()
    table, (in_file, bad_lines) = points.from_table(), points.from_file()

    def add(type_: str, severity: str, message: str, seq: int | None = None):
        report.add(Issue(type=type_, message=message, severity=severity, source="cases-audit", row=seq))

    if bad_lines:
        add("audit-checkpoint-forged", "error", f"{bad_lines} lines of {points.path} are not checkpoints")
    valid = []
    for where, records in (("the checkpoint file", in_file), ("the database", table)):
        for r in records:
            if not isinstance(r["seq"], int) or not hmac.compare_digest(str(r["mac"]), _mac(points._key, r)):
                add("audit-checkpoint-forged", "error", f"a checkpoint in {where} has a wrong signature", None)
            elif r["database_id"] == database_id:
                valid.append(r)
    for seq, h in sorted({(r["seq"], r["hash"]) for r in valid}):
        if chain.get(seq) != h:
            add("audit-entries-removed", "error", f"signed checkpoint of entry {seq} does not match the log (it has "
                f"{len(chain)} entries, up to {max(chain, default=0)}): entries were removed or replaced", seq)
    has_users = points.store.query("SELECT count(*) FROM users")[0][0] > 0
    if not valid and (chain or has_users):
        add("audit-checkpoints-missing", "error", f"no signed checkpoint in {points.path} or in the database, although "
                                                  "the database is in use: the log or its checkpoints were removed")
    file_keys = {(r["seq"], r["hash"]) for r in in_file}
    behind = [r for r in table if (r["seq"], r["hash"]) not in file_keys]
    if behind:
        add("audit-checkpoint-file-behind", "warning", f"{len(behind)} checkpoints of the database are missing from "
                                                       f"{points.path}: was the file replaced?")
    newest = max((r["seq"] for r in valid), default=0)
    unsigned = sum(1 for seq in chain if seq > newest)
    if unsigned and valid:
        add("audit-entries-unsigned", "info", f"{unsigned} entries after the latest checkpoint (entry {newest}) are "
                                              "not covered by a signature yet")
    return report
