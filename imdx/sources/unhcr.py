"""UNHCR Refugee Population Statistics Database: the data of UNHCR's ``refugees`` R package (.rda).

Two releases:

* ``2025.12.1`` (package v2025.12.1): ``population.rda`` → ``refugees``; ``asylum_applications.rda``
  → ``asylum_applications``; ``asylum_decisions.rda`` → ``asylum_decisions``; ``demographics.rda``
  (2025 only) → ``displacement_demographics``;
* ``2025.12.0`` (package v2025.12.0): its ``demographics.rda``, the full 2001-2025 history
  (mirrored as ``demographics_v2025.12.0_2001-2025.rda``) → ``displacement_demographics``.

Both also read ``countries.rda`` to register UNHCR's own country codes as aliases (system
``unhcr``), for reference only.

How the files are read and mapped (each point is tested in ``tests/sources/test_unhcr.py``):

* :func:`imdx.sources.rfiles.read_r` reads the files (as pyreadr would, faster). It keeps the
  string ``"NA"`` apart from R's ``NA_character_`` (checked on the real files: 358 ``app_type`` and
  2,180 ``dec_level`` rows hold the code ``"NA"``, none is missing), so the code ``"NA"`` ("new
  applications") survives as a code.
* **Areas are joined on the ISO columns** ``coo_iso``/``coa_iso`` (system ``iso3``), never on
  UNHCR's ``coo``/``coa`` (UNHCR ``AUS`` is Austria, ISO ``AUS`` is Australia). UNHCR's non-ISO
  codes there come from the sidecar ``imdx/codes/aliases/unhcr.csv`` (system ``unhcr_iso``):
  ``UNK``/``XXX`` → ``_U`` (unknown), ``XXA`` → ``_S`` (stateless). ``TIB`` (Tibetan) has no
  mapping and is reported as ``unmapped-area`` (file, R row number, code and published name).
* ``cell_row`` is the R row number (1-based: ``df[cell_row, ]`` in R, ``iloc[cell_row - 1]`` in
  pandas); ``cell_column`` the R column name; ``cell_sheet`` is empty.
* ``population``: one observation per row and population type. ``oip`` is NA wherever UNHCR has no
  figure (the category exists since 2022; a few 2018-2021 figures are published): kept as value NaN
  with status ``M`` (SDMX: missing, data cannot exist). Zeros elsewhere are published zeros.
* ``asylum_*``: cases (``C``) and persons (``P``) are kept apart in ``count_unit``; any other
  ``app_pc``/``dec_pc`` value refuses the file.
* ``demographics``: 15 sex × age cells per row; ``total`` is both sexes, all ages, and can exceed
  ``f_total + m_total`` when sex is unknown for some people (the checks report those rows). Where a
  row has no breakdown at all (``f_total + m_total == 0 < total``) its 14 sex cells are published as
  0 but mean "not available": they are kept as NaN with status ``M`` and a note. ``location`` is
  kept as published, and so are ``loc_type``/``acc_type`` (dimensions ``location_type`` and
  ``accommodation_type``). Rows that would still share every dimension are summed into one (cell_row
  is the first of them, the note lists all); the real files have none.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.checks.tolerance import Tolerance
from imdx.errors import SourceFileError
from imdx.model import codelists, dataflows
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile, coded
from imdx.sources.rfiles import read_r

REPO = "https://raw.githubusercontent.com/PopulationStatistics/refugees"
V2025_12_1 = "8239ce0f0609cd33196badc3d66c0911916dda5e"  # last commit that changed the v2025.12.1 data files
V2025_12_0 = "fbc3be092cbcfb7b5a3559483072eec9f88a62ef"  # the v2025.12.0 demographics.rda
COUNTRIES_COMMIT = "8f9b50c7020c1afc5388c3684249be1665e37951"

KEYS = ["year", "coo_name", "coo", "coo_iso", "coa_name", "coa", "coa_iso"]
#: population.rda column -> population type code
POPULATION_TYPES = {"refugees": "REF", "asylum_seekers": "ASY", "returned_refugees": "RET", "idps": "IDP",
                    "returned_idps": "RDP", "stateless": "STA", "ooc": "OOC", "oip": "OIP", "hst": "HST"}
DECISIONS = {"dec_recognized": "recognized", "dec_other": "other", "dec_rejected": "rejected",
             "dec_closed": "closed", "dec_total": "total"}
_AGES = {"0_4": "Y0T4", "5_11": "Y5T11", "12_17": "Y12T17", "18_59": "Y18T59", "60": "Y_GE60", "other": "_U",
         "total": "_T"}
#: demographics.rda column -> (sex, age)
DEMOGRAPHIC_CELLS = {f"{s.lower()}_{band}": (s, age) for s in "FM" for band, age in _AGES.items()} | {
    "total": ("_T", "_T")}
#: optional dimensions of displacement_demographics -> the file's column
LOCATION_SPLITS = {"location_type": "loc_type", "accommodation_type": "acc_type"}

#: what each file must hold: the R object name, its columns, and its numeric columns
LAYOUTS = {
    "population": ("population", KEYS + list(POPULATION_TYPES), list(POPULATION_TYPES)),
    "asylum_applications": ("asylum_applications",
                            KEYS + ["procedure_type", "app_type", "dec_level", "app_pc", "applied"], ["applied"]),
    "asylum_decisions": ("asylum_decisions", KEYS + ["procedure_type", "dec_level", "dec_pc"] + list(DECISIONS),
                         list(DECISIONS)),
    "demographics": ("demographics", KEYS + ["pop_type", "location", "loc_type", "acc_type"]
                     + list(DEMOGRAPHIC_CELLS), list(DEMOGRAPHIC_CELLS)),
    "countries": ("countries", ["iso_code", "unhcr_code", "name"], []),
}


# -- reading ------------------------------------------------------------------------------------
def read_rda(path: Path, layout: str) -> pd.DataFrame:
    """The table of one ``.rda`` file, as published, after checking its object and columns."""
    name, columns, numeric = LAYOUTS[layout]
    objects = read_r(path, expected="an R data file (.rda, as saved by R's save()) from UNHCR's refugees package")
    if name not in objects:
        raise SourceFileError(str(path), f"holds the R objects {sorted(objects)}",
                              expected=f"a table named {name!r}")
    table = objects[name]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SourceFileError(str(path), f"the columns {missing} are missing", column=missing[0],
                              expected=f"the columns {columns}")
    for col in numeric:
        if not pd.api.types.is_numeric_dtype(table[col]):
            raise SourceFileError(str(path), f"the column holds {table[col].dtype} values", column=col,
                                  expected="numbers")
    if "year" in table.columns:
        _check_codes(path, table, "year", None, lambda s: s.notna() & (s == s.round()))
    return table.reset_index(drop=True)


def _check_codes(path, table: pd.DataFrame, column: str, codes, ok=None) -> None:
    """Refuse a file whose ``column`` holds a value outside ``codes`` (or failing ``ok``)."""
    good = ok(table[column]) if ok else table[column].isin(list(codes))
    if not good.all():
        row = int(np.flatnonzero(~good.to_numpy())[0])
        raise SourceFileError(str(path), f"unexpected value {table[column].iloc[row]!r}", row=row + 1,
                              column=column, expected=f"one of {sorted(codes)}" if codes else "a whole year")


def read_population(path: Path) -> pd.DataFrame:
    return read_rda(path, "population")


def read_asylum_applications(path: Path) -> pd.DataFrame:
    table = read_rda(path, "asylum_applications")
    _check_codes(path, table, "app_pc", codelists.COUNT_UNIT)
    return table


def read_asylum_decisions(path: Path) -> pd.DataFrame:
    table = read_rda(path, "asylum_decisions")
    _check_codes(path, table, "dec_pc", codelists.COUNT_UNIT)
    return table


def read_demographics(path: Path) -> pd.DataFrame:
    table = read_rda(path, "demographics")
    _check_codes(path, table, "pop_type", codelists.POPULATION_TYPE)
    return table


def read_countries(path: Path) -> pd.DataFrame:
    return read_rda(path, "countries")


# -- harmonising --------------------------------------------------------------------------------
def register_unhcr_codes(countries: pd.DataFrame, ctx: LoadContext, file: str) -> None:
    """UNHCR's own codes as aliases (system ``unhcr``) of the area their ISO code denotes."""
    ctx.areas.load_sidecar("unhcr")
    codes = ctx.areas.map(countries["iso_code"], ("iso3", "unhcr_iso"))
    for i, (code, unhcr, iso, name) in enumerate(zip(codes, countries["unhcr_code"], countries["iso_code"],
                                                    countries["name"]), start=1):
        if pd.notna(code):
            ctx.areas.add_alias(code, "unhcr", unhcr)
        else:
            has = f"has ISO code {iso!r}, which maps to no area" if pd.notna(iso) else "has no ISO code"
            ctx.issue("area-code-without-iso", f"UNHCR code {unhcr!r} ({name}) {has}; it was not registered as "
                      "an alias", severity="info", file=file, row=i,
                      column="iso_code", area=str(unhcr), n_obs=0)


