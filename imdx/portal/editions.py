"""Series drawn from one edition: the UN DESA migrant stock of a country or corridor, edition by edition.

The store's current value of a key is the latest release that holds it, which is right for one number
and wrong for a line: UN DESA's 2020 edition ends in 2020 and the 2019 edition in 2019, so the current
values of Germany's immigrants put the 2019 edition's 2019 point into the 2020 edition's series, and its
emigrants drop between editions that cover different destinations. Here a page picks one edition (the
latest that holds the country, or the one the reader chose) and draws every point from it; the other
editions' values of the same years are shown apart, as revisions.

Every read goes through :meth:`imdx.store.base.Store.select` with ``edition=`` and ``source=``; each
edition's index is built once (the latest at start-up, the others when first asked for).
"""

from __future__ import annotations

from dataclasses import dataclass

from imdx.portal.data import Reader

SOURCE = "undesa_ims"
STOCK, SHARE = "migrant_stock", "migrant_stock_share"
_KEEP = ("destination", "origin", "sex", "year", "value", "obs_status", "note", "release_id")


@dataclass(frozen=True)
class Edition:
    edition: str
    release_ids: tuple[int, ...]
    title: str
    published: str


def stock_editions(reader: Reader) -> list[Edition]:
    """UN DESA's editions that hold migrant stock, the most recently published first."""
    def compute():
        rel = reader.editions()  # in the store's rank order
        rel = rel[(rel["dataflow"] == STOCK) & (rel["source"] == SOURCE)].iloc[::-1]
        titles = reader.releases().set_index("release_id")["title"]
        out = []
        for edition, part in rel.groupby("edition", sort=False):
            out.append(Edition(str(edition), tuple(int(i) for i in part["release_id"]),
                               "; ".join(str(titles.get(i, "")) for i in part["release_id"]),
                               str(part["published"].max())[:10]))
        return out
    return reader.cached(("stock-editions",), compute)


def _rows(reader: Reader, flow: str, filters: dict, edition: str) -> list[dict]:
    table = reader.select(flow, filters, edition=edition, source=SOURCE,
                          columns=["value", "obs_status", "note", "release_id"])
    keep = [c for c in _KEEP if c in table.column_names]
    return [{**r, "edition": edition} for r in table.select(keep).to_pylist()]


def index(reader: Reader, edition: str) -> dict[str, dict[str, list[dict]]]:
    """One edition of UN DESA's migrant stock by country, split once into what the pages read: ``totals``
    (all origins, by sex), ``share`` (migrants as % of the population, both sexes), ``origins`` (both sexes,
    by country of origin) and ``emigrants`` (by sex and country of destination, keyed by the origin)."""
    def build():
        countries = reader.country_codes()
        out: dict[str, dict[str, list[dict]]] = {}
        for r in _rows(reader, STOCK, {"age": ["_T"]}, edition):
            if r["origin"] == "_T":
                out.setdefault(r["destination"], {}).setdefault("totals", []).append(r)
            elif r["origin"] in countries:
                if r["sex"] == "_T":
                    out.setdefault(r["destination"], {}).setdefault("origins", []).append(r)
                if r["destination"] in countries:
                    out.setdefault(r["origin"], {}).setdefault("emigrants", []).append(r)
        if reader.has(SHARE):
            for r in _rows(reader, SHARE, {"sex": ["_T"]}, edition):
                out.setdefault(r["destination"], {}).setdefault("share", []).append(r)
        return out
    return reader.index(f"stock-{edition}", build)


def for_area(reader: Reader, code: str, wanted: str | None = None) -> tuple[Edition | None, list[Edition]]:
    """The edition a page about ``code`` draws (``wanted`` if it holds the area, else the latest that does)
    and every edition that holds it."""
    holding = [e for e in stock_editions(reader) if code in index(reader, e.edition)]
    chosen = next((e for e in holding if e.edition == wanted), holding[0] if holding else None)
    return chosen, holding


def for_corridor(reader: Reader, origin: str, destination: str,
                 wanted: str | None = None) -> tuple[Edition | None, list[Edition]]:
    def holds(edition: str) -> bool:
        rows = index(reader, edition).get(origin, {}).get("emigrants", [])
        return any(r["destination"] == destination for r in rows)
    holding = [e for e in stock_editions(reader) if holds(e.edition)]
    chosen = next((e for e in holding if e.edition == wanted), holding[0] if holding else None)
    return chosen, holding


def revisions(reader: Reader, code: str, holding: list[Edition], chosen: Edition) -> list[dict]:
    """The immigrants (both sexes) of ``code`` in every edition that holds them, for the years of the chosen
    edition that another edition also gives: {year, values: {edition: value}, change (chosen - previous)}."""
    by = {e.edition: {r["year"]: r["value"] for r in index(reader, e.edition).get(code, {}).get("totals", [])
                      if r["sex"] == "_T"} for e in holding}
    mine = by.get(chosen.edition, {})
    rows = []
    for year in sorted(mine):
        values = {e.edition: by[e.edition].get(year) for e in holding}
        others = [v for ed, v in values.items() if ed != chosen.edition and v is not None]
        if not others:
            continue
        older = next((by[e.edition][year] for e in holding if e.edition != chosen.edition
                      and by[e.edition].get(year) is not None), None)
        change = None if older is None or mine[year] is None else mine[year] - older
        rows.append({"year": int(year), "values": values, "change": change})
    return rows
