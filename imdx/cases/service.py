"""The case database as one object: store, keys, audit log, checkpoints, sign-in throttle and settings,
with the actions users take.

Both the API routes and the CLI call these methods; each asks :func:`imdx.cases.access.authorise`
first (through :meth:`CaseService.allow`, which writes every refusal of a signed-in user to the audit
log). Releases are in :mod:`imdx.cases.releases.publish`, policies in :mod:`imdx.cases.policy`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
from argon2 import PasswordHasher

from imdx.cases import access, accounts, idempotency, policy
from imdx.cases.access import PUBLIC, Principal, Resource
from imdx.cases.audit import AuditLog
from imdx.cases.checkpoints import Checkpoints
from imdx.cases.crypto import Keyring, key_id, write_backup
from imdx.cases.db import CaseStore
from imdx.cases.errors import AccessDenied
from imdx.cases.intake import Submission, completeness, import_records, read_contributor_file
from imdx.cases.schema import IDENTIFYING_FIELDS, RECORD_FIELDS
from imdx.cases.settings import CaseSettings
from imdx.cases.throttle import HashGate, LoginThrottle, Rules, Throttled
from imdx.cases.values import jsonable, plain

_CASE_ID = re.compile(r"^[0-9a-f]{32}$")
log = logging.getLogger("imdx.cases")
#: fields the de-identified view leaves out (besides the identifying ones)
HIDDEN_IN_DEIDENTIFIED = frozenset({"case_reference", "registration_date", "field_mission"})


class CaseService:
    def __init__(self, settings: CaseSettings):
        self.settings = settings
        self.keyring = Keyring(settings.keys)
        self.store = CaseStore(settings.db_path)
        self.audit = AuditLog(self.store, settings.audit_key)
        self.checkpoints = Checkpoints(self.store, self.audit, settings.audit_key, settings.checkpoint_path)
        self.checkpoints.check_writable()
        if self.store.needs_migration:
            self.store.migrate_v1(self.keyring.encrypt_bytes)
            self.audit.record("imdx", "database:migrate", str(settings.db_path.name), "ok", {"schema": 2})
            self.checkpoints.write("migrate")
        self.hasher = PasswordHasher(time_cost=settings.argon2_cost[0], memory_cost=settings.argon2_cost[1])
        self._dummy_hash: str | None = None
        lockout = settings.lockout_minutes * 60
        self.throttle = LoginThrottle(Rules(free=3, lock_after=settings.lockout_after, lockout=lockout),
                                      Rules(free=10, lock_after=settings.address_lockout_after, lockout=lockout))
        self.gate = HashGate(settings.hash_concurrency, settings.hash_wait_seconds)

    @classmethod
    def from_env(cls, environ=None) -> CaseService:
        return cls(CaseSettings.from_env(environ))

    def close(self) -> None:
        """Sign the audit chain's head and close the database (a second call does nothing)."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        self.checkpoint("close")
        self.store.close()

    # -- signing in --------------------------------------------------------------------------------
    def login(self, username: str, password: str, address: str = "cli") -> accounts.Session:
        """Check the password (throttled, hashing bounded) and open a session."""
        account = str(username)[:64]
        try:
            self.throttle.check(account, address)
            user = accounts.user_row(self.store, account)
            if user and user["locked_until"] and user["locked_until"] > accounts.utcnow():
                self.throttle.failure(None, address)
                wait = (user["locked_until"] - accounts.utcnow()).total_seconds()
                raise Throttled(wait, "too many failed sign-ins for this account or from this address: try again "
                                      f"in {int(wait) + 1} s")
            if not isinstance(password, str) or len(password) > accounts.MAX_PASSWORD:
                ok = False
            else:
                with self.gate.slot():
                    ok = accounts.check_password(self.store, account, password, self.hasher, self._dummy())
            if not ok:
                self.throttle.failure(account, address)
                raise AccessDenied(401, "wrong user name or password")
        finally:
            self._audit_lockouts()
        self.throttle.success(account)
        with self.store.transaction():
            session = accounts.issue(self.store, account, self.settings.token_minutes, self._refresh_until())
            self.audit.record(account, "login", "", "ok", {"address": address})
        return session

    def refresh(self, refresh_token: str, address: str = "cli") -> accounts.Session:
        try:
            self.throttle.check(None, address)
            try:
                with self.store.transaction():
                    username, session = accounts.refresh(self.store, str(refresh_token), self.settings.token_minutes)
                    self.audit.record(username, "token:refresh", "", "ok" if session else "denied",
                                      {"address": address} if session else
                                      {"address": address, "reason": "refresh token used twice: session revoked"})
            except AccessDenied:
                self.throttle.failure(None, address)
                raise
        finally:
            self._audit_lockouts()
        if session is None:
            raise AccessDenied(401, "this refresh token was used before: the session is revoked, sign in again")
        return session

    def logout(self, token: str) -> None:
        with self.store.transaction():
            username = accounts.revoke(self.store, str(token))
            if username is None:
                raise AccessDenied(401, "the token is not valid")
            self.audit.record(username, "token:revoke", "own session", "ok")

    def principal(self, token: str | None, address: str = "cli") -> Principal:
        """The principal a bearer token stands for (:data:`PUBLIC` without one). Invalid tokens count as
        failed sign-ins of the address (so a flood of them is throttled, and audited once, at its lockout)."""
        try:
            self.throttle.check(None, address)
            if not token:
                return replace(PUBLIC, address=address)
            try:
                return accounts.authenticate(self.store, token, address=address)
            except AccessDenied:
                self.throttle.failure(None, address)
                raise
        finally:
            self._audit_lockouts()

    def allow(self, principal: Principal, action: str, resource: Resource | None = None, target: str = "") -> None:
        """:func:`access.authorise`, with every refusal of a signed-in user written to the audit log.
        Refusals of anonymous callers name no one: they count as failures of their address instead
        (a flood of them locks the address, which is audited once)."""
        try:
            access.authorise(principal, action, resource)
        except AccessDenied as err:
            self._refused(principal, action, target, err)
            raise

    def refuse(self, principal: Principal, action: str, target: str, status: int, message: str):
        """Refuse ``action`` (audited like :meth:`allow`'s refusals)."""
        err = AccessDenied(status, message)
        self._refused(principal, action, target, err)
        raise err

    def _refused(self, principal: Principal, action: str, target: str, err: AccessDenied) -> None:
        if principal.is_authenticated:
            self.audit.record(principal.username, action, str(target)[:200], "denied",
                              {"status": err.status, "role": principal.role, "reason": str(err)})
        else:
            self.throttle.failure(None, principal.address or "unknown")
            self._audit_lockouts()

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("imdx-timing-equaliser")
        return self._dummy_hash

    def _refresh_until(self) -> dt.datetime:
        return accounts.utcnow() + dt.timedelta(hours=self.settings.refresh_hours,
                                                minutes=self.settings.token_minutes)

    def _audit_lockouts(self) -> None:
        for kind, key, attempts in self.throttle.pop_new_lockouts():
            minutes = self.settings.lockout_minutes
            if kind == "account":
                accounts.lock_account(self.store, key, accounts.utcnow() + dt.timedelta(minutes=minutes))
            self.audit.record("imdx", "login:lockout", f"{kind}:{key}"[:200], "locked",
                              {"attempts": attempts, "minutes": minutes})

    # -- organisations and users ---------------------------------------------------------------------
    def add_organisation(self, principal: Principal, name: str) -> None:
        self.allow(principal, "organisation:create", target=name)
        with self.store.transaction():
            accounts.add_organisation(self.store, name)
            self.audit.record(principal.username, "organisation:create", name)

    def add_user(self, principal: Principal, username: str, password: str, organisation: str, role: str) -> None:
        self.allow(principal, "user:create", Resource("user", organisation=organisation, role=role), username)
        try:
            access.check_name(username, "a user name")
            with self.gate.slot():
                password_hash = accounts.hash_password(password, self.hasher)
            with self.store.transaction():
                accounts.add_user(self.store, username, password_hash, organisation, role)
                self.audit.record(principal.username, "user:create", username, "ok",
                                  {"role": role, "organisation": organisation})
        except AccessDenied as err:
            self.audit.record(principal.username, "user:create", str(username)[:64], "denied",
                              {"status": err.status, "reason": str(err)})
            raise

    def set_active(self, principal: Principal, username: str, active: bool) -> None:
        """Deactivate (all the user's sessions end at once) or activate a user (administrator)."""
        action = "user:activate" if active else "user:deactivate"
        user = accounts.user_row(self.store, username)
        self.allow(principal, action, Resource("user", status=None if user else "absent"), str(username)[:64])
        if not active and user["role"] == "administrator" and self._active_administrators() <= 1:
            raise AccessDenied(403, "the last active administrator cannot be deactivated")
        with self.store.transaction() as con:
            accounts.set_active(self.store, username, active)
            if active:
                con.execute("UPDATE users SET locked_until = NULL WHERE username = ?", [username])
            self.audit.record(principal.username, action, username, "ok")
        if active:
            self.throttle.success(username)

    def revoke_tokens(self, principal: Principal, username: str) -> int:
        user = accounts.user_row(self.store, username)
        self.allow(principal, "user:revoke-tokens", Resource("user", status=None if user else "absent"),
                   str(username)[:64])
        with self.store.transaction():
            n = accounts.revoke_user(self.store, username)
            self.audit.record(principal.username, "user:revoke-tokens", username, "ok", {"tokens": n})
        return n

    def _active_administrators(self) -> int:
        return self.store.query("SELECT count(*) FROM users WHERE role = 'administrator' AND active")[0][0]

    def bootstrap(self, username: str, password: str, organisation: str) -> None:
        """Create the first administrator (only while there is no user at all)."""
        if self.store.query("SELECT count(*) FROM users")[0][0]:
            raise AccessDenied(403, "users exist already: ask an administrator to add users")
        password_hash = accounts.hash_password(password, self.hasher)
        with self.store.transaction():
            accounts.add_organisation(self.store, organisation)
            accounts.add_user(self.store, username, password_hash, organisation, "administrator")
            self.audit.record("init", "user:create", username, "ok", {"role": "administrator"})
            self.checkpoints.write("init")

    # -- cases ---------------------------------------------------------------------------------------
    def import_file(self, principal: Principal, path: Path | str, data_source: str | None = None) -> Submission:
        self.allow(principal, "case:create", target=Path(path).name)
        raw = read_contributor_file(path)
        return import_records(self.store, self.keyring, self.audit, principal, raw, data_source=data_source,
                              fingerprint_key=self.settings.fingerprint_key, file_name=Path(path).name)

    def submit_record(self, principal: Principal, record: dict, idempotency_key: str | None = None
                      ) -> tuple[int, bytes, bool]:
        """Validate and store one record; ``(HTTP status, JSON answer, replayed)``. The answer is made and
        (with an idempotency key) remembered inside the transaction that stores the record, so nothing is
        stored unless the answer is ready; the same key again gives the same answer and stores nothing."""
        self.allow(principal, "case:create", target="api")
        idempotency.check_key(idempotency_key)
        digest = idempotency.request_hash("records", record)
        raw = pd.DataFrame([{str(k): ("" if v is None else str(v)) for k, v in record.items()}], dtype=object)
        with self.store.transaction() as con:
            if idempotency_key:
                earlier = idempotency.replay(con, principal.username, idempotency_key, digest)
                if earlier is not None:
                    return (*earlier, True)
            submission = import_records(self.store, self.keyring, self.audit, principal, raw, first_row=1,
                                        fingerprint_key=self.settings.fingerprint_key, file_name="api")
            status, body = _record_answer(submission)
            if idempotency_key:
                idempotency.remember(con, principal.username, idempotency_key, digest, status, body)
        return status, body, False

    def read_case(self, principal: Principal, case_id: str) -> dict:
        """One case of the caller's organisation with its identifying fields decrypted; always audited."""
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
        """The caller's organisation's records without identifying fields, ids, references or exact dates."""
        self.allow(principal, "cases:deidentified")
        self.audit.record(principal.username, "cases:deidentified", principal.organisation or "")
        return self.store.records(principal.organisation,
                                  columns=tuple(f for f in RECORD_FIELDS if f not in HIDDEN_IN_DEIDENTIFIED))

    def completeness(self, principal: Principal) -> pd.DataFrame:
        self.allow(principal, "completeness:read")
        return completeness(self.store.records(principal.organisation))

    # -- dataset policies ----------------------------------------------------------------------------
    def dataset_resource(self, dataset) -> Resource:
        return (Resource("dataset", organisation=dataset) if accounts.organisation_exists(self.store, dataset)
                else Resource("dataset", status="absent"))

    def get_policy(self, principal: Principal, dataset: str | None = None) -> policy.ReleasePolicy:
        dataset = principal.organisation if dataset is None else dataset
        self.allow(principal, "policy:read", target=str(dataset)[:100])
        self.allow(principal, "policy:read", self.dataset_resource(dataset), str(dataset)[:100])
        return policy.get_policy(self.store, dataset)

    def set_policy(self, principal: Principal, changes: dict, dataset: str | None = None) -> policy.ReleasePolicy:
        dataset = principal.organisation if dataset is None else dataset
        self.allow(principal, "policy:set", target=str(dataset)[:100])
        self.allow(principal, "policy:set", self.dataset_resource(dataset), str(dataset)[:100])
        return policy.set_policy(self.store, self.audit, principal.username, dataset, changes)

    # -- keys, audit, backup -------------------------------------------------------------------------
    def rotate_keys(self, principal: Principal, batch: int = 1000) -> int:
        """Re-encrypt every record and release secret not yet under the current key; a transaction per batch."""
        self.allow(principal, "key:rotate")
        done = 0
        for table, key_column, column in (("cases", "case_id", "identifying"), ("releases", "release_id", "secret")):
            rows = self.store.query(f"SELECT {key_column}, {column} FROM {table} WHERE {column} IS NOT NULL")
            stale = [(rid, blob) for rid, blob in rows if not self.keyring.is_current(blob)]
            for start in range(0, len(stale), batch):
                with self.store.transaction() as con:
                    for rid, blob in stale[start:start + batch]:
                        con.execute(f"UPDATE {table} SET {column} = ? WHERE {key_column} = ?",
                                    [self.keyring.rotate(blob), rid])
                        done += 1
        self.audit.record(principal.username, "key:rotate", self.keyring.primary_id, "ok", {"re_encrypted": done})
        return done

    def verify_audit(self, principal: Principal, expected_head: tuple[int, str] | None = None):
        """``(report, head)``: the chain checked entry by entry and against its signed checkpoints (an
        ``error`` issue means tampering). When intact, the head is signed as a new checkpoint."""
        self.allow(principal, "audit:verify")
        report = self.audit.verify(expected_head)
        report.extend(self.checkpoints.verify())
        entries = self.audit.entries()
        head = (entries[-1].seq, entries[-1].hash) if entries else (0, "")
        if report.count("error") == 0:
            self.checkpoints.write("verify")
        return report, head

    def checkpoint(self, reason: str) -> dict | None:
        """Sign the audit head; a failure (a full disk) is logged, never raised: what was done is done."""
        try:
            return self.checkpoints.write(reason)
        except Exception:  # whatever it is, the action it follows is committed already
            log.exception("the audit checkpoint (%s) could not be written to %s", reason, self.checkpoints.path)
            return None

    def backup(self, principal: Principal, dest: Path) -> Path:
        self.allow(principal, "backup:write", target=str(dest))
        self.store.con.execute("CHECKPOINT")
        path = write_backup(self.settings.db_path, Path(dest), self.keyring)
        self.audit.record(principal.username, "backup", Path(dest).name, "ok", {"key": key_id(self.settings.keys[0])})
        return path


def _record_answer(submission: Submission) -> tuple[int, bytes]:
    report = [jsonable(asdict(issue)) for issue in submission.report]
    if submission.n_accepted == 0:
        answer = {"error": {"status": 422, "type": "invalid-record", "parameter": None, "report": report,
                            "message": "the record was not accepted: see the report for what to correct"}}
        return 422, json.dumps(answer, allow_nan=False).encode()
    answer = {"case_id": submission.case_ids[0], "possible_duplicate": submission.n_possible_duplicates > 0,
              "report": report}
    return 201, json.dumps(answer, allow_nan=False).encode()
