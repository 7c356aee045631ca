"""What the registry starts from, built from real material:

* the frameworks (:mod:`imdx.registry.frameworks`): 23 GCM objectives, the SRF nodes, their mappings;
* the data products: every source imdx loads (``imdx.sources``), and every other source with releases in
  the store, each linked to its publisher and to its releases as loaded;
* organisations and activities from IOM's evaluations in the library: each evaluated project is an
  activity of IOM with its countries, period, donors (organisations too, governments linked to their
  country), themes as sectors, GCM objectives (from the record's topics) and the SRF outputs the GCM→SRF
  mapping gives for them.

Each part is written in one transaction and audited; seeding again replaces what the seed wrote before
(entries whose source is the seed), never what users entered.
"""

from __future__ import annotations

import re
from pathlib import Path

from imdx.model.report import Report
from imdx.registry.frameworks import FOLDER, read_frameworks
from imdx.registry.model import slug
from imdx.store.base import Store
from imdx.store.documents import AuditRow, RegistryChange

SEED = "imdx-seed"
#: publishers of the sources imdx loads: organisation id -> (name, acronym, type, website)
ORGANISATIONS = {
    "iom": ("International Organization for Migration", "IOM", "un_agency", "https://www.iom.int"),
    "undesa-pd": ("United Nations, Department of Economic and Social Affairs, Population Division", "UN DESA",
                  "un_agency", "https://www.un.org/development/desa/pd/"),
    "unsd": ("United Nations Statistics Division", "UNSD", "un_agency", "https://unstats.un.org"),
    "world-bank": ("The World Bank", "WB", "un_agency", "https://www.worldbank.org"),
    "knomad": ("Global Knowledge Partnership on Migration and Development", "KNOMAD", "research",
               "https://www.knomad.org"),
    "unhcr": ("Office of the United Nations High Commissioner for Refugees", "UNHCR", "un_agency",
              "https://www.unhcr.org"),
    "eurostat": ("Eurostat (European Commission)", "Eurostat", "nso", "https://ec.europa.eu/eurostat"),
    "imdx": ("imdx (estimates made by imdx itself)", "imdx", "other", None),
}
PUBLISHER_OF = {"m49": "unsd", "undesa_ims": "undesa-pd", "wpp": "undesa-pd", "wdi": "world-bank",
                "knomad": "knomad", "unhcr": "unhcr", "eurostat": "eurostat", "estimates": "imdx", "cases": "imdx"}


def _replace(store: Store, changes: list[RegistryChange], audit: AuditRow) -> None:
    """Write the seed's entries, deleting those this part of the seed wrote before (the same ``source``) and
    no longer makes."""
    keep = {(c.kind, c.entry_id) for c in changes}
    tags = {c.body.get("seed") for c in changes}
    stale = [RegistryChange(e.kind, e.entry_id, e.owner, None, check_version=False)
             for kind in sorted({c.kind for c in changes}) for e in store.registry_entries(kind)
             if (e.kind, e.entry_id) not in keep and e.body.get("seed") in tags]
    store.write_registry(changes + stale, [audit])


def seed_frameworks(store: Store, mirror: Path, actor: str = SEED) -> Report:
    fw = read_frameworks(Path(mirror) / FOLDER)
    changes = []
    for number, obj in fw.objectives.items():
        body = {"number": number, "title": obj.title, "commitment": obj.commitment, "actions": obj.actions,
                "srf_outputs": fw.gcm_to_srf.get(number, []), "source": "GCM, A/RES/73/195 (iomeval)",
                "seed": "frameworks"}
        changes.append(RegistryChange("gcm_objective", number, None, body,
                                      [("srf", o) for o in fw.gcm_to_srf.get(number, [])], check_version=False))
    to_gcm: dict[str, list[str]] = {}
    for g, outs in fw.gcm_to_srf.items():
        for o in outs:
            to_gcm.setdefault(o, []).append(g)
    for node in fw.srf.values():
        body = {"level": node.level, "title": node.title, "parent": node.parent, "description": node.description,
                "gcm": sorted(to_gcm.get(node.id, []), key=int), "source": "IOM SRF (iomeval)",
                "seed": "frameworks"}
        links = [("gcm", g) for g in body["gcm"]] + ([("parent", node.parent)] if node.parent else [])
        changes.append(RegistryChange("srf_node", node.id, None, {k: v for k, v in body.items() if v not in (None, [])},
                                      links, check_version=False))
    _replace(store, changes, AuditRow(actor, None, "import", "frameworks", FOLDER,
                                      detail={"entries": len(changes), "issues": len(fw.report)}))
    return fw.report


def _organisation(org_id: str, name: str, acronym: str | None, type_: str, website: str | None, roles: list[str],
                  country: str | None = None, source: str = "seed: sources") -> RegistryChange:
    body = {"name": name, "acronym": acronym, "type": type_, "website": website, "roles": sorted(set(roles)),
            "country": country, "seed": source}
    links = [("role", r) for r in body["roles"]] + ([("area", country)] if country else [])
    return RegistryChange("organisation", org_id, org_id, {k: v for k, v in body.items() if v not in (None, [])},
                          links, check_version=False)


