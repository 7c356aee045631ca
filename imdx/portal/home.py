"""What the home page shows: world figures, and a map of one indicator in one year with its table, its
colour classes and the releases it was drawn from."""

from __future__ import annotations

import math

from imdx.portal import indicators as ind_
from imdx.portal.data import Num, Reader
from imdx.portal.indicators import Indicator

#: ColorBrewer "Blues", light to dark (one more colour than breaks)
BLUES = ["#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#084594"]


def _nice(x: float) -> float:
    """``x`` rounded to 1, 2 or 5 times a power of ten (the nearest on a log scale)."""
    if x <= 0:
        return 0.0
    e = math.floor(math.log10(x))
    return min((m * 10.0 ** k for k in (e - 1, e, e + 1) for m in (1, 2, 5)), key=lambda c: abs(math.log(c / x)))


def colour_scale(values: list[float], classes: int = 6) -> dict:
    """A colour scale chosen from the values' distribution. Skewed values (most small, a few large: migrant
    shares, refugees) get classes whose limits are rounded quantiles (``threshold``), so that each colour holds
    a similar number of countries; evenly spread values get a continuous scale (``linear``)."""
    vals = sorted(v for v in values if v is not None and not math.isnan(v))
    if len(vals) < 3:
        return {"type": "linear", "min": vals[0] if vals else 0, "max": vals[-1] if vals else 1, "colors": BLUES}

    def q(p: float) -> float:
        return vals[min(len(vals) - 1, int(p * (len(vals) - 1)))]
    low, mid, high = q(0.05), q(0.5), q(0.95)
    if vals[0] >= 0 and (high - mid) <= 2 * (mid - low):
        return {"type": "linear", "min": vals[0], "max": vals[-1], "colors": BLUES}
    breaks: list[float] = []
    for k in range(1, classes):
        b = _nice(q(k / classes))
        if b > (breaks[-1] if breaks else vals[0]) and b < vals[-1]:
            breaks.append(b)
    counts = [sum(1 for v in vals if lo <= v < hi) for lo, hi in zip([-math.inf, *breaks], [*breaks, math.inf])]
    return {"type": "threshold", "breaks": breaks, "colors": BLUES[: len(breaks) + 1], "counts": counts}


def legend(scale: dict, kind: str) -> list[dict]:
    """The map's legend as HTML draws it: one swatch per class (or the two ends of the continuous scale)."""
    from imdx.portal.data import fmt as fmt_

    def fmt(value: float, kind: str) -> str:  # a class limit is a round number: no ".0"
        return f"{value:,.0f}" if kind != "usd" and float(value).is_integer() else fmt_(value, kind)

    if scale["type"] == "linear":
        return [{"color": scale["colors"][0], "label": fmt(scale["min"], kind)},
                {"color": scale["colors"][-1], "label": fmt(scale["max"], kind)}]
    b, out = scale["breaks"], []
    for i, color in enumerate(scale["colors"]):
        label = (f"under {fmt(b[0], kind)}" if i == 0 else f"{fmt(b[-1], kind)} and more" if i == len(b)
                 else f"{fmt(b[i - 1], kind)} to under {fmt(b[i], kind)}")
        out.append({"color": color, "label": label, "n": scale["counts"][i]})
    return out


def map_page(reader: Reader, indicator: str | None, year: str | None, every_indicator: bool = False) -> dict:
    """The map's indicator, years (with their coverage), year (the latest complete one by default), values,
    colour scale and the releases drawn (the home page offers the ``on_map`` indicators, the chart page all)."""
    choices = {k: i for k, i in ind_.available(reader).items() if i.on_map or every_indicator}
    if not choices:
        return {"indicators": {}, "indicator": None, "years": [], "year": None, "rows": []}
    ind = choices.get(indicator or "") or next(iter(choices.values()))
    years = ind.years(reader)
    cover = ind_.coverage(reader, ind)
    complete = [y for y in years if not cover[y]["incomplete"]] or years
    wanted = int(year) if year and year.isascii() and year.isdigit() and len(year) <= 4 else complete[-1]
    chosen = min(years, key=lambda y: abs(y - wanted))
    frame = ind_.cross_section(reader, ind, chosen)
    values = [{"code": r["code"], "id": str(r["m49"]).zfill(3) if isinstance(r["m49"], str) and r["m49"] else None,
               "name": r["name"], "num": ind.num(r)} for r in frame.to_dict("records")]
    scale = colour_scale([v["num"].value for v in values])
    return {"indicators": choices, "indicator": ind, "years": years, "year": chosen, "coverage": cover[chosen],
            "incomplete_years": [y for y in years if cover[y]["incomplete"]], "rows": values, "scale": scale,
            "legend": legend(scale, ind.kind), "drawn": ind_.releases_drawn(reader, frame)}


def headlines(reader: Reader) -> list[dict]:
    """World figures, each from one release, the latest year whose coverage is complete (an incomplete later
    year is named, not summed)."""
    def compute():
        out = []
        have = ind_.available(reader)
        for key, label in (("immigrants", "International migrants in the world"),
                           ("migrant_share", "Migrants as a share of the world's population (%)")):
            if key in have:
                s = have[key].expr.series(reader, "001")
                if len(s):
                    row = s.iloc[-1].to_dict()
                    out.append({"label": f"{label}, {int(row['year'])}", "num": have[key].num(row),
                                "drawn": ind_.releases_drawn(reader, s.tail(1))})
        if "refugees" in have:
            ref = have["refugees"]
            cover = ind_.coverage(reader, ref)
            year = max(y for y in ref.years(reader) if not cover[y]["incomplete"])
            term = ref.expr
            panel = term.panel(reader)
            part = panel[(panel["year"] == year)]
            part = part[part["rank"] == part["rank"].max()]
            check = {"flow": "refugees", "source": "unhcr", "agg": "sum", "edition": part["edition"].iloc[0],
                     "filters": {"population_type": "REF", "year": str(year)}}
            part = part.assign(releases=[(int(r),) for r in part["release_id"]])
            out.append({"label": f"Refugees under UNHCR's mandate, {year}",
                        "num": Num(float(part["value"].sum()), "persons", check),
                        "drawn": ind_.releases_drawn(reader, part)})
        if "remittances_received" in have:
            rem = have["remittances_received"]
            cover = ind_.coverage(reader, rem)
            s = rem.expr.series(reader, "001")
            s_complete = s[[not cover.get(int(y), {}).get("incomplete") for y in s["year"]]]
            if len(s_complete):
                row = s_complete.iloc[-1].to_dict()
                later = [y for y in s["year"] if y > row["year"]]
                out.append({"label": f"Remittances received worldwide, {int(row['year'])} (US$ million)",
                            "num": rem.num(row), "drawn": ind_.releases_drawn(reader, s_complete.tail(1)),
                            "caveat": (f"{later[-1]}: only {cover[later[-1]]['n']} of {cover[later[-1]]['most']} "
                                       "countries have reported so far, so the world figure for it is not shown")
                            if later else None})
        return out
    return reader.cached(("headlines",), compute)


def map_spec(page: dict) -> dict | None:
    from imdx.portal import charts

    ind: Indicator = page["indicator"]
    rows = [{"id": v["id"], "name": v["name"], "value": v["num"].value, "href": f"/country/{v['code']}",
             "text": f"{v['name']}: {v['num'].text()}"} for v in page["rows"] if v["id"]]
    if not rows:
        return None
    return charts.world_map(rows, title=f"{ind.label}, {page['year']}", unit=ind.unit, scale=page["scale"],
                            description=f"World map of {ind.label.lower()} in {page['year']}; the table below lists "
                                        "every country's value")
