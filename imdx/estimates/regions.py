"""Estimated flows summed to regions, stored with the estimates they sum (dataflow ``estimated_region_flows``).

A page that shows flows between regions should not add up millions of country pairs on each request:
the sums are made once, when :func:`imdx.estimates.run.store_estimates` writes a release, and stored in
the same release beside the country flows. Three groupings, each a value of the ``grouping``
dimension, with the regions as area codes:

=============== =========================================================================================
``geographic``  UN DESA's six geographic regions: Africa (002), Asia (142), Europe (150), Latin America
                and the Caribbean (419), Northern America (021), Oceania (009): the M49 region, with the
                Americas split in two as UN DESA's migrant-stock tables do
``sdg``         the eight SDG regions (the area table's ``sdg_region``)
``subregion``   the 22 geographic subregions: the M49 sub-region, with Sub-Saharan Africa and Latin
                America and the Caribbean split into their intermediate regions
=============== =========================================================================================

Each row is the sum of one estimate's flows from the countries of ``origin`` to those of
``destination`` (``origin == destination``: the flows between countries of one region), so for each
grouping the rows of an estimate add up to its world total. A country that a grouping does not place
is summed under ``_U`` (unknown) and the note says which. The sums are of the flows ``estimated_flows``
stores (cells below :data:`imdx.estimates.run.ROUND_BELOW` in absolute value are not stored, so they are
not summed either: a region's sum is the sum of the stored rows). Sums that are exactly 0 are not stored.
Sums carry no interval: the bounds of single flows do not add up to bounds of their sum.
``definition`` is the estimate's method and options; ``note`` says what was
summed and repeats the estimate's own note (its inputs, and any births or deaths taken as 0).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from imdx.codes.areas import Areas

DATAFLOW = "estimated_region_flows"
UNPLACED = "_U"
GROUPINGS = {
    "geographic": "UN DESA geographic regions (M49 regions, the Americas split into Latin America and the "
                  "Caribbean and Northern America)",
    "sdg": "SDG regions",
    "subregion": "geographic subregions (M49 sub-regions; Sub-Saharan Africa and Latin America and the "
                 "Caribbean by intermediate region)",
}
_SPLIT = {"geographic": {"019": "subregion"}, "subregion": {"202": "intermediate_region",
                                                           "419": "intermediate_region"}}


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def region_of(areas: Areas, code: str, grouping: str) -> str | None:
    """The region of ``code`` in ``grouping`` (an area code), or None when the area table does not place it."""
    frame = areas.frame
    if code not in frame.index:
        return None
    row = frame.loc[code]
    if grouping == "sdg":
        return _text(row["sdg_region"])
    column = "region" if grouping == "geographic" else "subregion"
    region = _text(row[column])
    finer = _SPLIT[grouping].get(region or "")
    return (_text(row[finer]) or region) if finer else region


def regional_frame(estimates: Iterable, areas: Areas, round_below: float = 0.0) -> pd.DataFrame:
    """The observations of ``estimated_region_flows`` for ``estimates`` (:class:`imdx.estimates.run.Estimate`),
    in the layout of :func:`imdx.estimates.run.to_frame`; cells below ``round_below`` in absolute value
    (those :func:`~imdx.estimates.run.to_frame` does not store) are left out of the sums."""
    rows: list[tuple] = []
    placements: dict[tuple, list] = {}  # every estimate of a run has the same regions: place them once
    for est in estimates:
        od = np.nan_to_num(np.asarray(est.od, dtype="float64"))
        np.fill_diagonal(od, 0.0)
        od[np.abs(od) < round_below] = 0.0
        for grouping, label in GROUPINGS.items():
            key = (grouping, tuple(est.regions))
            if key not in placements:
                placements[key] = [region_of(areas, code, grouping) for code in est.regions]
            placed = placements[key]
            unplaced = [c for c, r in zip(est.regions, placed) if r is None]
            codes = sorted({r or UNPLACED for r in placed})
            index = np.array([codes.index(r or UNPLACED) for r in placed])
            member = np.zeros((len(codes), len(est.regions)))
            member[index, np.arange(len(est.regions))] = 1.0
            sums = member @ od @ member.T  # region x region
            note = (f"sum of the estimated flows between the countries of the two regions ({label})"
                    + (f"; not placed in a region, summed under {UNPLACED}: {', '.join(unplaced)}" if unplaced else "")
                    + "; " + est.note())
            for i, j in zip(*np.nonzero(sums)):
                rows.append((grouping, codes[i], codes[j], est.sex, est.method, str(est.start), est.end,
                             float(sums[i, j]), est.definition(), note))
    frame = pd.DataFrame(rows, columns=["grouping", "origin", "destination", "sex", "method", "period_start",
                                        "year", "value", "definition", "note"])
    for col in ("grouping", "origin", "destination", "sex", "method", "period_start", "definition", "note"):
        frame[col] = frame[col].astype("string").astype("category")
    frame["year"] = frame["year"].astype("int16")
    frame["obs_status"] = pd.Categorical(["E"] * len(frame))
    for col in ("cell_file", "cell_sheet", "cell_column"):
        frame[col] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame["cell_row"] = pd.Series(pd.NA, index=frame.index, dtype="Int32")
    return frame