def seed_data_products(store: Store, actor: str = SEED) -> int:
    from imdx.sources import registry

    releases = store.releases()
    products: dict[str, dict] = {}
    for source in registry().values():
        products[source.name] = {"title": source.title, "publisher": PUBLISHER_OF.get(source.name, "imdx"),
                                 "homepage": source.homepage,
                                 "dataflows": sorted({d for r in source.releases for d in r.dataflows})}
    for name in dict.fromkeys(releases["source"]) if len(releases) else []:
        products.setdefault(name, {"title": f"{name} (loaded into this store)",
                                   "publisher": PUBLISHER_OF.get(name.split(":")[0], "imdx"), "dataflows": []})
    changes = [_organisation(org, *ORGANISATIONS[org], ["data_producer"])
               for org in sorted({p["publisher"] for p in products.values()}) if org in ORGANISATIONS]
    for name, product in products.items():
        mine = releases[releases["source"] == name] if len(releases) else releases
        loaded = [{"release_id": int(r.release_id), "key": r.key, "edition": r.edition, "published": str(r.published),
                   "title": r.title} for r in mine.itertuples(index=False)]
        flows = set(product["dataflows"])
        for text in (mine["dataflows"].dropna() if len(mine) else []):
            flows |= {re.sub(r"\s*\(\d+\)$", "", part.strip()) for part in str(text).split(",") if part.strip()}
        body = {"title": product["title"], "publisher": product["publisher"], "homepage": product.get("homepage"),
                "source": name, "dataflows": sorted(flows), "releases": loaded, "seed": "seed: sources"}
        links = [("organisation", body["publisher"])] + [("dataflow", d) for d in body["dataflows"]]
        links += [("release", r["key"]) for r in loaded]
        changes.append(RegistryChange("data_product", name, body["publisher"],
                                      {k: v for k, v in body.items() if v not in (None, [])}, links,
                                      check_version=False))
    _replace(store, changes, AuditRow(actor, None, "import", "data_product", "sources",
                                      detail={"entries": len(changes)}))
    return len(changes)


def _status(timing: str | None) -> str:
    timing = (timing or "").casefold()
    if timing.startswith(("final", "ex-post", "ex post")):
        return "completed"
    if timing.startswith(("mid", "real")):
        return "ongoing"
    return "unknown"


def seed_activities(store: Store, actor: str = SEED) -> int:
    """Organisations and activities from the IOM evaluations stored in the library."""
    records = [r for r in store.library_records() if any(s.source == "iom_evaluations" for s in r.sources)]
    areas = store.areas()
    gcm_to_srf = {e.entry_id: e.body.get("srf_outputs", []) for e in store.registry_entries("gcm_objective")}
    tag = "seed: iom_evaluations"
    iom_roles = ["implementer", "commissioner", "data_producer"]
    orgs: dict[str, RegistryChange] = {"iom": _organisation("iom", *ORGANISATIONS["iom"], iom_roles, None, tag)}
    changes = []
    for stored in records:
        body = stored.body
        extra = body.get("extra", {})
        members = [{"id": "iom", "role": "implementer"}]
        if "IOM" in body.get("commissioners", []):
            members.append({"id": "iom", "role": "commissioner"})
        for donor in body.get("donors", []):
            org_id = slug(donor)
            if org_id not in orgs:
                country = None
                m = re.match(r"government\s+of\s+(the\s+)?(.+)$", donor, re.IGNORECASE)
                if m and areas is not None:
                    country = areas.resolve(m.group(2)).code
                type_ = "government" if m else "donor"
                orgs[org_id] = _organisation(org_id, donor, None, type_, None, ["donor"], country, tag)
            members.append({"id": org_id, "role": "donor"})
            if "Donor" in body.get("commissioners", []):
                members.append({"id": org_id, "role": "commissioner"})
        gcm = body.get("gcm", [])
        srf = sorted({o for g in gcm for o in gcm_to_srf.get(g, [])})
        start, end = extra.get("period_from"), extra.get("period_to")
        activity = {"title": body.get("title"), "organisations": [dict(t) for t in {tuple(m.items()) for m in members}],
                    "countries": body.get("countries", []), "sectors": body.get("themes", []),
                    "period_from": start if start and (not end or start <= end) else None,
                    "period_to": end if end and (not start or start <= end) else None,
                    "year": body.get("year"), "status": _status(extra.get("timing")), "gcm": gcm,
                    "srf_outputs": srf, "record": stored.record_id,
                    "source": "IOM evaluation " + stored.record_id.removeprefix("iom-eval-"), "seed": tag}
        activity["organisations"].sort(key=lambda m: (m["role"], m["id"]))
        links = [(m["role"], m["id"]) for m in activity["organisations"]]
        links += [("organisation", m["id"]) for m in activity["organisations"]]
        links += [("area", c) for c in activity["countries"]] + [("gcm", g) for g in gcm]
        links += [("srf", s) for s in srf] + [("sector", s) for s in activity["sectors"]]
        links += [("record", stored.record_id)]
        changes.append(RegistryChange("activity", f"eval-{stored.record_id.removeprefix('iom-eval-')}", "iom",
                                      {k: v for k, v in activity.items() if v not in (None, [])}, links,
                                      check_version=False))
    _replace(store, list(orgs.values()) + changes,
             AuditRow(actor, None, "import", "activity", "iom_evaluations",
                      detail={"organisations": len(orgs), "activities": len(changes)}))
    return len(changes)


def seed_all(store: Store, mirror: Path, actor: str = SEED) -> dict:
    report = seed_frameworks(store, mirror, actor)
    n_products = seed_data_products(store, actor)
    n_activities = seed_activities(store, actor)
    return {"report": report, "data_products": n_products, "activities": n_activities,
            "gcm_objectives": len(store.registry_entries("gcm_objective")),
            "srf_nodes": len(store.registry_entries("srf_node")),
            "organisations": len(store.registry_entries("organisation"))}
