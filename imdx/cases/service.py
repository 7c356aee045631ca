"""The case database as one object: store, keys, audit log and settings, with the actions users take.

Both the API routes and the CLI call these methods; each method asks :func:`imdx.cases.access.authorise`
first and records refusals in the audit log (via :meth:`CaseService.allow`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from argon2 import PasswordHasher

from imdx.cases import access
from imdx.cases.access import Principal, Resource
from imdx.cases.audit import AuditLog
from imdx.cases.crypto import Keyring, key_id, write_backup
from imdx.cases.db import CaseStore
from imdx.cases.errors import AccessDenied
from imdx.cases.intake import Submission, completeness, import_records, read_contributor_file
from imdx.cases.schema import IDENTIFYING_FIELDS, RECORD_FIELDS
from imdx.cases.settings import CaseSettings
from imdx.cases.values import plain

_CASE_ID = re.compile(r"^[0-9a-f]{32}$")


class CaseService:
    def __init__(self, settings: CaseSettings):
        self.settings = settings
        self.keyring = Keyring(settings.keys)
        self.store = CaseStore(settings.db_path)
        self.audit = AuditLog(self.store, settings.audit_key)
        self.hasher = PasswordHasher(time_cost=settings.argon2_cost[0], memory_cost=settings.argon2_cost[1])

    @classmethod
    def from_env(cls, environ=None) -> CaseService:
        return cls(CaseSettings.from_env(environ))

    def close(self) -> None:
        self.store.close()

    # -- authentication and authorisation ---------------------------------------------------------
    def login(self, username: str, password: str) -> str:
        try:
            token = access.login(self.store, username, password, self.settings.token_minutes, hasher=self.hasher)
        except AccessDenied as err:
            self.audit.record(str(username)[:64], "login", "", "denied", {"status": err.status})
            raise
        self.audit.record(username, "login", "", "ok")
        return token

    def principal(self, token: str | None) -> Principal:
        try:
            return access.authenticate(self.store, token)
        except AccessDenied as err:
            self.audit.record("unknown", "authenticate", "", "denied", {"status": err.status, "reason": str(err)})
            raise

    def allow(self, principal: Principal, action: str, resource: Resource | None = None, target: str = "") -> None:
        """:func:`access.authorise`, with every refusal written to the audit log."""
        try:
            access.authorise(principal, action, resource)
        except AccessDenied as err:
            self.audit.record(principal.username, action, str(target)[:200], "denied",
                              {"status": err.status, "role": principal.role, "reason": str(err)})
            raise

    # -- users -------------------------------------------------------------------------------------
    def add_organisation(self, principal: Principal, name: str) -> None:
        self.allow(principal, "organisation:create", target=name)
        access.add_organisation(self.store, name)
        self.audit.record(principal.username, "organisation:create", name)

    def add_user(self, principal: Principal, username: str, password: str, organisation: str, role: str) -> None:
        self.allow(principal, "user:create", Resource("user", organisation=organisation, role=role), username)
        try:
            access.add_user(self.store, username, password, organisation, role, self.hasher)
        except AccessDenied as err:
            self.audit.record(principal.username, "user:create", str(username)[:64], "denied",
                              {"status": err.status, "reason": str(err)})
            raise
        self.audit.record(principal.username, "user:create", username, "ok",
                          {"role": role, "organisation": organisation})

    def bootstrap(self, username: str, password: str, organisation: str) -> None:
        """Create the first administrator (only while there is no user at all)."""
        if self.store.query("SELECT count(*) FROM users")[0][0]:
            raise AccessDenied(403, "users exist already: ask an administrator to add users")
        access.add_organisation(self.store, organisation)
        access.add_user(self.store, username, password, organisation, "administrator", self.hasher)
        self.audit.record("init", "user:create", username, "ok", {"role": "administrator"})

    # -- cases -------------------------------------------------------------------------------------
    def import_file(self, principal: Principal, path: Path | str, data_source: str | None = None) -> Submission:
        self.allow(principal, "case:create", target=Path(path).name)
        raw = read_contributor_file(path)
        return import_records(self.store, self.keyring, self.audit, principal, raw, data_source=data_source,
                              fingerprint_key=self.settings.fingerprint_key, file_name=Path(path).name)

    def submit_record(self, principal: Principal, record: dict) -> Submission:
        self.allow(principal, "case:create", target="api")
        raw = pd.DataFrame([{k: ("" if v is None else str(v)) for k, v in record.items()}], dtype=object)
        return import_records(self.store, self.keyring, self.audit, principal, raw, first_row=1,
                              fingerprint_key=self.settings.fingerprint_key, file_name="api")

    def read_case(self, principal: Principal, case_id: str) -> dict:
        """One case with its identifying fields decrypted; every call is audited."""
        self.allow(principal, "case:read", target=case_id)
        columns = ["case_id", *RECORD_FIELDS, "identifying", "review_status", "duplicate_of"]
        rows = (self.store.query(f"SELECT {', '.join(columns)} FROM cases WHERE case_id = ?", [case_id])
                if isinstance(case_id, str) and _CASE_ID.match(case_id) else [])
        row = dict(zip(columns, rows[0])) if rows else {}
        resource = (Resource("case", organisation=row["organisation"]) if row
                    else Resource("case", status="absent"))
        self.allow(principal, "case:read", resource, case_id)
        blob = row.pop("identifying")
        identifying = self.keyring.decrypt(blob) if blob is not None else {}
        row.update({f: identifying.get(f) for f in IDENTIFYING_FIELDS})
        self.audit.record(principal.username, "case:read", case_id, "ok", {"identifying": sorted(identifying)})
        return {k: plain(v) for k, v in row.items()}

    def list_cases(self, principal: Principal) -> pd.DataFrame:
        """Case ids and non-identifying fields of the caller's own organisation."""
        self.allow(principal, "case:list")
        self.audit.record(principal.username, "case:list", principal.organisation or "")
        return self.store.frame(f"SELECT case_id, review_status, {', '.join(RECORD_FIELDS)} FROM cases "
                                "WHERE organisation = ? ORDER BY created_at, case_id", [principal.organisation])

    def deidentified(self, principal: Principal) -> pd.DataFrame:
        """All organisations' records without identifying fields, ids, references or exact dates."""
        self.allow(principal, "cases:deidentified")
        self.audit.record(principal.username, "cases:deidentified", "all")
        hidden = {"case_reference", "registration_date", "field_mission"}
        return self.store.records(columns=tuple(f for f in RECORD_FIELDS if f not in hidden))

    def completeness(self, principal: Principal) -> pd.DataFrame:
        self.allow(principal, "completeness:read")
        return completeness(self.store.records())

    # -- keys, audit, backup -------------------------------------------------------------------------
    def rotate_keys(self, principal: Principal, batch: int = 1000) -> int:
        """Re-encrypt every record not yet under the current key; one transaction per batch."""
        self.allow(principal, "key:rotate")
        done = 0
        rows = self.store.query("SELECT case_id, identifying FROM cases WHERE identifying IS NOT NULL")
        stale = [(cid, blob) for cid, blob in rows if not self.keyring.is_current(blob)]
        for start in range(0, len(stale), batch):
            with self.store.transaction() as con:
                for cid, blob in stale[start:start + batch]:
                    con.execute("UPDATE cases SET identifying = ? WHERE case_id = ?", [self.keyring.rotate(blob), cid])
                    done += 1
        self.audit.record(principal.username, "key:rotate", self.keyring.primary_id, "ok", {"records": done})
        return done

    def verify_audit(self, principal: Principal, expected_head: tuple[int, str] | None = None):
        self.allow(principal, "audit:verify")
        report = self.audit.verify(expected_head)
        entries = self.audit.entries()
        head = (entries[-1].seq, entries[-1].hash) if entries else (0, "")
        return report, head

    def backup(self, principal: Principal, dest: Path) -> Path:
        self.allow(principal, "backup:write", target=str(dest))
        self.store.con.execute("CHECKPOINT")
        path = write_backup(self.settings.db_path, Path(dest), self.keyring)
        self.audit.record(principal.username, "backup", Path(dest).name, "ok", {"key": key_id(self.settings.keys[0])})
        return path
