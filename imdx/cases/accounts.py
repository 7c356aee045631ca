"""Organisations, users, passwords (argon2id) and sessions (access and refresh tokens).

Signing in gives an **access token** (valid ``token_minutes``) and a **refresh token**; both are
random, and only their SHA-256 is stored. ``refresh`` trades a refresh token for a new pair without
the password, until ``refresh_hours`` after signing in; each refresh token works once, and using
one twice (a sign that it was stolen) revokes its whole session. Revoking a token revokes its
session; deactivating a user revokes all of theirs and refuses them from then on.

Throttling and the bounded hashing of sign-ins are in :mod:`imdx.cases.throttle`; the service
(:meth:`imdx.cases.service.CaseService.login`) puts them together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from imdx.cases.access import ROLES, Principal, check_name
from imdx.cases.db import CaseStore
from imdx.cases.errors import AccessDenied

#: password lengths accepted (longer ones are refused before hashing: argon2 reads them whole)
MIN_PASSWORD, MAX_PASSWORD = 12, 1024


def hash_password(password: str, hasher: PasswordHasher) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccessDenied(403, f"a password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return hasher.hash(password)


def add_organisation(store: CaseStore, name: str) -> None:
    check_name(name, "an organisation name")
    with store.transaction() as con:
        con.execute("INSERT OR IGNORE INTO organisations VALUES (?, now())", [name])


def organisation_exists(store: CaseStore, name) -> bool:
    return isinstance(name, str) and bool(store.query("SELECT 1 FROM organisations WHERE name = ?", [name]))


def add_user(store: CaseStore, username: str, password_hash: str, organisation: str, role: str) -> None:
    """Add a user whose password :func:`hash_password` hashed (outside any transaction: it is slow)."""
    check_name(username, "a user name")
    if role not in ROLES or role == "public":
        raise AccessDenied(403, f"unknown role {role!r}; choose one of {', '.join(r for r in ROLES if r != 'public')}")
    with store.transaction() as con:
        if not con.execute("SELECT 1 FROM organisations WHERE name = ?", [organisation]).fetchone():
            raise AccessDenied(404, f"no organisation {organisation!r}: create it first")
        if con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise AccessDenied(403, f"the user {username!r} exists already")
        con.execute("INSERT INTO users VALUES (?, ?, ?, ?, TRUE, now(), NULL)",
                    [username, organisation, role, password_hash])


def user_row(store: CaseStore, username) -> dict | None:
    if not isinstance(username, str):
        return None
    rows = store.query("SELECT username, organisation, role, active, locked_until FROM users WHERE username = ?",
                       [username])
    return dict(zip(("username", "organisation", "role", "active", "locked_until"), rows[0])) if rows else None


def set_active(store: CaseStore, username: str, active: bool) -> None:
    with store.transaction() as con:
        con.execute("UPDATE users SET active = ? WHERE username = ?", [active, username])
        if not active:
            con.execute("UPDATE tokens SET revoked = TRUE WHERE username = ?", [username])


def lock_account(store: CaseStore, username: str, until: dt.datetime) -> None:
    with store.transaction() as con:
        con.execute("UPDATE users SET locked_until = ? WHERE username = ?", [until, username])


def check_password(store: CaseStore, username: str, password: str, hasher: PasswordHasher, dummy: str) -> bool:
    """True when ``password`` is the active user's; as slow when the user does not exist (``dummy`` is a
    hash of the same cost, verified instead)."""
    row = store.query("SELECT password_hash FROM users WHERE username = ? AND active", [username])
    try:
        return bool(hasher.verify(row[0][0] if row else dummy, password)) and bool(row)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_at: dt.datetime

    def answer(self) -> dict:
        return {"access_token": self.access_token, "token_type": "bearer", "expires_in": self.expires_in,
                "refresh_token": self.refresh_token,
                "refresh_expires_at": self.refresh_expires_at.replace(microsecond=0).isoformat() + "Z"}


def issue(store: CaseStore, username: str, minutes: int, refresh_until: dt.datetime,
          family: str | None = None) -> Session:
    """A new access and refresh token for ``username`` (in session ``family``, or a new one)."""
    now = utcnow()
    family = family or secrets.token_hex(16)
    access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with store.transaction() as con:
        con.execute("INSERT INTO tokens VALUES (?, ?, ?, FALSE, 'access', ?, ?), (?, ?, ?, FALSE, 'refresh', ?, ?)",
                    [token_hash(access), username, now + dt.timedelta(minutes=minutes), family, now,
                     token_hash(refresh), username, refresh_until, family, now])
    return Session(access, refresh, minutes * 60, refresh_until)


def authenticate(store: CaseStore, token: str, now: dt.datetime | None = None, address: str = "") -> Principal:
    """The principal an access token stands for; :class:`AccessDenied` (401) when it is not valid."""
    row = store.query("SELECT u.username, u.organisation, u.role, t.expires_at, t.revoked FROM tokens t "
                      "JOIN users u ON u.username = t.username WHERE t.token_hash = ? AND u.active "
                      "AND coalesce(t.kind, 'access') = 'access'", [token_hash(token)])
    if not row:
        raise AccessDenied(401, "the token is not valid: sign in again")
    username, organisation, role, expires, revoked = row[0]
    if revoked:
        raise AccessDenied(401, "the token was revoked: sign in again")
    if expires <= (now or utcnow()):
        raise AccessDenied(401, "the token has expired: refresh it or sign in again")
    return Principal(username, organisation, role, address)


def refresh(store: CaseStore, refresh_token: str, minutes: int) -> tuple[str, Session | None]:
    """``(username, new session)`` for a valid refresh token, which is used up. A refresh token used a
    second time revokes its whole session and gives ``(username, None)``; an unknown, expired or
    revoked one raises :class:`AccessDenied` (401)."""
    with store.transaction() as con:
        row = con.execute("SELECT t.username, t.expires_at, t.revoked, t.family, u.active FROM tokens t "
                          "JOIN users u ON u.username = t.username WHERE t.token_hash = ? AND t.kind = 'refresh'",
                          [token_hash(refresh_token)]).fetchone()
        if row is None:
            raise AccessDenied(401, "the refresh token is not valid: sign in again")
        username, expires, revoked, family, active = row
        if revoked:
            con.execute("UPDATE tokens SET revoked = TRUE WHERE family = ?", [family])
            return username, None
        if not active or expires <= utcnow():
            raise AccessDenied(401, "the session has ended: sign in again")
        con.execute("UPDATE tokens SET revoked = TRUE WHERE token_hash = ?", [token_hash(refresh_token)])
        return username, issue(store, username, minutes, expires, family)


def revoke(store: CaseStore, token: str) -> str | None:
    """Revoke the session of ``token`` (access or refresh); returns its user, or None if unknown."""
    with store.transaction() as con:
        row = con.execute("SELECT username, family FROM tokens WHERE token_hash = ?", [token_hash(token)]).fetchone()
        if row is None:
            return None
        if row[1] is None:
            con.execute("UPDATE tokens SET revoked = TRUE WHERE token_hash = ?", [token_hash(token)])
        else:
            con.execute("UPDATE tokens SET revoked = TRUE WHERE family = ?", [row[1]])
        return row[0]


def revoke_user(store: CaseStore, username: str) -> int:
    with store.transaction() as con:
        n = con.execute("SELECT count(*) FROM tokens WHERE username = ? AND NOT revoked", [username]).fetchone()[0]
        con.execute("UPDATE tokens SET revoked = TRUE WHERE username = ?", [username])
    return n


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
