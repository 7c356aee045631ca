"""What the registry holds, and the checks every entry passes before it is stored.

=================  ===========================================================================================
kind               fields (besides ``id``, a slug of 1-80 letters, digits, ``-``, ``_``, ``.``)
=================  ===========================================================================================
organisation       name, acronym, type (un_agency, nso, ngo, government, donor, research, other), roles
                   (data_producer, donor, implementer, commissioner, evaluator, coordinator), website, country,
                   contacts (list of {name, role, email, phone}; shown to signed-in users only)
data_product       title, publisher (an organisation id), homepage, source (an imdx source), dataflows,
                   releases (as loaded: release id, key, edition, published), countries
activity           title, organisations ({id, role}), countries, adm1, sectors, period_from, period_to,
                   status, gcm (objective numbers), srf_outputs, description, source
event              title, date, end, country, place, organisers (organisation ids), gcm, description, url
gcm_objective      number, title, commitment, actions (the 23 GCM objectives; loaded, not edited)
srf_node           level, title, parent, description (IOM's SRF; loaded, not edited)
=================  ===========================================================================================

:func:`validate` returns the cleaned body and its links, or raises :class:`RegistryInputError` naming the
field; countries are resolved through the area table (any spelling, ISO3, M49), GCM objectives and SRF
outputs must exist.
"""

from __future__ import annotations

import re
from datetime import date

from imdx.codes.areas import Areas
from imdx.errors import ImdxError

EDITABLE = ("organisation", "data_product", "activity", "event")
KINDS = EDITABLE + ("gcm_objective", "srf_node", "three_w_table", "glossary_term")
ORG_TYPES = ("un_agency", "nso", "ngo", "government", "donor", "research", "other")
ROLES = ("data_producer", "donor", "implementer", "commissioner", "evaluator", "coordinator", "funder", "partner")
STATUSES = ("planned", "ongoing", "completed", "cancelled", "unknown")
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,190}\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^[+0-9 ()./-]{3,40}$")
MAX_LIST = 500
MAX_TEXT = 2000


class RegistryInputError(ImdxError):
    """An entry that cannot be stored as given: the message names the field and what is allowed."""

    exit_code = 2

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def slug(text: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKD", str(text))
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:80] or "x"


def _text(body: dict, name: str, required: bool = False, limit: int = 300) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RegistryInputError(f"{name} is required", name)
        return None
    if not isinstance(value, str):
        raise RegistryInputError(f"{name} must be text", name)
    value = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", value).strip()
    if len(value) > limit:
        raise RegistryInputError(f"{name} has {len(value)} characters; at most {limit}", name)
    return value


def _list(body: dict, name: str) -> list:
    value = body.get(name) or []
    if not isinstance(value, list):
        raise RegistryInputError(f"{name} must be a list", name)
    if len(value) > MAX_LIST:
        raise RegistryInputError(f"{name} has {len(value)} items; at most {MAX_LIST}", name)
    return value


def _choice(value, allowed, name) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise RegistryInputError(f"{name}={value!r} is not allowed; use one of {', '.join(allowed)}", name)
    return value


def _date(body: dict, name: str) -> str | None:
    value = _text(body, name, limit=10)
    if value is None:
        return None
    try:
        if re.fullmatch(r"\d{4}", value):
            return value
        if re.fullmatch(r"\d{4}-\d{2}", value):
            date.fromisoformat(value + "-01")
            return value
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise RegistryInputError(f"{name}={value!r} is not a date; write YYYY-MM-DD (or YYYY-MM, YYYY)", name) from None