def _side(raw: pd.DataFrame, ctx: LoadContext, file: str, side: str) -> pd.Categorical:
    """Area codes of one side (``coo`` origin, ``coa`` asylum), from the ISO column only."""
    iso = raw[f"{side}_iso"]
    values = iso.astype("string").fillna("(no ISO code)")  # a missing code is reported, never dropped silently
    before = len(ctx.report.issues)
    codes = ctx.map_areas(values, ("iso3", "unhcr_iso"), file=file, column=f"{side}_iso",
                          rows=pd.Series(raw.index + 1, index=raw.index))
    names = raw[f"{side}_name"]
    for k in range(before, len(ctx.report.issues)):  # name the place as UNHCR published it
        issue = ctx.report.issues[k]
        name = names.iloc[issue.row - 1]
        ctx.report.issues[k] = dataclasses.replace(
            issue, message=f"{issue.message} UNHCR's name: {name!r}, UNHCR code {raw[side].iloc[issue.row - 1]!r}.")
    return pd.Categorical(codes)


def _code_column(raw: pd.DataFrame, column: str, ctx: LoadContext, file: str) -> pd.Categorical:
    """A code column as published ('NA' is a code); an R missing value becomes ``_U`` and an issue."""
    values = pd.Categorical(raw[column])
    missing = values.isna()
    if missing.any():
        ctx.issue("missing-code", f"{int(missing.sum())} rows have no {column} code (R NA); loaded with code '_U'",
                  file=file, row=int(np.flatnonzero(missing)[0]) + 1, column=column, n_obs=int(missing.sum()))
        if "_U" not in values.categories:
            values = values.add_categories("_U")
        values = values.fillna("_U")
    return values


