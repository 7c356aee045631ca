"""Roles, and the ONE authorisation function every route and command calls.

Every user belongs to one organisation and acts only on that organisation's objects: its cases,
its dataset (its records, with their release policy) and its releases. Another organisation's
object answers **404**, exactly as one that does not exist, so its identifier reveals nothing; the
one way across organisations is a release the owning organisation's DPO has published for the
public or shared with the reader's organisation.

Roles (``PERMISSIONS``):

- ``field_officer``: create cases and read (identifiable) cases of their organisation; read
  releases like the public, and those shared with their organisation;
- ``data_protection_officer`` (DPO): read their organisation's cases, its de-identified view and
  completeness; set its dataset's release policy; request, preview, approve and share its
  releases; verify the audit log;
- ``analyst``: their organisation's de-identified view and completeness; request releases of it;
  read its published releases (any audience) and those shared with it;
- ``partner_agency``: read releases shared with its organisation, and public ones;
- ``public`` (no token): read public releases;
- ``administrator`` (of the organisation that runs the database, created by ``imdx cases init``):
  organisations, users (create, deactivate, revoke their tokens), keys, backups, audit checks;
  never cases, policies or releases other than public ones.

:func:`authorise` raises :class:`AccessDenied` with 401 (no valid token), 403 (the role may never
do this, whatever the object) or 404 (the object is absent or not the caller's to see).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from imdx.cases.errors import AccessDenied

ROLES = ("field_officer", "data_protection_officer", "analyst", "partner_agency", "public", "administrator")

PERMISSIONS: dict[str, frozenset[str]] = {
    "field_officer": frozenset({"case:create", "case:read", "case:list", "release:read"}),
    "data_protection_officer": frozenset({"case:read", "case:list", "cases:deidentified", "completeness:read",
                                          "policy:read", "policy:set", "release:request", "release:preview",
                                          "release:approve", "release:share", "release:read", "audit:verify"}),
    "analyst": frozenset({"cases:deidentified", "completeness:read", "policy:read", "release:request",
                          "release:read"}),
    "partner_agency": frozenset({"release:read"}),
    "public": frozenset({"release:read"}),
    "administrator": frozenset({"user:create", "user:deactivate", "user:activate", "user:revoke-tokens",
                                "organisation:create", "key:rotate", "backup:write", "audit:verify",
                                "release:read"}),
}
#: actions on one release other than reading it: only the owning organisation's DPO
RELEASE_ACTIONS = frozenset({"release:preview", "release:approve", "release:share"})
#: roles an administrator may give (administrators are made by ``imdx cases init`` only)
GRANTABLE_ROLES = ("field_officer", "data_protection_officer", "analyst", "partner_agency")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    username: str
    organisation: str | None
    role: str
    address: str = field(default="", compare=False)   # the client's address ("cli" on the command line)

    @property
    def is_authenticated(self) -> bool:
        return self.role != "public"


PUBLIC = Principal("anonymous", None, "public")


@dataclass(frozen=True)
class Resource:
    """What an action is about. ``organisation`` is the owner: of a case, a dataset, a release."""

    kind: str                             # case | dataset | release | user | organisation
    organisation: str | None = None
    audience: str | None = None           # release: "public" | "shared" | "internal"
    shared_with: frozenset[str] = frozenset()
    status: str | None = None             # release: "pending" | "published"; any kind: "absent"
    requested_by: str | None = None       # release
    role: str | None = None               # user:create: the role asked for


def authorise(principal: Principal, action: str, resource: Resource | None = None) -> None:
    """Allow ``principal`` to do ``action`` on ``resource``, or raise :class:`AccessDenied`."""
    if action not in PERMISSIONS.get(principal.role, frozenset()):
        if not principal.is_authenticated:
            raise AccessDenied(401, "sign in first: this action needs a valid token")
        raise AccessDenied(403, f"the role {principal.role} may not {action}")
    if resource is None:
        return
    if resource.status == "absent":
        raise AccessDenied(404, f"no such {resource.kind}")
    own = resource.organisation is not None and resource.organisation == principal.organisation
    if resource.kind in ("case", "dataset") and not own:
        raise AccessDenied(404, f"no such {resource.kind}")
    if resource.kind == "release":
        if action in RELEASE_ACTIONS and not own:
            raise AccessDenied(404, "no such release")
        if not release_visible(principal, resource):
            raise AccessDenied(404, "no such release")
    if resource.kind == "user" and action == "user:create" and resource.role not in GRANTABLE_ROLES:
        raise AccessDenied(403, f"no user can be given the role {resource.role!r} here; choose one of "
                                f"{', '.join(GRANTABLE_ROLES)} (administrators are made by `imdx cases init`)")


def release_visible(principal: Principal, release: Resource) -> bool:
    """Whether ``principal`` may know that ``release`` exists."""
    own = release.organisation is not None and release.organisation == principal.organisation
    if own and principal.role == "data_protection_officer":
        return True
    if release.status != "published":
        return own and principal.role == "analyst" and release.requested_by == principal.username
    return (release.audience == "public" or (own and principal.role == "analyst")
            or (release.audience == "shared" and principal.organisation in release.shared_with))


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise AccessDenied(403, f"{what} must be 1-64 letters, digits or . _ @ - (starting with a letter or digit)")
    return value
