"""Both sides of the EU-27 flows, 2010-2019: the ``mig_data`` table of the MigMod R package (Wiśniowski).

``eurostat/derived/migmod_mig_data.rda``, object ``mig_data``: 7,020 rows = 702 ordered pairs of the EU-27 x
10 years, both sexes. For each pair (``Sending_iso3`` -> ``Receiving_iso3``, ISO3; the ISO2 columns write
Greece ``GR``, not Eurostat's ``EL``) and year:

* ``Emig``: the flow **as the sending country reports it** (Eurostat ``migr_emi3nxt``, emigration by next usual
  residence) -> ``reported_flows`` with reporter ``origin``;
* ``Immi``: the flow **as the receiving country reports it** (``migr_imm5prv``, immigration by previous usual
  residence) -> reporter ``destination``.

Criterion ``RES``, coverage ``_T``. A report that is NaN was not made and is not stored (``Emig`` exists in
3,520 rows, ``Immi`` in 3,624, both in 1,792); zeros are reported zeros. The package's undercount and
accuracy scores of each side (``UE``/``AE`` for emigration, ``UI``/``AI`` for immigration, from Dańko's HMigD
metadata and model) are kept in ``note`` ("undercount low; accuracy High"): the mirror estimates read them
as the reports' precision.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from imdx.errors import SourceFileError
from imdx.sources.base import LoadContext
from imdx.sources.rfiles import read_r

FILE = "derived/migmod_mig_data.rda"
OBJECT = "mig_data"
COLUMNS = ["SEX", "Year", "Sending_iso3", "Receiving_iso3", "Emig", "Immi", "UE", "AE", "UI", "AI"]
SIDES = {"Emig": ("origin", "UE", "AE", "Eurostat migr_emi3nxt: emigration by country of next usual residence"),
         "Immi": ("destination", "UI", "AI",
                  "Eurostat migr_imm5prv: immigration by country of previous usual residence")}


def read_rda(path: Path) -> pd.DataFrame:
    objects = read_r(path, expected=f"an .rda file holding the data frame {OBJECT!r}")
    if OBJECT not in objects:
        raise SourceFileError(str(path), f"holds {list(objects)} but no object {OBJECT!r}", sheet=OBJECT,
                              expected=f"the data frame {OBJECT!r} (MigMod mig_data)")
    frame = objects[OBJECT]
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise SourceFileError(str(path), f"columns {missing} are missing", sheet=OBJECT, column=missing[0],
                              expected=f"the columns {COLUMNS}")
    odd = frame["SEX"] != "Total"
    if odd.any():
        row = int(np.flatnonzero(odd.to_numpy())[0])
        raise SourceFileError(str(path), f"SEX is {frame['SEX'].iloc[row]!r}", sheet=OBJECT, row=row + 1,
                              column="SEX", expected="'Total' in every row (both sexes)")
    for col in ("Emig", "Immi"):
        negative = frame[col] < 0
        if negative.any():
            row = int(np.flatnonzero(negative.to_numpy())[0])
            raise SourceFileError(str(path), f"{col} is {frame[col].iloc[row]}", sheet=OBJECT, row=row + 1,
                                  column=col, expected="a count of migrants (0 or more, NaN if not reported)")
    return frame


def _quality(frame: pd.DataFrame, undercount: str, accuracy: str) -> np.ndarray:
    u = frame[undercount].astype(object).where(frame[undercount].notna(), "unknown")
    a = frame[accuracy].astype(object).where(frame[accuracy].notna(), "unknown")
    return ("undercount " + u.astype(str) + "; accuracy " + a.astype(str)).to_numpy()


def harmonise(raw: pd.DataFrame, ctx: LoadContext) -> pd.DataFrame:
    ctx.dataflow = "reported_flows"
    rows = pd.Series(np.arange(1, len(raw) + 1), index=raw.index)
    origin = ctx.map_areas(raw["Sending_iso3"], ("iso3",), file=FILE, sheet=OBJECT, column="Sending_iso3", rows=rows)
    destination = ctx.map_areas(raw["Receiving_iso3"], ("iso3",), file=FILE, sheet=OBJECT, column="Receiving_iso3",
                                rows=rows)
    parts = []
    for column, (reporter, undercount, accuracy, definition) in SIDES.items():
        made = raw[column].notna().to_numpy()
        part = pd.DataFrame({
            "origin": origin.to_numpy()[made], "destination": destination.to_numpy()[made], "reporter": reporter,
            "criterion": "RES", "coverage": "_T", "sex": "_T", "year": raw["Year"].to_numpy()[made].astype(int),
            "value": raw[column].to_numpy()[made], "obs_status": "A", "definition": definition,
            "note": _quality(raw, undercount, accuracy)[made], "cell_file": FILE, "cell_sheet": OBJECT,
            "cell_row": rows.to_numpy()[made], "cell_column": column})
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
