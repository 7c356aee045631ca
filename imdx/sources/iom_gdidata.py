"""IOM Global Data Institute's ``gdidata`` R package: deaths on migration routes, border detections and
encounters, and first-time asylum applicants (derived long forms of the providers' files).

============================  ==========================  =================================================
file (object)                 provider                    dataflow
============================  ==========================  =================================================
``iom_mmp.rda``               IOM Missing Migrants        ``missing_migrants`` (dead and missing, by country
                              Project                     of incident, origin, route, cause, incident type)
``frontex.rda``               Frontex                     ``border_crossing_detections`` (route, sea/land,
                                                          citizenship)
``irreg_usa.rda``             U.S. CBP                    ``border_encounters``
``eu_asyapp.rda``             Eurostat migr_asyappctza    ``first_time_asylum_applicants``
============================  ==========================  =================================================

Traps handled here:

* **Dates are days since 1970-01-01** in R; the year of each record is taken from them (``t``, the incident
  date or month). Frontex and CBP are monthly and are summed into calendar years; a year with fewer than
  twelve published months says so in ``note`` (2025: January-April).
* Missing Migrants: ``nat`` is ``UNK`` (unknown -> ``_U``) or a comma-separated list (several origins ->
  ``_M``, the list kept in ``note``); causes and types are kept as published (``Incident,Split Incident``
  too). The value sums ``dead`` (dead and missing) over the incident records; ``note`` gives their number.
* Frontex counts **detections, not persons** (the unit says so).
* CBP: ``nat`` exists only from October 2019 (earlier months have citizenship ``_U``, as do the 156 rows
  without it); ``area`` NA -> ``_U``.
* Eurostat: ``geo`` ``EU27`` is the aggregate of the member states, loaded as the area ``EUU`` (kind
  aggregate; the checks compare it with its members, never add them up); ``sex`` ``unknown`` -> ``_U``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.checks.tolerance import Tolerance
from imdx.errors import SourceFileError
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile
from imdx.sources.rfiles import read_r

_GITHUB = "https://raw.githubusercontent.com/iom/gdidata/{commit}/data/{name}"
SYSTEMS = ("gdidata_nat", "iso3", "code")
EPOCH = pd.Timestamp("1970-01-01")


@dataclass(frozen=True)
class Table:
    name: str  # file name and R object
    columns: tuple[str, ...]
    dataflow: str
    commit: str
    sha256: str

    @property
    def file(self) -> str:
        return f"{self.name}.rda"


MMP = Table("iom_mmp", ("t", "type", "route", "geo", "dead", "cause", "nat"), "missing_migrants",
            "ecebde065c1b183cfa97f5d2828b7baf31afe434",
            "bc891364180318712108e7aef91f8eccedd982f1d065ec1afd34b80cdaf9c49d")
FRONTEX = Table("frontex", ("route", "type", "nat", "t", "n"), "border_crossing_detections",
                "f41c56c70ca95db8a8f2930550f8fcc3a6b184e3",
                "a4fc9a3a1e13f61ba8f65553a8d517aab9378592a904a6ee3473b8e7814e35e1")
CBP = Table("irreg_usa", ("t", "component", "area", "authority", "type", "demog", "nat", "n"), "border_encounters",
            "c9e4cc69cebd91d6cfca5f4107e2406e4de2c6ff",
            "3808379870d879e7c588616154bd4dc0b3bef101dba51a89f9af22d80740bec2")
ASYLUM = Table("eu_asyapp", ("geo", "t", "nat", "sex", "n"), "first_time_asylum_applicants",
               "ecebde065c1b183cfa97f5d2828b7baf31afe434",
               "7c9b55c303a0de8d783d3ad4d9f4cdd79cafba0343c5f5b75ca8c9d17fcc3085")
SEX = {"female": "F", "male": "M", "unknown": "_U"}


def read_table(path: Path, table: Table) -> pd.DataFrame:
    """The object as published, checked for its columns and non-negative counts; ``row`` = 1-based row."""
    objects = read_r(path, expected=f"an .rda file holding the data frame {table.name!r}")
    if table.name not in objects:
        raise SourceFileError(str(path), f"holds {list(objects)} but no object {table.name!r}", sheet=table.name,
                              expected=f"the data frame {table.name!r} (gdidata)")
    frame = objects[table.name]
    missing = [c for c in table.columns if c not in frame.columns]
    if missing:
        raise SourceFileError(str(path), f"columns {missing} are missing (found {list(frame.columns)})",
                              sheet=table.name, column=missing[0], expected=f"the columns {list(table.columns)}")
    count = "dead" if table is MMP else "n"
    bad = ~(pd.to_numeric(frame[count], errors="coerce") >= 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceFileError(str(path), f"{count} is {frame[count].iloc[row]!r}", sheet=table.name, row=row + 1,
                              column=count, expected="a count (0 or more)")
    frame = frame.copy()
    frame.insert(0, "row", np.arange(1, len(frame) + 1))
    return frame


def _dates(column: pd.Series, path: str, table: Table) -> pd.Series:
    """R dates (days since 1970-01-01, or date objects) as timestamps; a missing date is refused."""
    if column.dtype == object:
        out = pd.to_datetime(column, errors="coerce")
    else:
        out = EPOCH + pd.to_timedelta(pd.to_numeric(column, errors="coerce"), unit="D")
    if out.isna().any():
        row = int(np.flatnonzero(out.isna().to_numpy())[0])
        raise SourceFileError(path, "a record has no date", sheet=table.name, row=row + 1, column="t",
                              expected="dates (days since 1970-01-01)")
    return out


def _codes(ctx: LoadContext, frame: pd.DataFrame, column: str, table: Table, unknown=("UNK",)) -> pd.Series:
    if ctx.areas.resolve("OOO", ("gdidata_nat",)).code is None:
        if ctx.areas.kind("EUU") is None:
            ctx.areas.add_area("EUU", "European Union", "aggregate")
        ctx.areas.load_sidecar("iom_gdidata")
    values = frame[column].astype("string")
    known = values.where(~values.isin(unknown) & values.notna())
    codes = ctx.map_areas(known, SYSTEMS, file=table.file, sheet=table.name, column=column, rows=frame["row"])
    return codes.where(known.notna(), "_U")


def _annual(frame: pd.DataFrame, keys: list[str], value: str, table: Table, months: pd.Series | None = None,
            note: pd.Series | None = None) -> pd.DataFrame:
    """Sum ``value`` by ``keys`` and year; ``cell_row`` is the first record's row; the note says how many
    records (and, for monthly data, when a year has fewer than twelve published months)."""
    grouped = frame.assign(_n=1).groupby(keys + ["year"], dropna=False, sort=True, observed=True)
    out = grouped.agg(value=(value, "sum"), records=("_n", "sum"), cell_row=("row", "min")).reset_index()
    text = out["records"].astype(str) + " records"
    if note is not None and note.notna().any():  # only the few groups with a note are joined (a lambda per group
        # is slow)
        noted = frame.assign(_note=note)[note.notna().to_numpy()]
        listed = (noted.groupby(keys + ["year"], dropna=False, observed=True)["_note"]
                  .agg(lambda s: "; ".join(sorted(set(s)))).rename("_listed").reset_index())
        joined = out[keys + ["year"]].merge(listed, on=keys + ["year"], how="left")["_listed"]
        text = text.where(joined.isna().to_numpy(), text + "; " + joined.fillna(""))
    if months is not None:
        per_year = months.groupby(frame["year"]).agg(["min", "max", "nunique"])
        partial_years = per_year[per_year["nunique"] < 12]
        for year, span in partial_years.iterrows():
            hit = out["year"] == year
            text[hit] = text[hit] + f"; {year}: only months {span['min']}-{span['max']} published"
    return out.assign(note=text, obs_status="A", definition=None, cell_file=table.file, cell_sheet=table.name,
                      cell_column=value).drop(columns="records")


def harmonise_mmp(raw: pd.DataFrame, ctx: LoadContext) -> pd.DataFrame:
    table = MMP
    when = _dates(raw["t"], table.file, table)
    nat = raw["nat"].astype("string")
    several = nat.str.contains(",", regex=False).fillna(False)
    single = raw.assign(nat=nat.where(~several))
    origin = _codes(ctx, single, "nat", table).where(~several, "_M")
    frame = raw.assign(area=_codes(ctx, raw, "geo", table), origin=origin, route=raw["route"].fillna("_U"),
                       cause=raw["cause"].fillna("_U"), incident_type=raw["type"].fillna("_U"), year=when.dt.year)
    listed = ("origins " + nat).where(several)
    keep = frame["area"].notna() & frame["origin"].notna()
    return _annual(frame[keep], ["area", "origin", "route", "cause", "incident_type"], "dead", table,
                   note=listed[keep])


def harmonise_frontex(raw: pd.DataFrame, ctx: LoadContext) -> pd.DataFrame:
    table = FRONTEX
    when = _dates(raw["t"], table.file, table)
    frame = raw.assign(citizenship=_codes(ctx, raw, "nat", table), border_type=raw["type"].fillna("_U"),
                       route=raw["route"].fillna("_U"), year=when.dt.year)
    keep = frame["citizenship"].notna()
    return _annual(frame[keep], ["route", "border_type", "citizenship"], "n", table, months=when[keep].dt.month)


def harmonise_cbp(raw: pd.DataFrame, ctx: LoadContext) -> pd.DataFrame:
    table = CBP
    when = _dates(raw["t"], table.file, table)
    frame = raw.assign(citizenship=_codes(ctx, raw, "nat", table), component=raw["component"].fillna("_U"),
                       border_area=raw["area"].fillna("_U"), authority=raw["authority"].fillna("_U"),
                       encounter_type=raw["type"].fillna("_U"), demographic=raw["demog"].fillna("_U"),
                       year=when.dt.year)
    keep = frame["citizenship"].notna()
    return _annual(frame[keep], ["component", "border_area", "authority", "encounter_type", "demographic",
                                 "citizenship"], "n", table, months=when[keep].dt.month)


def harmonise_asylum(raw: pd.DataFrame, ctx: LoadContext) -> pd.DataFrame:
    table = ASYLUM
    odd = ~raw["sex"].isin(list(SEX))
    if odd.any():
        row = int(np.flatnonzero(odd.to_numpy())[0])
        raise SourceFileError(table.file, f"sex is {raw['sex'].iloc[row]!r}", sheet=table.name, row=row + 1,
                              column="sex", expected=f"one of {list(SEX)}")
    frame = pd.DataFrame({"origin": _codes(ctx, raw, "nat", table), "asylum": _codes(ctx, raw, "geo", table),
                          "sex": raw["sex"].map(SEX), "year": pd.to_numeric(raw["t"]).astype(int),
                          "value": raw["n"].astype(float), "obs_status": "A", "definition": None,
                          "note": np.where(raw["geo"] == "EU27", "EU27: aggregate of the member states", None),
                          "cell_file": table.file, "cell_sheet": table.name, "cell_row": raw["row"],
                          "cell_column": "n"})
    return frame


HARMONISE = {MMP.name: harmonise_mmp, FRONTEX.name: harmonise_frontex, CBP.name: harmonise_cbp,
             ASYLUM.name: harmonise_asylum}


def _build(table: Table, paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    ctx.dataflow = table.dataflow
    return {table.dataflow: HARMONISE[table.name](read_table(paths[table.file], table), ctx)}


def _spec(key: str, table: Table, title: str, edition: str, published: date, licence: str) -> ReleaseSpec:
    return ReleaseSpec(
        source="iom_gdidata", key=key, title=title, edition=edition, published=published,
        licence=f"{licence}; the gdidata package that reshaped it is MIT",
        files=(SourceFile(table.file, _GITHUB.format(commit=table.commit, name=table.file), table.sha256),),
        dataflows=(table.dataflow,), build=partial(_build, table))


SOURCE = Source(
    name="iom_gdidata",
    title="IOM GDI gdidata: deaths on migration routes, border detections and encounters, asylum applicants",
    publisher="IOM Global Data Institute (gdidata package), from IOM, Frontex, U.S. CBP and Eurostat",
    homepage="https://github.com/iom/gdidata",
    # dead and missing migrants counted one by one (IOM); Eurostat rounds asylum applicants to the nearest 5,
    # so its parts may miss their total by a few times 2.5 (detections and encounters are not summed)
    tolerance=Tolerance.exact(), tolerances=(("first_time_asylum_applicants", Tolerance.rounded(units=25)),),
    releases=(
        _spec("mmp-2025-06-04", MMP, "IOM Missing Migrants Project: dead and missing migrants, January 2014 - "
              "April 2025 (incident records summed by year)", "2025-06-04", date(2025, 6, 4),
              "IOM Missing Migrants Project terms of use (attribution)"),
        _spec("frontex-2025-06-03", FRONTEX, "Frontex detections of illegal border crossings by route and citizenship, "
              "January 2009 - April 2025 (monthly, summed by year)", "2025-06-03", date(2025, 6, 3),
              "Frontex: reuse with acknowledgement"),
        _spec("cbp-2025-06", CBP, "U.S. CBP nationwide encounters at the southwest border, October 2017 - May 2025 "
              "(monthly, summed by calendar year)", "2025-06", date(2025, 6, 19),
              "U.S. government work (public domain)"),
        _spec("eu-asyapp-2025-05-26", ASYLUM, "Eurostat first-time asylum applicants by citizenship and sex "
              "(migr_asyappctza), 2011-2024", "2025-05-26", date(2025, 5, 26),
              "Eurostat reuse policy (Commission Decision 2011/833/EU), reuse with acknowledgement"),
    ),
)