def _repeat(values, k: int) -> pd.Categorical:
    """Each value ``k`` times."""
    cat = pd.Categorical(values)
    return coded(cat.categories, np.repeat(cat.codes, k))


def _tile(labels: list, n: int) -> pd.Categorical:
    """The whole list ``n`` times."""
    return coded(labels, np.tile(np.arange(len(labels), dtype=np.int8 if len(labels) < 128 else np.int32), n))


def _long(row_columns: dict[str, np.ndarray], cells: dict[str, dict[str, str]], values: np.ndarray,
          rows: np.ndarray, file: str, notes: np.ndarray | None = None) -> pd.DataFrame:
    """Stack a wide table: ``values`` is rows × cells; ``cells`` maps each value column to its codes.

    Rows whose origin or asylum has no area code (already reported by ``map_areas``) are left out
    here rather than in :func:`finish`, which then has nothing to drop (and copies nothing).
    """
    keep = np.ones(len(values), dtype=bool)
    for dim in ("origin", "asylum"):
        keep &= ~np.asarray(pd.isna(row_columns[dim]), dtype=bool)
    if not keep.all():
        row_columns = {name: col[keep] for name, col in row_columns.items()}
        values, rows = values[keep], rows[keep]
        notes = None if notes is None else notes[keep]
    n, k = values.shape
    flat = values.ravel()  # row-major: row 0's k cells, then row 1's, ...
    frame = {name: (np.repeat(col, k) if name == "year" else _repeat(col, k)) for name, col in row_columns.items()}
    columns = list(cells)
    for dim in next(iter(cells.values())):
        frame[dim] = _tile([cells[c][dim] for c in columns], n)
    missing = np.isnan(flat)
    frame["value"] = flat
    frame["obs_status"] = coded(["A", "M"], missing.astype("int8"))
    none = coded([], np.full(n * k, -1, dtype="int8"))
    frame["definition"] = none
    frame["note"] = none if notes is None else _repeat(notes, k)
    frame["cell_file"] = coded([file], np.zeros(n * k, dtype="int8"))
    frame["cell_sheet"] = none
    frame["cell_row"] = np.repeat(rows, k)
    frame["cell_column"] = _tile(columns, n)
    return pd.DataFrame(frame, copy=False)  # the arrays are new: no copy of them into one block per type


def _base(raw: pd.DataFrame, ctx: LoadContext, file: str) -> dict[str, np.ndarray]:
    return {"origin": _side(raw, ctx, file, "coo"), "asylum": _side(raw, ctx, file, "coa"),
            "year": raw["year"].to_numpy(dtype="int16")}


def harmonise_population(raw: pd.DataFrame, ctx: LoadContext, file: str) -> pd.DataFrame:
    cells = {col: {"population_type": code} for col, code in POPULATION_TYPES.items()}
    values = raw[list(POPULATION_TYPES)].to_numpy(dtype="float64")
    return _long(_base(raw, ctx, file), cells, values, raw.index.to_numpy() + 1, file)


