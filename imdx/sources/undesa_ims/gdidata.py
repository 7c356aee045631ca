"""The 2024 edition, destination x origin x sex 1990-2024, as IOM's ``gdidata`` package publishes it.

The file (``derived/ims2024_stock_destination_origin_sex_gdidata.rda``, object ``undesa_stocks``) is a long
table: ``geo`` (destination, ISO3), ``t`` (1990, 1995, ..., 2020, 2024), ``from`` (origin, ISO3; ``OOO`` is
UN DESA's "Other", where the 2020 gdiviz file wrote ``XXX``), ``sex`` (``female``/``male``: no totals),
``n`` (persons) and the 0/1 flags ``type_b``, ``type_c``, ``type_r``, ``type_i`` (the UN's type of data: foreign-born,
foreign citizens, refugees added, imputed).

* **Absent is not zero.** A destination-origin-sex combination that is not in the file means "insufficient
  data" (the package's documentation); it is not stored. The 14,925 explicit zeros are definite absences
  and are kept as 0.
* **Totals are derived, and say so.** The file has no totals, so imdx adds, from the published cells:
  both sexes (``_T`` = female + male, where both are published), each destination's total over its
  origins (origin ``_T``) and the world (destination ``001``) by origin and in all. Their ``note`` reads
  "sum by imdx" (:data:`DERIVED_NOTE`: the sum of the published cells; the file has no totals) and their
  source cell is empty. A published 0 has the note "0: absent" (a definite absence, unlike a missing
  cell). These sums reproduce UN DESA's published totals (world 2024 = 304,021,813; DEU 2024 = 16,750,084).
* **The edition revises history.** World 2020 is 275,284,032 here against 280,598,105 in the 2020
  edition; both editions live side by side (``imdx diff migrant_stock --from 2020 --to 2024``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from imdx.errors import SourceFileError
from imdx.sources.base import LoadContext
from imdx.sources.rfiles import read_r
from imdx.sources.undesa_ims._common import map_codes

OBJECT = "undesa_stocks"
COLUMNS = ["geo", "t", "from", "sex", "n", "type_b", "type_c", "type_r", "type_i"]
SEX = {"female": "F", "male": "M"}
#: the package's own codes, registered by the sidecar as the system "gdidata": OOO = UN DESA's "Other"
SYSTEMS = ("gdidata", "iso3", "code")
WORLD = "001"
#: short, as footnote marks are (the portal shows a note beside its number): see the module docstring
DERIVED_NOTE = "sum by imdx"
ZERO_NOTE = "0: absent"


def read_rda(path: Path) -> pd.DataFrame:
    """The table as published, checked: the nine columns, the two sexes, years and non-negative counts."""
    objects = read_r(path, expected=f"an .rda file holding the data frame {OBJECT!r}")
    if OBJECT not in objects:
        raise SourceFileError(str(path), f"holds {list(objects)} but no object {OBJECT!r}", sheet=OBJECT,
                              expected=f"the data frame {OBJECT!r} (IOM gdidata undesa_stocks)")
    frame = objects[OBJECT]
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise SourceFileError(str(path), f"columns {missing} are missing (found {list(frame.columns)})",
                              sheet=OBJECT, column=missing[0], expected=f"the columns {COLUMNS}")
    checks = [("sex", ~frame["sex"].isin(list(SEX)), f"one of {list(SEX)}"),
              ("t", ~pd.to_numeric(frame["t"], errors="coerce").between(1950, 2100), "a year"),
              ("n", ~(pd.to_numeric(frame["n"], errors="coerce") >= 0), "a count of persons (0 or more)")]
    for column, bad, expected in checks:
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise SourceFileError(str(path), f"{column} is {frame[column].iloc[row]!r}", sheet=OBJECT, row=row + 1,
                                  column=column, expected=expected)
    return frame


def _definition(raw: pd.DataFrame) -> np.ndarray:
    """The UN's type of data as imdx's code (B, C, I, with R: BR, CR, IR, ...) from the four flags."""
    letters = np.full(len(raw), "", dtype=object)
    for flag, letter in (("type_b", "B"), ("type_c", "C"), ("type_i", "I"), ("type_r", "R")):
        on = raw[flag].to_numpy() == 1
        letters[on] = letters[on] + letter
    return np.where(letters == "", None, letters)


def harmonise(raw: pd.DataFrame, ctx: LoadContext, *, file: str) -> pd.DataFrame:
    n = len(raw)
    rows = np.arange(1, n + 1)
    cells = pd.DataFrame({
        "destination": pd.Series(map_codes(ctx, raw["geo"], SYSTEMS, file=file, column="geo", rows=rows,
                                           sheet=OBJECT)).astype("string"),
        "origin": pd.Series(map_codes(ctx, raw["from"], SYSTEMS, file=file, column="from", rows=rows,
                                      sheet=OBJECT)).astype("string"),
        "sex": raw["sex"].map(SEX).astype("string").to_numpy(), "year": raw["t"].to_numpy(dtype=np.int16),
        "value": raw["n"].to_numpy(dtype="float64"), "definition": _definition(raw),
        "cell_row": rows})
    cells = cells.dropna(subset=["destination", "origin"])  # reported by map_codes
    cells["note"] = np.where(cells["value"] == 0, ZERO_NOTE, None)
    derived = _totals(cells)
    out = pd.concat([cells.assign(cell_column="n"), derived], ignore_index=True)
    published = out["cell_row"].notna().to_numpy()
    return out.assign(age="_T", obs_status="A", cell_file=np.where(published, file, None),
                      cell_sheet=np.where(published, OBJECT, None))


def _totals(cells: pd.DataFrame) -> pd.DataFrame:
    """Both sexes of a pair where both are published; each destination's total over its origins, each
    origin's over the destinations (the world, ``001``) and the world's, by sex and for both sexes (the sum
    of every published cell, whether or not its pair has both sexes)."""
    keys = ["destination", "origin", "year"]
    pivot = cells.pivot_table(index=keys, columns="sex", values="value", aggfunc="sum", observed=True)
    both = pivot.dropna(subset=["F", "M"]).sum(axis=1).rename("value").reset_index().assign(sex="_T")
    parts = []
    for by, fixed in ((["destination"], {"origin": "_T"}), (["origin"], {"destination": WORLD}),
                      ([], {"origin": "_T", "destination": WORLD})):
        by_sex = cells.groupby(by + ["year", "sex"], observed=True)["value"].sum().reset_index()
        total = cells.groupby(by + ["year"], observed=True)["value"].sum().reset_index().assign(sex="_T")
        parts += [by_sex.assign(**fixed), total.assign(**fixed)]
    out = pd.concat([both, *parts], ignore_index=True)
    return out.assign(note=DERIVED_NOTE, definition=None, cell_row=pd.NA, cell_column=None)