class Validator:
    """Checks entries against the area table, the GCM objectives, the SRF outputs and the organisations."""

    def __init__(self, areas: Areas | None, gcm: set[str], srf_outputs: set[str], organisations: set[str]):
        self.areas, self.gcm, self.srf_outputs, self.organisations = areas, gcm, srf_outputs, organisations

    def country(self, value, name: str = "countries") -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise RegistryInputError(f"{name}: {value!r} is not a country name or code", name)
        code = self.areas.resolve(value).code if self.areas is not None else None
        if code is None:
            raise RegistryInputError(f"{name}: {value!r} is not a known country or area (ISO3 code, M49 code or a "
                                     "name in any source's spelling; /api/v1/areas?q= searches)", name)
        return code

    def objectives(self, values: list, name: str = "gcm") -> list[str]:
        out = []
        for v in values:
            key = str(v).strip().removeprefix("GCM").removeprefix("gcm").strip()
            if key not in self.gcm:
                raise RegistryInputError(f"{name}: {v!r} is not a GCM objective; use 1 to 23", name)
            out.append(key)
        return sorted(set(out), key=int)

    def outputs(self, values: list) -> list[str]:
        bad = [v for v in values if str(v) not in self.srf_outputs]
        if bad:
            raise RegistryInputError(f"srf_outputs: {bad[0]!r} is not an output of IOM's Strategic Results Framework "
                                     "(ids such as 1a11; /api/v1/registry/entries?kind=srf_node lists them)",
                                     "srf_outputs")
        return sorted({str(v) for v in values})

    def organisation(self, value, name: str) -> str:
        if not isinstance(value, str) or value not in self.organisations:
            raise RegistryInputError(f"{name}: {value!r} is not a registered organisation id; register it first",
                                     name)
        return value

    def validate(self, kind: str, entry_id: str, body: dict) -> tuple[dict, list[tuple[str, str]]]:
        if kind not in EDITABLE:
            raise RegistryInputError(f"kind={kind!r} cannot be edited; kinds: {', '.join(EDITABLE)}", "kind")
        if not isinstance(entry_id, str) or not ID.match(entry_id):
            raise RegistryInputError("id must be 1-80 letters, digits, '-', '_' or '.', starting with a letter or "
                                     "digit", "id")
        if not isinstance(body, dict):
            raise RegistryInputError("the entry must be a JSON object", None)
        body = {k: v for k, v in body.items() if k not in READ_ONLY}  # what a read adds: sent back unchanged
        known = set(FIELDS[kind]) | {"id", "kind"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise RegistryInputError(f"{unknown[0]!r} is not a field of a {kind}; fields: {', '.join(FIELDS[kind])}",
                                     unknown[0])
        return getattr(self, f"_{kind}")(entry_id, body)

    def _organisation(self, entry_id, body):
        contacts = []
        for c in _list(body, "contacts")[:50]:
            if not isinstance(c, dict) or set(c) - {"name", "role", "email", "phone"}:
                raise RegistryInputError("contacts: each is {name, role, email, phone}", "contacts")
            email, phone = _text(c, "email", limit=254), _text(c, "phone", limit=40)
            if email and not _EMAIL.match(email):
                raise RegistryInputError(f"contacts: {email!r} is not an e-mail address", "contacts")
            if phone and not _PHONE.match(phone):
                raise RegistryInputError(f"contacts: {phone!r} is not a telephone number", "contacts")
            contacts.append({k: v for k, v in {"name": _text(c, "name", True, 200), "role": _text(c, "role", limit=200),
                                               "email": email, "phone": phone}.items() if v})
        roles = [_choice(r, ROLES, "roles") for r in _list(body, "roles")]
        country = self.country(body["country"], "country") if body.get("country") else None
        out = {"name": _text(body, "name", True), "acronym": _text(body, "acronym", limit=40),
               "type": _choice(body.get("type"), ORG_TYPES, "type") or "other", "roles": sorted(set(roles)),
               "website": _url(body, "website"), "country": country, "contacts": contacts}
        links = [("role", r) for r in out["roles"]] + ([("area", country)] if country else [])
        return _clean(out), links

    def _data_product(self, entry_id, body):
        countries = [self.country(c) for c in _list(body, "countries")]
        publisher = self.organisation(body.get("publisher"), "publisher")
        out = {"title": _text(body, "title", True), "publisher": publisher, "homepage": _url(body, "homepage"),
               "source": _text(body, "source", limit=80), "dataflows": [str(d)[:80] for d in _list(body, "dataflows")],
               "releases": _list(body, "releases"), "countries": countries,
               "description": _text(body, "description", limit=MAX_TEXT)}
        links = [("organisation", publisher)] + [("dataflow", d) for d in out["dataflows"]]
        links += [("area", c) for c in countries] + [("release", str(r.get("key"))) for r in out["releases"]
                                                     if isinstance(r, dict) and r.get("key")]
        return _clean(out), links

    def _activity(self, entry_id, body):
        orgs = []
        for o in _list(body, "organisations"):
            if not isinstance(o, dict) or set(o) - {"id", "role"}:
                raise RegistryInputError("organisations: each is {id, role}", "organisations")
            orgs.append({"id": self.organisation(o.get("id"), "organisations"),
                         "role": _choice(o.get("role"), ROLES, "organisations.role") or "implementer"})
        countries = list(dict.fromkeys(self.country(c) for c in _list(body, "countries")))
        start, end = _date(body, "period_from"), _date(body, "period_to")
        if start and end and end < start:
            raise RegistryInputError(f"period_to {end} is before period_from {start}", "period_to")
        out = {"title": _text(body, "title", True, 500), "organisations": orgs, "countries": countries,
               "adm1": [str(a)[:200] for a in _list(body, "adm1")],
               "sectors": [str(s)[:200] for s in _list(body, "sectors")], "period_from": start, "period_to": end,
               "status": _choice(body.get("status"), STATUSES, "status"), "gcm": self.objectives(_list(body, "gcm")),
               "srf_outputs": self.outputs(_list(body, "srf_outputs")),
               "description": _text(body, "description", limit=MAX_TEXT), "source": _text(body, "source", limit=300),
               "record": _text(body, "record", limit=200), "three_w": _three_w(body.get("three_w")),
               "year": _year(body.get("year"))}
        links = [(o["role"], o["id"]) for o in orgs] + [("organisation", o["id"]) for o in orgs]
        links += [("area", c) for c in countries] + [("gcm", g) for g in out["gcm"]]
        links += [("srf", s) for s in out["srf_outputs"]] + [("sector", s) for s in out["sectors"]]
        return _clean(out), links

    def _event(self, entry_id, body):
        organisers = [self.organisation(o, "organisers") for o in _list(body, "organisers")]
        country = self.country(body["country"], "country") if body.get("country") else None
        start, end = _date(body, "date"), _date(body, "end")
        if start is None:
            raise RegistryInputError("date is required (YYYY-MM-DD)", "date")
        if end and end < start:
            raise RegistryInputError(f"end {end} is before date {start}", "end")
        out = {"title": _text(body, "title", True, 500), "date": start, "end": end, "country": country,
               "place": _text(body, "place"), "organisers": organisers, "gcm": self.objectives(_list(body, "gcm")),
               "description": _text(body, "description", limit=MAX_TEXT), "url": _url(body, "url")}
        links = [("organisation", o) for o in organisers] + [("gcm", g) for g in out["gcm"]]
        links += [("area", country)] if country else []
        return _clean(out), links


READ_ONLY = ("owner", "version", "updated_at", "contacts_hidden", "seed")  # "seed": dropped on a user's edit
FIELDS = {
    "organisation": ("name", "acronym", "type", "roles", "website", "country", "contacts"),
    "data_product": ("title", "publisher", "homepage", "source", "dataflows", "releases", "countries", "description"),
    "activity": ("title", "organisations", "countries", "adm1", "sectors", "period_from", "period_to", "year",
                 "status", "gcm", "srf_outputs", "description", "source", "record", "three_w"),
    "event": ("title", "date", "end", "country", "place", "organisers", "gcm", "description", "url"),
}


def _year(value) -> int | None:
    if value in (None, ""):
        return None
    if not isinstance(value, int) or not 1900 <= value <= 2100:
        raise RegistryInputError(f"year={value!r} is not a year", "year")
    return value


def _three_w(value) -> dict | None:
    """The row of a 3W spreadsheet an activity came from (kept to export it unchanged)."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"table", "row"} or not isinstance(value["table"], str) or \
            not isinstance(value["row"], int) or len(value["table"]) > 80:
        raise RegistryInputError("three_w must be {table, row} as a 3W import wrote it", "three_w")
    return value


def _url(body: dict, name: str) -> str | None:
    value = _text(body, name, limit=2000)
    if value is not None and not re.match(r"^https?://[^\s<>\"']+$", value):
        raise RegistryInputError(f"{name} must be an http(s) URL", name)
    return value


def _clean(body: dict) -> dict:
    return {k: v for k, v in body.items() if v not in (None, [], "")}


def public_view(kind: str, body: dict, signed_in: bool) -> dict:
    """What a caller may see of an entry: contacts only when signed in."""
    if kind == "organisation" and not signed_in and "contacts" in body:
        return {k: v for k, v in body.items() if k != "contacts"} | {"contacts_hidden": len(body["contacts"])}
    return body
