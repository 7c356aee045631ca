"""Organisations, users, roles, passwords (argon2), tokens, and the ONE authorisation function.

Roles and what they may do (``PERMISSIONS``):

- ``field_officer``: create cases and read (identifiable) cases of their own organisation; read
  published releases like the public (and those shared with their organisation);
- ``data_protection_officer``: read own organisation's cases; request, approve and share releases;
  verify the audit log; read completeness reports and de-identified views;
- ``analyst``: read de-identified views, request releases, read releases;
- ``partner_agency``: read the releases shared with its organisation, and published ones;
- ``public`` (no token): read published releases;
- ``administrator``: manage organisations, users, keys and backups (never reads cases).

Every route and CLI command calls :func:`authorise` and nothing else decides. It raises
:class:`AccessDenied` with 401 (no or expired token), 403 (role may not), or 404 (a record of
another organisation, or a release not shared with the caller: its existence is not revealed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from imdx.cases.db import CaseStore
from imdx.cases.errors import AccessDenied

ROLES = ("field_officer", "data_protection_officer", "analyst", "partner_agency", "public", "administrator")

PERMISSIONS: dict[str, frozenset[str]] = {
    "field_officer": frozenset({"case:create", "case:read", "case:list", "release:read"}),
    "data_protection_officer": frozenset({"case:read", "case:list", "cases:deidentified", "release:request",
                                          "release:approve", "release:share", "release:read",
                                          "audit:verify", "completeness:read"}),
    "analyst": frozenset({"cases:deidentified", "release:request", "release:read", "completeness:read"}),
    "partner_agency": frozenset({"release:read"}),
    "public": frozenset({"release:read"}),
    "administrator": frozenset({"user:create", "organisation:create", "key:rotate", "backup:write",
                                "audit:verify", "release:read"}),
}
#: actions that touch identifying data: always audited, even when allowed
IDENTIFYING_ACTIONS = frozenset({"case:read", "case:create"})

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
DEFAULT_HASHER = PasswordHasher()   # argon2id, RFC 9106 parameters (t=3, m=64 MiB, p=4)


@dataclass(frozen=True)
class Principal:
    username: str
    organisation: str | None
    role: str

    @property
    def is_authenticated(self) -> bool:
        return self.role != "public"


PUBLIC = Principal("anonymous", None, "public")


@dataclass(frozen=True)
class Resource:
    """What an action is about: a case, a release, a user to create."""

    kind: str
    organisation: str | None = None
    audience: str | None = None           # release: "public" | "shared" | "internal"
    shared_with: frozenset[str] = frozenset()
    status: str | None = None             # release: "pending" | "published"
    role: str | None = None               # user:create: the role asked for


def authorise(principal: Principal, action: str, resource: Resource | None = None) -> None:
    """Allow ``principal`` to do ``action`` on ``resource``, or raise :class:`AccessDenied`."""
    allowed = PERMISSIONS.get(principal.role, frozenset())
    if action not in allowed:
        if not principal.is_authenticated:
            raise AccessDenied(401, "sign in first: this action needs a valid token")
        raise AccessDenied(403, f"the role {principal.role} may not {action}")
    if resource is None:
        return
    if resource.status == "absent":
        raise AccessDenied(404, f"no such {resource.kind}")
    if resource.kind == "case" and resource.organisation != principal.organisation:
        raise AccessDenied(404, "no such case")
    if resource.kind == "release" and action == "release:read" and principal.role != "data_protection_officer":
        published = resource.status == "published"
        visible = published and (resource.audience == "public" or principal.role == "analyst"
                                 or (resource.audience == "shared"
                                     and principal.organisation in resource.shared_with))
        if not visible:
            raise AccessDenied(404, "no such release")
    if resource.kind == "user" and (resource.role not in ROLES or resource.role in ("public", "administrator")):
        raise AccessDenied(403, f"no user can be given the role {resource.role!r} here "
                                "(administrators are created with `imdx cases init` only)")


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise AccessDenied(403, f"{what} must be 1-64 letters, digits or . _ @ -")
    return value


def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    if not isinstance(password, str) or len(password) < 12:
        raise AccessDenied(403, "a password must have at least 12 characters")
    return hasher.hash(password)


def add_organisation(store: CaseStore, name: str) -> None:
    check_name(name, "an organisation name")
    with store.transaction() as con:
        con.execute("INSERT OR IGNORE INTO organisations VALUES (?, now())", [name])


def add_user(store: CaseStore, username: str, password: str, organisation: str, role: str,
             hasher: PasswordHasher = DEFAULT_HASHER) -> None:
    check_name(username, "a user name")
    if role not in ROLES or role == "public":
        raise AccessDenied(403, f"unknown role {role!r}; choose one of {', '.join(r for r in ROLES if r != 'public')}")
    with store.transaction() as con:
        if not con.execute("SELECT 1 FROM organisations WHERE name = ?", [organisation]).fetchone():
            raise AccessDenied(404, f"no organisation {organisation!r}: create it first")
        if con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise AccessDenied(403, f"the user {username!r} exists already")
        con.execute("INSERT INTO users VALUES (?, ?, ?, ?, TRUE, now())",
                    [username, organisation, role, hash_password(password, hasher)])


def login(store: CaseStore, username: str, password: str, minutes: int = 60,
          now: dt.datetime | None = None, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    """Check the password and return a fresh token valid ``minutes`` (only its hash is stored)."""
    row = store.query("SELECT password_hash FROM users WHERE username = ? AND active", [username])
    try:
        ok = bool(row) and hasher.verify(row[0][0], password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        if not row:
            hasher.hash("timing-equaliser")      # same time whether or not the user exists
        raise AccessDenied(401, "wrong user name or password")
    token = secrets.token_urlsafe(32)
    expires = (now or _utcnow()) + dt.timedelta(minutes=minutes)
    with store.transaction() as con:
        con.execute("INSERT INTO tokens VALUES (?, ?, ?, FALSE)", [_token_hash(token), username, expires])
    return token


def authenticate(store: CaseStore, token: str | None, now: dt.datetime | None = None) -> Principal:
    """The principal a bearer token stands for; :data:`PUBLIC` when there is no token."""
    if not token:
        return PUBLIC
    row = store.query("SELECT u.username, u.organisation, u.role, t.expires_at, t.revoked FROM tokens t "
                      "JOIN users u ON u.username = t.username WHERE t.token_hash = ? AND u.active",
                      [_token_hash(token)])
    if not row:
        raise AccessDenied(401, "the token is not valid: sign in again")
    username, organisation, role, expires, revoked = row[0]
    if revoked or expires <= (now or _utcnow()):
        raise AccessDenied(401, "the token has expired: sign in again")
    return Principal(username, organisation, role)


def revoke(store: CaseStore, token: str) -> None:
    with store.transaction() as con:
        con.execute("UPDATE tokens SET revoked = TRUE WHERE token_hash = ?", [_token_hash(token)])


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
