"""Who may change the registry, on the case database's accounts (:mod:`imdx.cases.access`: users, roles,
organisations, tokens).

* Anyone may read the registry, except organisations' contact points: signed-in users only.
* Tokens are the case database's (``POST /api/v1/cases/token``).
* A signed-in user of organisation X (any role but ``public``) may create, change and delete the entries
  X owns: X's own organisation entry, and the activities, data products and events X registered.
  The registry organisation X is the case database's organisation of the same name (create it there
  with ``imdx cases add-organisation`` or as an administrator).
* An administrator may change any entry (and load the frameworks and the seed).
* Entries of another organisation answer 403: the registry is public, so their existence is no secret.

Every change, and every refused change, is written to the registry's audit log in the store.
"""

from __future__ import annotations

from collections.abc import Callable

from imdx.cases.access import PUBLIC, Principal
from imdx.cases.errors import AccessDenied

EDITOR_ROLES = frozenset({"field_officer", "data_protection_officer", "analyst", "partner_agency"})
#: the principal of the command line: whoever can write the store file may change anything in it
OPERATOR_ROLE = "administrator"


def operator(name: str) -> Principal:
    return Principal(name, None, OPERATOR_ROLE)


def may_edit(principal: Principal, owner: str | None) -> None:
    """Allow ``principal`` to change an entry owned by ``owner``, or raise :class:`AccessDenied`."""
    if not principal.is_authenticated:
        raise AccessDenied(401, "sign in first: changing the registry needs a valid token "
                                "(POST /api/v1/cases/token with the case database's user name and password)")
    if principal.role == "administrator":
        return
    if principal.role not in EDITOR_ROLES:
        raise AccessDenied(403, f"the role {principal.role} may not change the registry")
    if owner is None or owner != principal.organisation:
        raise AccessDenied(403, f"this entry belongs to {owner or 'imdx (frameworks)'}; only its users (or an "
                                "administrator) may change it")


def resolver(service=None) -> tuple[Callable[..., Principal], Callable[..., str] | None]:
    """(token → principal, (user, password) → token) on the case database's service (the one ``imdx serve``
    mounts under ``/api/v1/cases``). Without one, every token is refused with a message saying how to configure
    sign-in."""
    if service is None:
        def nobody(token: str | None, address: str = "") -> Principal:
            if not token:
                return PUBLIC
            raise AccessDenied(401, "sign-in is not configured on this server: configure the case database "
                                    "(IMDX_CASES_CONFIG, see docs/cases.md) and start `imdx serve` again")

        return nobody, None

    def who(token: str | None, address: str = "") -> Principal:
        return service.principal(token, address or "unknown") if token else PUBLIC

    def login(username: str, password: str, address: str = "") -> str:
        return service.login(username, password, address or "unknown").access_token

    return who, login
