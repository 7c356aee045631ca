"""3W import and export on the registry (the file format is :mod:`imdx.registry.hxl`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from imdx.cases.access import Principal
from imdx.cases.errors import AccessDenied
from imdx.model.report import Issue, Report
from imdx.registry import access
from imdx.registry.hxl import (
    STANDARD,
    TABLE,
    Column,
    ThreeWImportError,
    date_cell,
    read_table,
    status_cell,
    table_id,
    write_table,
)
from imdx.registry.model import STATUSES, RegistryInputError, slug
from imdx.registry.service import Registry
from imdx.store.base import Store
from imdx.store.documents import AuditRow, RegistryChange


@dataclass
class ThreeWImport:
    table: str
    rows: int
    activities: int
    organisations: int
    report: Report = field(default_factory=Report)


def _cell(row: list[str], column: Column) -> str:
    return row[column.index].strip() if column.index < len(row) else ""


class _Orgs:
    """Organisations by id, name and acronym (any case); new ones are registered with the import."""

    def __init__(self, store: Store, owner: str | None):
        self.owner, self.new = owner, {}
        self.by_key = {}
        for e in store.registry_entries("organisation"):
            for key in (e.entry_id, e.body.get("name"), e.body.get("acronym")):
                if key:
                    self.by_key.setdefault(key.casefold(), e.entry_id)

    def find(self, name: str) -> str:
        found = self.by_key.get(name.casefold())
        if found:
            return found
        org_id, n = slug(name), 1
        while org_id in self.by_key.values() and org_id not in self.new:
            n += 1
            org_id = f"{slug(name)[:76]}-{n}"
        self.new[org_id] = name
        self.by_key[name.casefold()] = org_id
        return org_id


def _read_cell(role: str, value: str, body: dict, parsed: dict, orgs: _Orgs, areas, report: Report,
               where: dict) -> None:
    """One cell of a 3W row into the activity's ``body`` and the row's ``parsed`` values; a value that cannot
    be read is an issue at ``where``."""
    if role in ("org", "funder"):
        org_id = orgs.find(value)
        body["organisations"].append({"id": org_id, "role": "implementer" if role == "org" else "funder"})
        parsed[role] = org_id
    elif role in ("country_code", "country_name"):
        systems = ("code", "iso3", "iso2", "m49") if role == "country_code" else ("name", "code", "iso3")
        code = areas.resolve(value, systems).code if areas is not None else None
        if code is None:
            what = "code" if role == "country_code" else "name"
            report.add(Issue("unknown-country", f"{value!r} is not a country {what} (ISO 3166 alpha-3, e.g. KEN)",
                             "error", **where))
            return
        body["countries"].append(code)
        parsed["country"] = code
    elif role in ("start", "end"):
        try:
            body["period_from" if role == "start" else "period_to"] = parsed[role] = date_cell(value)
        except ValueError:
            report.add(Issue("bad-date", f"{value!r} is not a date; write YYYY-MM-DD", "error", **where))
    elif role == "status":
        status = status_cell(value)
        if status is None:
            report.add(Issue("unknown-status", f"{value!r} is not a status imdx knows ({', '.join(STATUSES)}); "
                             "kept as written", "warning", **where))
        parsed["status"] = body["status"] = status
    elif role in ("adm1", "sector"):
        body["adm1" if role == "adm1" else "sectors"].append(value)
        parsed[role] = value
    elif role == "activity":
        body["title"] = parsed["activity"] = value


def _owner(registry: Registry, principal: Principal, owner: str | None, path: Path) -> str:
    """The organisation that will own the imported activities (default: the principal's), once the principal
    may edit its entries (a refusal is audited)."""
    owner = owner or principal.organisation
    if not principal.is_authenticated:
        access.may_edit(principal, owner)  # 401: sign in first
    if owner is None:
        raise RegistryInputError("say which organisation the imported activities belong to (--organisation)",
                                 "organisation")
    try:
        access.may_edit(principal, owner)
        if not registry.entry("organisation", owner):
            raise AccessDenied(403, f"register the organisation {owner!r} first")
    except AccessDenied as err:
        registry._refuse(principal, "import", TABLE, path.name, err)
        raise
    return owner


def import_3w(store: Store, path: str | Path, principal: Principal, owner: str | None = None) -> ThreeWImport:
    """Import a 3W file as activities owned by ``owner`` (default: the principal's organisation)."""
    path = Path(path)
    report = Report()
    table = read_table(path, report)
    registry = Registry(store)
    owner = _owner(registry, principal, owner, path)
    tid = table_id(path)
    areas = store.areas()
    orgs = _Orgs(store, owner)
    validator = registry.validator()
    rows, activities = [], []
    for k, row in enumerate(table.rows):
        line = table.first_row + k
        if not any(c.strip() for c in row):
            rows.append({"activity": None, "cells": row})
            continue
        parsed: dict[str, str | None] = {}
        body: dict = {"organisations": [], "countries": [], "adm1": [], "sectors": []}
        for col in table.columns:
            role, value = col.role(), _cell(row, col)
            if role is not None and value:
                where = {"source": "3w", "file": path.name, "row": line, "column": f"{col.hashtag} ({col.header})"}
                _read_cell(role, value, body, parsed, orgs, areas, report, where)
        if not any(o["role"] == "implementer" for o in body["organisations"]):
            report.add(Issue("row-without-organisation", "the row names no organisation (#org)", "error", source="3w",
                             file=path.name, row=line))
            continue
        body["title"] = body.get("title") or " / ".join(body["sectors"] + [orgs.new.get(parsed["org"], parsed["org"])])
        body["source"] = f"3W {path.name}"
        body["three_w"] = {"table": tid, "row": k}
        activity_id = f"3w-{tid}-{k + 1}"
        rows.append({"activity": activity_id, "cells": row, "parsed": parsed})
        activities.append((activity_id, body, line))
    if any(i.severity == "error" for i in report):
        raise ThreeWImportError(path.name, report)
    validator.organisations |= set(orgs.new)
    changes = [RegistryChange("organisation", org_id, owner, {"name": name, "type": "other", "roles": ["implementer"],
                                                               "seed": f"3W {path.name}"},
                              [("role", "implementer")], check_version=False) for org_id, name in orgs.new.items()]
    for activity_id, body, line in activities:
        try:
            clean, links = validator.validate("activity", activity_id, body)
        except RegistryInputError as err:
            report.add(Issue("invalid-row", str(err), "error", source="3w", file=path.name, row=line))
            continue
        changes.append(RegistryChange("activity", activity_id, owner, clean, links, check_version=False))
    if any(i.severity == "error" for i in report):
        raise ThreeWImportError(path.name, report)
    previous = {e.entry_id: e for e in store.registry_entries("activity", owner=None)
                if e.body.get("three_w", {}).get("table") == tid}
    for entry in previous.values():
        if entry.owner != owner and principal.role != "administrator":
            raise AccessDenied(403, f"the table {tid!r} was imported by {entry.owner}; only its users may import it "
                                    "again")
    kept = {c.entry_id for c in changes}
    changes += [RegistryChange("activity", e.entry_id, e.owner, None, check_version=False)
                for e in previous.values() if e.entry_id not in kept]
    table_body = {"file": path.name, "headers": table.headers, "hashtags": [c.hashtag for c in table.columns],
                  "newline": table.newline, "rows": rows, "owner": owner}
    changes.append(RegistryChange(TABLE, tid, owner, table_body, [("organisation", owner)], check_version=False))
    audit = [AuditRow(principal.username, principal.organisation,
                      "update" if c.entry_id in previous else ("delete" if c.body is None else "create"), c.kind,
                      c.entry_id, before=previous[c.entry_id].body if c.entry_id in previous else None, after=c.body)
             for c in changes]
    store.write_registry(changes, audit)
    return ThreeWImport(tid, len(table.rows), len(activities), len(orgs.new), report)


def export_3w(store: Store, table: str | None = None) -> str:
    """A 3W table as imported (the registry's current values in the columns it reads, the rest as written), or,
    without ``table``, every activity in the standard 3W columns."""
    activities = {e.entry_id: e for e in store.registry_entries("activity")}
    names = {e.entry_id: e.body.get("name", e.entry_id) for e in store.registry_entries("organisation")}
    if table is None:
        rows = []
        for a in activities.values():
            b = a.body
            orgs = [names.get(o["id"], o["id"]) for o in b.get("organisations", []) if o["role"] == "implementer"]
            for country in b.get("countries") or [""]:
                rows.append([orgs[0] if orgs else "", "; ".join(b.get("sectors", [])), country,
                             "; ".join(b.get("adm1", [])), b.get("title", ""), b.get("period_from") or "",
                             b.get("period_to") or "", b.get("status") or ""])
        return write_table([[h for h, _ in STANDARD]], [t for _, t in STANDARD], rows)
    found = store.registry_entries(TABLE, entry_ids=[table])
    if not found:
        raise RegistryInputError(f"no 3W table {table!r}; `imdx registry tables` lists them", "table")
    body = found[0].body
    columns = [Column(i, "", h, *_parse(h)) for i, h in enumerate(body["hashtags"])]
    out = []
    for row in body["rows"]:
        cells = list(row["cells"])
        activity = activities.get(row.get("activity")) if row.get("activity") else None
        if row.get("activity") and activity is None:
            continue  # deleted since the import
        if activity is not None:
            _update_cells(cells, columns, row.get("parsed", {}), activity.body, names)
        out.append(cells)
    return write_table(body["headers"], body["hashtags"], out, body.get("newline", "\r\n"))


def _parse(hashtag: str) -> tuple[str, tuple[str, ...]]:
    parts = [p.strip().lower() for p in hashtag.lstrip("#").split("+")] if hashtag else [""]
    return parts[0], tuple(p for p in parts[1:] if p)


def _update_cells(cells: list[str], columns: list[Column], parsed: dict, body: dict, names: dict) -> None:
    """Write the activity's current values into the cells whose value changed since the import."""
    implementers = [o["id"] for o in body.get("organisations", []) if o["role"] == "implementer"]
    current = {"org": implementers[0] if implementers else None,
               "country": (body.get("countries") or [None])[0], "start": body.get("period_from"),
               "end": body.get("period_to"), "status": body.get("status"), "adm1": (body.get("adm1") or [None])[0],
               "sector": (body.get("sectors") or [None])[0], "activity": body.get("title")}
    for col in columns:
        role = col.role()
        key = "country" if role in ("country_code", "country_name") else role
        if key not in current or key not in parsed or current[key] == parsed[key] or col.index >= len(cells):
            continue
        value = current[key] or ""
        cells[col.index] = names.get(value, value) if key == "org" else value
