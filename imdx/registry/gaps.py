"""The gaps matrix: for each GCM objective and country, which dataflows measure it (``gcm_dataflows.csv``),
which of them the store holds for that country and on which side (as a receiving country: destination,
asylum, receiver; as a sending one: origin, sender, citizenship), which are missing (no sending-side flows
for a country, no trafficking data at all), who collects them (the publishers of the data products that
carry the dataflow), and who works on the objective there (registry activities).
"""

from __future__ import annotations

import csv
import threading
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from imdx.store.base import Store

RECEIVING = {"destination", "asylum", "receiver", "country", "area"}
SENDING = {"origin", "sender", "citizenship"}
_LOCK = threading.Lock()
_COVERAGE: dict[tuple, dict] = {}


@dataclass(frozen=True)
class Need:
    gcm: str
    dataflow: str
    side: str  # receiving, sending, both
    why: str


@cache
def needs() -> tuple[Need, ...]:
    text = resources.files("imdx.registry").joinpath("gcm_dataflows.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return tuple(Need(r["gcm"], r["dataflow"], r["side"], r["why"]) for r in rows)


def coverage(store: Store) -> dict[str, dict[str, set[str]]]:
    """dataflow -> {"receiving": areas, "sending": areas} with observations in the store (computed once per
    store and set of releases)."""
    releases = store.releases()
    key = (getattr(store, "path", id(store)).__str__(), len(releases),
           int(releases["release_id"].max()) if len(releases) else 0)
    with _LOCK:
        if key in _COVERAGE:
            return _COVERAGE[key]
    loaded = set()
    for text in releases["dataflows"].dropna() if len(releases) else []:
        loaded |= {part.strip().rsplit(" (", 1)[0] for part in str(text).split(",")}
    out: dict[str, dict[str, set[str]]] = {}
    for flow_id in sorted({n.dataflow for n in needs()} & loaded):
        flow = store.dataflow(flow_id)  # imdx's own dataflows, with releases in this store: their tables exist
        sides: dict[str, set[str]] = {"receiving": set(), "sending": set()}
        for dim in flow.dimensions:
            if not dim.is_area:
                continue
            side = "sending" if dim.name in SENDING else "receiving"
            codes = store.distinct(flow_id, dim.name)
            sides[side] |= {c for c in codes if isinstance(c, str)}
            if dim.name == "area":
                sides["sending"] |= sides["receiving"]
        out[flow_id] = sides
    with _LOCK:
        _COVERAGE[key] = out
    return out


@dataclass
class Cell:
    gcm: str
    country: str
    present: list[dict] = field(default_factory=list)  # {"dataflow", "sides", "collected_by"}
    missing: list[dict] = field(default_factory=list)  # {"dataflow", "side", "why"}
    activities: list[dict] = field(default_factory=list)  # {"id", "title", "organisations"}
    measured: bool = True  # False: no imdx dataflow measures this objective

    @property
    def status(self) -> str:
        if not self.measured:
            return "unmeasured"
        if not self.present:
            return "none"
        return "partial" if self.missing else "complete"

    def summary(self) -> dict:
        return {"gcm": self.gcm, "country": self.country, "status": self.status, "present": len(self.present),
                "missing": len(self.missing), "activities": len(self.activities)}

    def detail(self) -> dict:
        return self.summary() | {"dataflows_present": self.present, "dataflows_missing": self.missing,
                                 "who_works_on_it": self.activities}


def producers(store: Store) -> dict[str, list[str]]:
    """dataflow -> the organisations whose data products carry it."""
    out: dict[str, list[str]] = {}
    for product in store.registry_entries("data_product"):
        for flow in product.body.get("dataflows", []):
            out.setdefault(flow, [])
            if product.body.get("publisher") not in out[flow]:
                out[flow].append(product.body["publisher"])
    return out


def matrix(store: Store, countries: list[str], objectives: list[str] | None = None,
           activity_limit: int = 20) -> list[Cell]:
    """The cells of the gaps matrix for ``countries`` (area codes) and ``objectives`` (default: all 23)."""
    objectives = objectives or [str(i) for i in range(1, 24)]
    have = coverage(store)
    makers = producers(store)
    by_gcm: dict[str, list[Need]] = {}
    for need in needs():
        by_gcm.setdefault(need.gcm, []).append(need)
    wanted = set(countries)
    acts: dict[tuple[str, str], list[dict]] = {}
    for a in store.registry_entries("activity", rel="gcm"):
        for country in set(a.body.get("countries", [])) & wanted:
            for g in a.body.get("gcm", []):
                acts.setdefault((g, country), []).append(
                    {"id": a.entry_id, "title": a.body.get("title"),
                     "organisations": sorted({o["id"] for o in a.body.get("organisations", [])})})
    cells = []
    for g in objectives:
        for country in countries:
            cell = Cell(g, country, measured=g in by_gcm)
            for need in by_gcm.get(g, []):
                sides = have.get(need.dataflow, {"receiving": set(), "sending": set()})
                wanted_sides = ["receiving", "sending"] if need.side == "both" else [need.side]
                found = [s for s in wanted_sides if country in sides[s]]
                lacking = [s for s in wanted_sides if country not in sides[s]]
                if found:
                    cell.present.append({"dataflow": need.dataflow, "sides": found,
                                         "collected_by": makers.get(need.dataflow, [])})
                for side in lacking:
                    cell.missing.append({"dataflow": need.dataflow, "side": side, "why": need.why,
                                         "loaded_anywhere": need.dataflow in have})
            found_acts = acts.get((g, country), [])
            cell.activities = sorted(found_acts, key=lambda a: a["title"] or "")[:activity_limit]
            cells.append(cell)
    return cells
