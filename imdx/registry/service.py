"""The registry over one store: reading entries (contacts for signed-in users only) and changing them, each
change checked (:mod:`imdx.registry.model`), authorised (:mod:`imdx.registry.access`), versioned and
audited in one transaction.
"""

from __future__ import annotations

from imdx.cases.access import Principal
from imdx.cases.errors import AccessDenied
from imdx.registry import access
from imdx.registry.model import EDITABLE, KINDS, RegistryInputError, Validator, public_view
from imdx.store.base import Store
from imdx.store.documents import AuditRow, RegistryChange, StoredEntry


class Registry:
    def __init__(self, store: Store):
        self.store = store

    # -- reading ---------------------------------------------------------------------------------
    def entries(self, kind: str | None = None, *, signed_in: bool = False, **filters) -> list[dict]:
        if kind is not None and kind not in KINDS:
            raise RegistryInputError(f"kind={kind!r} is not a kind of entry; kinds: {', '.join(KINDS)}", "kind")
        return [self.view(e, signed_in) for e in self.store.registry_entries(kind, **filters)]

    def entry(self, kind: str, entry_id: str, *, signed_in: bool = False) -> dict | None:
        if kind not in KINDS or not isinstance(entry_id, str) or len(entry_id) > 200:
            return None
        found = self.store.registry_entries(kind, entry_ids=[entry_id])
        return self.view(found[0], signed_in) if found else None

    @staticmethod
    def view(entry: StoredEntry, signed_in: bool) -> dict:
        return {"kind": entry.kind, "id": entry.entry_id, "owner": entry.owner, "version": entry.version,
                "updated_at": entry.updated_at.isoformat() if entry.updated_at else None,
                **public_view(entry.kind, entry.body, signed_in)}

    def validator(self) -> Validator:
        gcm = {e.entry_id for e in self.store.registry_entries("gcm_objective")}
        outputs = {e.entry_id for e in self.store.registry_entries("srf_node") if e.body.get("level") == "output"}
        orgs = {e.entry_id for e in self.store.registry_entries("organisation")}
        return Validator(self.store.areas(), gcm, outputs, orgs)

    # -- writing ---------------------------------------------------------------------------------
    def _refuse(self, principal: Principal, action: str, kind: str, entry_id: str, err: Exception) -> None:
        if not self.store.is_read_only():
            self.store.audit_registry([AuditRow(principal.username, principal.organisation, action, kind,
                                                str(entry_id)[:200], "denied",
                                                detail={"reason": str(err)[:500], "role": principal.role})])

    def _existing(self, kind: str, entry_id: str) -> StoredEntry | None:
        found = self.store.registry_entries(kind, entry_ids=[entry_id]) if isinstance(entry_id, str) else []
        return found[0] if found else None

    def save(self, principal: Principal, kind: str, entry_id: str, body: dict,
             version: int | None = None) -> dict:
        """Create the entry (``version`` None) or change it (``version``: the version it was read at)."""
        if kind not in EDITABLE:
            raise RegistryInputError(f"kind={kind!r} cannot be edited; kinds: {', '.join(EDITABLE)}", "kind")
        old = self._existing(kind, entry_id)
        if kind == "organisation":
            owner = old.owner if old else entry_id
        else:
            owner = old.owner if old else principal.organisation
        action = "update" if old else "create"
        try:
            access.may_edit(principal, owner)
            if old is None and kind != "organisation" and principal.role != "administrator" and \
                    not self._existing("organisation", principal.organisation or ""):
                raise AccessDenied(403, f"register your organisation {principal.organisation!r} in the registry "
                                        "first (kind organisation, id = its name in the case database)")
            clean, links = self.validator().validate(kind, entry_id, body)
        except (AccessDenied, RegistryInputError) as err:
            self._refuse(principal, action, kind, entry_id, err)
            raise
        if old is not None and version is None:
            raise RegistryInputError(f"the {kind} {entry_id!r} exists (version {old.version}); send its version to "
                                     "change it", "version")
        change = RegistryChange(kind, entry_id, owner, clean, links, expected_version=old.version if old else None)
        if old is not None:
            change.expected_version = version
        self.store.write_registry([change], [AuditRow(principal.username, principal.organisation, action, kind,
                                                      entry_id, before=old.body if old else None, after=clean)])
        return self.view(self._existing(kind, entry_id), True)

    def delete(self, principal: Principal, kind: str, entry_id: str, version: int) -> None:
        old = self._existing(kind, entry_id) if kind in EDITABLE else None
        try:
            if old is None:
                raise AccessDenied(404, f"no {kind} {entry_id!r}")
            access.may_edit(principal, old.owner)
            if kind == "organisation" and self.store.registry_entries(owner=entry_id, kind=None) and \
                    any(e.kind != "organisation" for e in self.store.registry_entries(owner=entry_id)):
                raise RegistryInputError(f"the organisation {entry_id!r} still owns entries; delete them first", "id")
        except (AccessDenied, RegistryInputError) as err:
            self._refuse(principal, "delete", kind, entry_id, err)
            raise
        self.store.write_registry([RegistryChange(kind, entry_id, old.owner, None, expected_version=version)],
                                  [AuditRow(principal.username, principal.organisation, "delete", kind, entry_id,
                                            before=old.body)])
