"""What the search and sources pages show."""

from __future__ import annotations

import re
from itertools import pairwise

import pandas as pd

from imdx.api.limits import Limits
from imdx.codes.names import normalise
from imdx.portal.data import SEVERITY_RANK, Reader
from imdx.sources.fetch import public_origin

# -- search ------------------------------------------------------------------------------------------
_CORRIDOR = re.compile(r"^\s*(?:from\s+)?(.+?)\s*(?:\bto\b|→|->|>|–|—|\s-\s|-|/)\s*(.+?)\s*$", re.IGNORECASE)


#: what a person may type for one area: a code of these systems, or a name (UNHCR's own codes last: they
#: collide with ISO's, UNHCR's AUS is Austria)
EXACT = ("code", "iso3", "m49", "iso2", "undesa", "wb", "name", "unhcr")


def exact_area(reader: Reader, text: str) -> str | None:
    """The area ``text`` names exactly (a code, a name in any source's spelling, a known abbreviation), if any."""
    areas = reader.store.areas()
    text = (text or "").strip()
    return areas.resolve(text, EXACT).code if areas is not None and text else None


def resolve_area(reader: Reader, text: str) -> str | None:
    """The area ``text`` names exactly, or the one country whose name it begins."""
    areas = reader.store.areas()
    if areas is None:
        return None
    code = exact_area(reader, text)
    if code:
        return code
    hits = areas.search(text, limit=50)
    countries = hits[hits["kind"] == "country"]
    if len(countries) == 1:
        return countries.index[0]
    exact = [c for c, n in zip(countries["code"], countries["name"]) if normalise(n).startswith(normalise(text))]
    return exact[0] if len(exact) == 1 else None


def search(reader: Reader, q: str) -> dict:
    q = (q or "").strip()[:200]
    if not q:
        return {"q": q, "corridors": [], "areas": [], "dataflows": [], "exact": None}
    names = reader.names()
    kinds = reader.area_table().set_index("code")["kind"]
    corridors = []
    exact = exact_area(reader, q)
    if exact and kinds.get(exact) not in ("country", "aggregate"):
        exact = None  # "Unknown", "Total": listed, not a page to go to
    m = None if exact else _CORRIDOR.match(q)  # "Guinea-Bissau" is a country, not a corridor
    if m:
        a, b = resolve_area(reader, m.group(1)), resolve_area(reader, m.group(2))
        if a and b and a != b:
            corridors.append({"origin": a, "destination": b, "label": f"{names.get(a, a)} → {names.get(b, b)}"})
    areas = reader.store.areas()
    found = []
    if areas is not None and len(q) >= 2:
        hits = areas.search(q, limit=60)  # ranked: exact names and abbreviations first
        codes = ([exact] if exact else []) + [c for c in hits["code"] if c != exact]
        for code in codes[:40]:
            found.append({"code": code, "name": names.get(code, code), "kind": kinds.get(code)})
    needle = normalise(q)
    flows = []
    for fid in reader.servable_ids():
        flow = reader.flow(fid)
        text = normalise(f"{fid} {fid.replace('_', ' ')} {flow.name} {flow.description}")
        words = needle.split()
        if words and all(w in text for w in words):
            flows.append({"id": fid, "name": flow.name, "unit": flow.unit})
    return {"q": q, "corridors": corridors, "areas": found, "dataflows": flows, "exact": exact}


# -- sources -----------------------------------------------------------------------------------------
def sources_page(reader: Reader) -> dict:
    def compute():
        rel = reader.releases()
        files = reader.release_files()
        releases = []
        for r in rel.itertuples(index=False):
            fs = files[files["release_id"] == r.release_id]
            releases.append({"id": int(r.release_id), "source": r.source, "key": r.key, "title": r.title,
                             "edition": r.edition, "published": str(r.published)[:10],
                             "loaded_at": str(r.loaded_at)[:19], "licence": r.licence,
                             "dataflows": r.dataflows or "", "n_obs": int(r.n_obs) if pd.notna(r.n_obs) else 0,
                             "files": fs[["name", "url", "sha256", "size", "retrieved_from"]].assign(
                                 retrieved_from=[public_origin(v) for v in fs["retrieved_from"]]).to_dict("records")})
        diffs = []
        ed = reader.editions().groupby(["dataflow", "source", "edition"], as_index=False).agg(
            published=("published", "min"), n_obs=("n_obs", "sum"))
        largest = Limits().max_unfiltered_rows  # what the API answers without a filter (IMDX_HTTP_*)
        for (flow, source), part in ed.groupby(["dataflow", "source"], sort=True):
            if not reader.servable(flow):
                continue
            part = part.sort_values(["published", "edition"])
            for (a, n_a), (b, n_b) in pairwise(zip(part["edition"], part["n_obs"])):
                years = reader.years(flow) if max(n_a, n_b) > largest else []
                last = f"&year={years[-1]}" if years else ""  # a diff too large unfiltered: its latest year
                diffs.append({"flow": flow, "source": source, "from": a, "to": b,
                              "href": f"/api/v1/diff/{flow}?from={a}&to={b}&source={source}{last}"})
        everything = reader.issues()
        counts = everything.assign(n=1).groupby(["source", "severity", "type"], as_index=False, dropna=False).agg(
            n=("n", "sum"), n_obs=("n_obs", "sum"))
        counts = counts.assign(_rank=counts["severity"].map(SEVERITY_RANK)).sort_values(
            ["source", "_rank", "type"], kind="stable").drop(columns="_rank")
        serious = everything[everything["severity"].isin(["error", "warning"])]
        shown = serious.sort_values(["source", "type", "file", "row"], kind="stable", na_position="last") \
            .sort_values("severity", key=lambda s: s.map(SEVERITY_RANK), kind="stable").head(100)
        columns = ["source", "severity", "type", "dataflow", "file", "sheet", "row", "area", "message"]
        return {"releases": releases, "diffs": diffs, "issues": counts.to_dict("records"),
                "serious": shown[columns].to_dict("records"), "n_serious": len(serious)}
    return reader.cached(("sources",), compute)
