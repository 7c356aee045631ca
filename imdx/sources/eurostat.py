"""Eurostat international migration flows by partner country: the receiving side only.

What the mirror holds (``eurostat/PROVENANCE.md``) is a table *derived* from Eurostat's
``migr_imm5prv`` (immigration by age group, sex and country of previous residence) by the
``LuminescentBulb/intra-eu-migration`` dashboard: ``partner,geo,year,value``, one row per reporting
(receiving) country ``geo``, country of previous residence ``partner`` and year, both sexes and all
ages, 1998-2023, persons. It becomes the ``immigration_flows`` dataflow (``destination`` = geo,
``origin`` = partner).

* **Codes.** Eurostat's two-letter codes, resolved as ISO 3166 alpha-2 except ``UK`` -> ``GBR`` and
  ``GR`` (the uploader's recoding of Eurostat's ``EL``; ``EL`` is accepted too) -> ``GRC``. ``OTHER``
  -> ``_O``: as ``partner`` it is the sum over every country outside the EU/EEA/CH/UK; as ``geo`` it
  sums non-EU reporters (candidate countries, ...). Neither is a country; the ``note`` says so.
* **Values.** Plain numbers (the uploader stripped Eurostat's flags and dropped ``:``); anything
  else means this is not the file described, and is refused (:class:`SourceFileError` naming the
  line). 921 values are 0 and are kept.
* **Cells.** ``cell_row`` is the line number (the header is line 1), ``cell_column`` ``value``.

A second release, ``migmod-eu27-pairs``, holds **both sides** of the EU-27 flows 2010-2019 (the MigMod
package's ``mig_data``; :mod:`imdx.sources.migmod`) as ``reported_flows``: the mirror estimates
(:mod:`imdx.estimates.mirror`) run on its real pairs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from imdx.checks.tolerance import Tolerance
from imdx.errors import SourceFileError
from imdx.sources import migmod
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile
from imdx.sources.csvfile import check_csv, read_csv

FILE = "derived/immigration_bilateral_total.csv"
URL = ("https://raw.githubusercontent.com/LuminescentBulb/intra-eu-migration/"
       "bb7658439a56757edfdb3fdedb3e2a485c2123d4/dashboard/public/data/immigration_bilateral_total.csv")
SHA256 = "8f78955851c53eafb6b7c35d52afe3ffb1ac5ebeea888c288621a7909bf7b431"
COLUMNS = ["partner", "geo", "year", "value"]
#: Eurostat codes that are not ISO 3166 alpha-2 (or not countries), and their area codes
SPECIAL = {"UK": "GBR", "GR": "GRC", "EL": "GRC", "OTHER": "_O"}
OTHER_NOTE = {"partner": "OTHER: sum over countries outside the EU/EEA/CH/UK",
              "geo": "OTHER: sum over reporters outside the EU/EEA/CH/UK"}
DEFINITION = ("previous usual residence; Eurostat migr_imm5prv, agedef=COMPLET, age=TOTAL, sex=T, unit=NR "
              "(derived table, flags stripped)")


def read_table(path: Path) -> pd.DataFrame:
    """The table as published: the four columns as strings, plus ``line`` (1 = header)."""
    shape = check_csv(path, name=FILE, expected="a CSV with the columns " + ",".join(COLUMNS))
    if [c.strip() for c in shape.header] != COLUMNS:
        raise SourceFileError(FILE, f"the header is {shape.header}", row=1, expected=",".join(COLUMNS))
    raw = read_csv(path, name=FILE, expected="a CSV with the columns " + ",".join(COLUMNS), dtype=str,
                   keep_default_na=False)
    raw["line"] = raw.index + 2
    for col in ("partner", "geo"):
        bad = ~raw[col].str.fullmatch(r"[A-Z]{2}|OTHER")
        if bad.any():
            row = raw[bad].iloc[0]
            raise SourceFileError(FILE, f"{col} {row[col]!r} is not a two-letter country code or OTHER",
                                  row=int(row["line"]), column=col, expected="codes such as DE, UK, OTHER")
    for col, pattern, expected in (("year", r"(19|20)\d\d", "a year"), ("value", r"\d+(\.\d+)?", "a number")):
        bad = ~raw[col].str.fullmatch(pattern)
        if bad.any():
            row = raw[bad].iloc[0]
            raise SourceFileError(FILE, f"{col} {row[col]!r}", row=int(row["line"]), column=col, expected=expected)
    return raw


def harmonise(raw: pd.DataFrame, ctx: LoadContext) -> pd.DataFrame:
    ctx.dataflow = "immigration_flows"
    codes = {}
    for col in ("partner", "geo"):
        special = raw[col].map(SPECIAL)
        mapped = ctx.map_areas(raw[col].where(special.isna()), ("iso2",), file=FILE, column=col, rows=raw["line"])
        codes[col] = special.fillna(mapped)
    note = ["; ".join(OTHER_NOTE[c] for c, v in (("partner", p), ("geo", g)) if v == "OTHER") or None
            for p, g in zip(raw["partner"], raw["geo"])]
    return pd.DataFrame({
        "destination": codes["geo"], "origin": codes["partner"], "year": raw["year"].astype(int),
        "value": raw["value"].astype(float), "obs_status": "A", "definition": DEFINITION, "note": note,
        "cell_file": FILE, "cell_sheet": None, "cell_row": raw["line"], "cell_column": "value"})


def _build(paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    return {"immigration_flows": harmonise(read_table(paths[FILE]), ctx)}


def _build_migmod(paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    return {"reported_flows": migmod.harmonise(migmod.read_rda(paths[migmod.FILE]), ctx)}


SOURCE = Source(
    name="eurostat",
    title="Eurostat migration flows by partner country (derived tables)",
    publisher="Eurostat (European Commission)",
    homepage="https://ec.europa.eu/eurostat/databrowser/view/migr_imm5prv/default/table",
    tolerance=Tolerance.exact(),  # immigrants counted by the national statistical offices
    releases=(ReleaseSpec(
        source="eurostat", key="migr_imm5prv-derived-2025",
        title="Immigration by country of previous residence, both sexes, all ages, 1998-2023 "
              "(derived from migr_imm5prv; non-EU/EEA/CH/UK countries summed as OTHER)",
        edition="2025 (derived, commit bb76584)", published=date(2025, 8, 3),
        licence="Eurostat reuse policy (Commission Decision 2011/833/EU), reuse with acknowledgement; "
                "the deriving repository states no licence",
        files=(SourceFile(FILE, URL, SHA256),), dataflows=("immigration_flows",), build=_build),
        ReleaseSpec(
            source="eurostat", key="migmod-eu27-pairs", edition="2023 (MigMod 0.0.0.9, derived)",
            published=date(2023, 8, 29),
            title="EU-27 flows 2010-2019 reported by both sides: emigration by next residence (sender) and "
                  "immigration by previous residence (receiver), from the MigMod R package's mig_data",
            licence="Eurostat reuse policy (Commission Decision 2011/833/EU), reuse with acknowledgement; the MigMod "
                    "package is GPL (>= 3)",
            files=(SourceFile(migmod.FILE, "https://raw.githubusercontent.com/a-wis/MigMod/"
                                           "6930863be1cd06700787106a388ac82c14f95def/data/mig_data.rda",
                              "f05c4374e2c8e484098ac1b28ef31567c4ef4f54ac33e284cb6687df3ac28624"),),
            dataflows=("reported_flows",), build=_build_migmod),
    ),
)
