"""Checks of what a page shows side by side.

The checks of a load see one release at a time. A page may put figures of different releases next to
each other: when the latest edition has no value (UN DESA's 2020 workbook gives Bonaire, Sint
Eustatius and Saba no split by sex), the page shows the last edition that has one, and men and women
from the 2019 edition can then add up to more than both sexes from the 2020 edition. A page must not
say "the checks found no issue" beside that, so it runs these checks on what it shows.
"""

from __future__ import annotations

from collections.abc import Iterable

from imdx.checks.tolerance import Tolerance
from imdx.model.report import Issue


def sexes_exceed_total(rows: Iterable[dict], *, area: str, area_name: str, tolerance: Tolerance,
                       source: str, dataflow: str) -> list[Issue]:
    """An issue for each row (``year``, ``_T``, ``M``, ``F`` numbers and the ``editions`` they come
    from) whose men and women add up to more than both sexes, beyond ``tolerance``."""
    issues = []
    for row in rows:
        total, men, women = (_number(row.get(k)) for k in ("_T", "M", "F"))
        if total is None or men is None or women is None:
            continue
        gap = men + women - total
        if gap <= 0 or not tolerance.exceeded(gap, max(abs(total), men + women)):
            continue
        editions = row.get("editions") or {}
        sources = {k: editions.get(k) for k in ("_T", "M", "F")}
        mixed = len({e for e in sources.values() if e}) > 1
        why = (f": the figures come from different editions (both sexes {sources['_T']}, men {sources['M']}, "
               f"women {sources['F']}), because the latest has no value for some of them" if mixed else "")
        issues.append(Issue("parts-exceed-total", f"{area_name}, {row['year']}: men ({men:,.0f}) and women "
                            f"({women:,.0f}) shown add up to {men + women:,.0f}, more than both sexes shown "
                            f"({total:,.0f}){why}", severity="warning", source=source, dataflow=dataflow,
                            area=area))
    return issues


def _number(value) -> float | None:
    value = getattr(value, "value", value)  # a portal number, or a plain one
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if value != value else value  # noqa: PLR0124 -- NaN