def harmonise_asylum_applications(raw: pd.DataFrame, ctx: LoadContext, file: str) -> pd.DataFrame:
    cols = _base(raw, ctx, file) | {
        "procedure_type": _code_column(raw, "procedure_type", ctx, file),
        "application_type": _code_column(raw, "app_type", ctx, file),
        "decision_level": _code_column(raw, "dec_level", ctx, file),
        "count_unit": _code_column(raw, "app_pc", ctx, file)}
    values = raw[["applied"]].to_numpy(dtype="float64")
    return _long(cols, {"applied": {}}, values, raw.index.to_numpy() + 1, file)


def harmonise_asylum_decisions(raw: pd.DataFrame, ctx: LoadContext, file: str) -> pd.DataFrame:
    cols = _base(raw, ctx, file) | {
        "procedure_type": _code_column(raw, "procedure_type", ctx, file),
        "decision_level": _code_column(raw, "dec_level", ctx, file),
        "count_unit": _code_column(raw, "dec_pc", ctx, file)}
    cells = {col: {"decision": code} for col, code in DECISIONS.items()}
    values = raw[list(DECISIONS)].to_numpy(dtype="float64")
    return _long(cols, cells, values, raw.index.to_numpy() + 1, file)


def _sum_shared_locations(wide: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows that share every dimension (they differ only in loc_type/acc_type) summed into one."""
    shared = wide.duplicated(keys, keep=False)
    if not shared.any():
        return wide.assign(note=None)
    dup = wide[shared]
    grouped = dup.groupby(keys, sort=False, dropna=False, observed=True)
    summed = grouped[list(DEMOGRAPHIC_CELLS)].sum()
    summed["row"] = grouped["row"].min()
    part = dup["row"].astype(str) + " (" + dup["loc_type"].astype(str) + "/" + dup["acc_type"].astype(str) + ")"
    summed["note"] = ("sum of rows " + part.groupby([dup[k] for k in keys], sort=False, dropna=False,
                                                    observed=True).agg(", ".join)
                      + " (loc_type/acc_type), which the dataflow does not distinguish")
    out = pd.concat([wide[~shared].assign(note=None), summed.reset_index()], ignore_index=True)
    for key in keys:  # concat of categoricals with different categories falls back to object
        if key != "year":
            out[key] = out[key].astype("category")
    return out.sort_values("row", kind="stable").reset_index(drop=True)


NO_BREAKDOWN = "no breakdown by sex and age in this row (only the total): its sex cells, published as 0, are missing"


def harmonise_demographics(raw: pd.DataFrame, ctx: LoadContext, file: str) -> pd.DataFrame:
    flow = dataflows.get("displacement_demographics")
    split = [dim for dim in LOCATION_SPLITS if dim in flow.dimension_names]
    wide = pd.DataFrame({k: pd.Categorical(v) for k, v in _base(raw, ctx, file).items() if k != "year"})
    wide["year"] = raw["year"].to_numpy(dtype="int16")
    wide["population_type"] = pd.Categorical(raw["pop_type"])
    wide["location"] = pd.Categorical(_code_column(raw, "location", ctx, file))
    for dim, col in LOCATION_SPLITS.items():
        wide[col] = pd.Categorical(_code_column(raw, col, ctx, file) if dim in split else raw[col])
    wide = pd.concat([wide, raw[list(DEMOGRAPHIC_CELLS)].astype("float64")], axis=1)
    wide["row"] = raw.index.to_numpy() + 1
    keys = ["origin", "asylum", "population_type", "location", "year"] + [LOCATION_SPLITS[d] for d in split]
    wide = _sum_shared_locations(wide, keys)
    values = wide[list(DEMOGRAPHIC_CELLS)].to_numpy(dtype="float64", copy=True)
    no_breakdown = ((wide["f_total"] + wide["m_total"]) == 0).to_numpy() & (wide["total"] > 0).to_numpy()
    values[no_breakdown, :-1] = np.nan
    notes = wide["note"].to_numpy(dtype=object, na_value=None).copy()
    marked = np.flatnonzero(no_breakdown)
    notes[marked] = [NO_BREAKDOWN if n is None else f"{n}; {NO_BREAKDOWN}" for n in notes[marked]]
    row_columns = {k: wide[k].array for k in ["origin", "asylum", "population_type", "location"]}
    row_columns |= {dim: wide[LOCATION_SPLITS[dim]].array for dim in split} | {"year": wide["year"].to_numpy()}
    cells = {col: {"sex": sex, "age": age} for col, (sex, age) in DEMOGRAPHIC_CELLS.items()}
    return _long(row_columns, cells, values, wide["row"].to_numpy(), file, notes)


# -- releases -----------------------------------------------------------------------------------
def _countries(paths: dict[str, Path], ctx: LoadContext) -> None:
    register_unhcr_codes(read_countries(paths["countries.rda"]), ctx, "countries.rda")


def _flow(ctx: LoadContext, flow: str, reader, harmoniser, paths: dict[str, Path], file: str) -> pd.DataFrame:
    ctx.dataflow = flow
    try:
        return harmoniser(reader(paths[file]), ctx, file)
    finally:
        ctx.dataflow = None


def build_2025_12_1(paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    _countries(paths, ctx)
    return {
        "refugees": _flow(ctx, "refugees", read_population, harmonise_population, paths, "population.rda"),
        "asylum_applications": _flow(ctx, "asylum_applications", read_asylum_applications,
                                     harmonise_asylum_applications, paths, "asylum_applications.rda"),
        "asylum_decisions": _flow(ctx, "asylum_decisions", read_asylum_decisions, harmonise_asylum_decisions,
                                  paths, "asylum_decisions.rda"),
        "displacement_demographics": _flow(ctx, "displacement_demographics", read_demographics,
                                           harmonise_demographics, paths, "demographics.rda"),
    }


DEMOGRAPHICS_2025_12_0 = "demographics_v2025.12.0_2001-2025.rda"


def build_2025_12_0(paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    _countries(paths, ctx)
    return {"displacement_demographics": _flow(ctx, "displacement_demographics", read_demographics,
                                               harmonise_demographics, paths, DEMOGRAPHICS_2025_12_0)}


def _file(name: str, commit: str, sha256: str, published_as: str | None = None) -> SourceFile:
    return SourceFile(name, f"{REPO}/{commit}/data/{published_as or name}", sha256)


COUNTRIES = _file("countries.rda", COUNTRIES_COMMIT, "62ff79f2af7f75760825ada70e19935b03aceab50c906019416f990856ebc539")
LICENCE = "CC BY 4.0 (UNHCR, as stated in the package DESCRIPTION)"

SOURCE = Source(
    name="unhcr",
    title="UNHCR Refugee Population Statistics Database (the refugees R package)",
    publisher="Office of the United Nations High Commissioner for Refugees (UNHCR)",
    homepage="https://www.unhcr.org/refugee-statistics/",
    own_alias_systems=("unhcr", "unhcr_iso"),
    tolerance=Tolerance.exact(),  # people counted one by one: a gap of more than a few is real
    releases=(
        ReleaseSpec(
            source="unhcr", key="refugees-2025.12.1",
            title="UNHCR population, asylum applications and decisions, demographics 2025 "
                  "(refugees package v2025.12.1, Global Trends 2025)", edition="2025.12.1",
            # the package version names the month (2025-12); the day is not published: the 1st is assumed
            published=date(2025, 12, 1), licence=LICENCE,
            files=(_file("population.rda", V2025_12_1,
                         "66eb6872a5f34c82705be97759051703bc0f404e3ecadc9c72a5f61424a22cf8"),
                   _file("asylum_applications.rda", V2025_12_1,
                         "6f99ad656fa12088b024cb3b228c751ac6a0ec0e8d0ebd05099c3eceee369099"),
                   _file("asylum_decisions.rda", V2025_12_1,
                         "9821a113e3bc93cac67d416077cdd33c81365e42bacee977115a4126830e6d03"),
                   _file("demographics.rda", V2025_12_1,
                         "e1612385cf7286e2048dd3044cc8254305db2edb987462479806caefcd5b870b"),
                   COUNTRIES),
            dataflows=("refugees", "asylum_applications", "asylum_decisions", "displacement_demographics"),
            build=build_2025_12_1),
        # Listed after v2025.12.1, which is written first: at the same publication date the later edition is
        # current whatever the order (published, then edition), and the big release is prepared meanwhile.
        ReleaseSpec(
            source="unhcr", key="demographics-2025.12.0",
            title="UNHCR demographics 2001-2025 (refugees package v2025.12.0)", edition="2025.12.0",
            # the package version names the month (2025-12); the day is not published: the 1st is assumed
            published=date(2025, 12, 1), licence=LICENCE,
            files=(_file(DEMOGRAPHICS_2025_12_0, V2025_12_0,
                         "471a010c51e054739484c66ca082fc32d6a61fc319aaea5cb5f24f8783842068",
                         published_as="demographics.rda"), COUNTRIES),
            dataflows=("displacement_demographics",), build=build_2025_12_0),
    ),
)
