"""UN World Population Prospects 2024: births, deaths, net migration and the crude rates, 1950-2023.

The files are the ``wpp2024`` R package's tables (maintained for the UN Population Division by the
BayesPop group; ``PPgp/wpp2024`` on GitHub): one wide, tab-separated UTF-8 table per indicator,
``country_code``, ``country``, then one column per calendar year (``migration.txt`` adds a
``last.observed`` column, which is not a year and is dropped). The package's long ``misc1dt.rda``
holds the same numbers; the ``.txt`` tables are the release's source because they are the
documented inputs and carry the names (the tests check that the two agree).

* **Units.** ``births``, ``deaths`` and ``net_migration`` are published in *thousands* with up to
  three decimals; they are converted to persons exactly (``round(x * 1000, 3)``: 4172.065 ->
  4172065). The crude rates are per 1,000 population and are kept as published.
* **Areas.** ``country_code`` is UN DESA's location code (M49 without zero padding for countries),
  resolved through the ``undesa`` then ``m49`` systems, never through names. WPP-specific codes
  (412 Kosovo -> ``XKX``, 1518 "No income group available" -> ``INX``) are in
  ``imdx/codes/aliases/wpp.csv``. Aggregates are mixed with countries and not
  flagged in the tables: ``UNlocations.txt`` says which codes are countries (``location_type`` 4)
  and which are aggregates; an aggregate code that the area table does not know is matched to an
  existing *aggregate* of the same name (an ``area-matched-by-name`` info issue says so), or else
  registered as a new aggregate under its WPP code (``2087`` "LLDC: Africa", ...). No two rows of
  a table may land on one area (WPP has both 1836 and 927 "Australia/New Zealand": 927 is M49 053,
  1836 stays an aggregate of its own).
  ``UNlocations.txt`` is ASCII while the tables are UTF-8, so the two are joined on codes only.
* **Markers.** The tables have no missing values. An empty cell, ``NA`` or ``..`` would be kept as
  an observation with value NaN and status ``M``. Any other non-numeric cell means the file is not
  the published table: :class:`SourceFileError` naming the file, line and column.
* **Cells.** ``cell_row`` is the line number in the file (the header is line 1), ``cell_column``
  the year column's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from imdx.errors import SourceFileError
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile, coded
from imdx.sources.csvfile import check_csv, read_csv

FOLDER = "wpp2024"
LOCATIONS = f"{FOLDER}/UNlocations.txt"
#: the systems a WPP ``country_code`` is looked up in, in order
SYSTEMS = ("undesa", "m49")
#: cells that mean "no value" (none occur in the 2024 tables)
MISSING = ["", "NA", ".."]
#: non-year columns the tables may carry besides country_code and country
EXTRA_COLUMNS = {"last.observed"}
ID_COLUMNS = ["country_code", "country"]
COUNTRY_TYPE = 4  # UNlocations location_type of a country or area

_REPO = "https://raw.githubusercontent.com/PPgp/wpp2024/b27df7a9ec293be9e1a212defef88fef0f3c0ee2"


@dataclass(frozen=True)
class Indicator:
    dataflow: str
    file: str  # path inside the mirror folder
    factor: float  # multiplier to the dataflow's unit
    sha256: str

    @property
    def url(self) -> str:
        return f"{_REPO}/data-raw/{Path(self.file).name}"


INDICATORS = (
    Indicator("births", f"{FOLDER}/births.txt", 1000.0,
              "da35ad49f417c9240ca7e6a63ca975943a1a00320863ce12e27bcb753844a883"),
    Indicator("deaths", f"{FOLDER}/deaths.txt", 1000.0,
              "56ad8095796d702a314767a0d5bbb14d0f14fb4a41e17dfa10bb0a351153c58f"),
    Indicator("net_migration", f"{FOLDER}/migration.txt", 1000.0,
              "19d96c718b06b1d3b80797a229340f3891814eca1771ba74c7a9d5e08e6f4dd7"),
    Indicator("crude_birth_rate", f"{FOLDER}/cbr.txt", 1.0,
              "e1756f9b092efbe19292b90ed3baccc8d36706142ffc8326097fdba272bbd725"),
    Indicator("crude_death_rate", f"{FOLDER}/cdr.txt", 1.0,
              "47fde617311a69ab41216bcc2fbac1f273fd46790e2bca7a63a4eeb3af11ccbf"),
    Indicator("crude_net_migration_rate", f"{FOLDER}/cnmr.txt", 1.0,
              "bb08a7ee221603c1b2f41498ff4e0825e8f829e0cc1513b19a2865781e479120"),
)


# -- read: the files as published -------------------------------------------------------------
def _is_year(column: str) -> bool:
    return len(column) == 4 and column.isdigit()


def _read_header(path: Path) -> list[str]:
    """The header line, checked: country_code, country, the years, and known extra columns only."""
    with open(path, "rb") as fh:
        first = fh.readline()
    try:
        header = first.decode("utf-8").rstrip("\r\n").split("\t")
    except UnicodeDecodeError as err:
        raise SourceFileError(str(path), f"the header line is not UTF-8 text ({err.reason})", row=1,
                              expected="a tab-separated UTF-8 table") from err
    for column in ID_COLUMNS:
        if column not in header:
            raise SourceFileError(str(path), f"the header has no {column!r} column", row=1, column=column,
                                  expected=f"a header line starting {', '.join(ID_COLUMNS)}, then the years")
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise SourceFileError(str(path), f"the header repeats {dupes}", row=1, column=dupes[0],
                              expected="each column once")
    unknown = [c for c in header if c not in ID_COLUMNS and c not in EXTRA_COLUMNS and not _is_year(c)]
    if unknown or not any(_is_year(c) for c in header):
        problem = f"unexpected column {unknown[0]!r}" if unknown else "no year columns"
        raise SourceFileError(str(path), problem, row=1, column=unknown[0] if unknown else None,
                              expected=f"{', '.join(ID_COLUMNS)}, year columns (1950, 1951, ...)"
                              f" and optionally {', '.join(sorted(EXTRA_COLUMNS))}")
    return header


def read_indicator(path: Path) -> pd.DataFrame:
    """One WPP indicator table as published: ``country_code`` and ``country`` as text, one float
    column per year (NaN where a cell is empty, ``NA`` or ``..``), extra columns as text. The
    frame's index is the data line's position: line number = index + 2.

    Arrow parses the table (fast, and strict: a line with too few or too many fields, a cell that is
    not a number or bytes that are not UTF-8 stop it); when it refuses, :func:`_diagnose` finds the
    line and column to name in the error."""
    check_csv(path, delimiter="\t", expected="a tab-separated UTF-8 table")
    header = _read_header(path)
    try:
        table = pa_csv.read_csv(
            path, read_options=pa_csv.ReadOptions(use_threads=False),
            parse_options=pa_csv.ParseOptions(delimiter="\t", quote_char=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.float64() if _is_year(c) else pa.string() for c in header},
                null_values=MISSING, strings_can_be_null=False))
    except pa.ArrowInvalid as err:
        _diagnose(path, len(header))
        raise SourceFileError(str(path), f"cannot be read as a tab-separated table ({err})",
                              expected="the wpp2024 package's wide indicator table") from err
    raw = table.to_pandas()
    raw["country_code"] = raw["country_code"].str.strip()
    blank = raw["country_code"] == ""
    if blank.any():
        at = int(np.argmax(blank.to_numpy()))
        raise SourceFileError(str(path), "a row has no country_code", row=at + 2, column="country_code",
                              expected="a UN location code on every data line")
    dupes = raw["country_code"].duplicated()
    if dupes.any():
        at = int(np.argmax(dupes.to_numpy()))
        raise SourceFileError(str(path), f"country_code {raw['country_code'].iloc[at]} occurs twice",
                              row=at + 2, column="country_code", expected="one line per location")
    return raw


def _diagnose(path: Path, n_fields: int) -> None:
    """Raise the :class:`SourceFileError` that names the first line and column Arrow could not read."""
    try:
        text = Path(path).read_text("utf-8")
    except UnicodeDecodeError as err:
        line = Path(path).read_bytes()[: err.start].count(b"\n") + 1
        raise SourceFileError(str(path), f"bytes that are not UTF-8 text ({err.reason})", row=line,
                              expected="a tab-separated UTF-8 table") from err
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    counts = np.fromiter((line.count("\t") for line in lines), dtype="int64", count=len(lines))
    bad = np.flatnonzero(counts != n_fields - 1)
    if len(bad):
        raise SourceFileError(str(path), f"the line has {counts[bad[0]] + 1} fields", row=int(bad[0]) + 1,
                              expected=f"{n_fields} tab-separated fields, as in the header line")
    raw = pd.read_csv(StringIO(text), sep="\t", quoting=3, keep_default_na=False, dtype=str)
    for column in (c for c in raw.columns if _is_year(c)):
        cells = raw[column]
        bad = pd.to_numeric(cells, errors="coerce").isna() & ~cells.isin(MISSING)
        if bad.any():
            at = int(np.argmax(bad.to_numpy()))
            raise SourceFileError(str(path), f"{cells.iloc[at]!r} is not a number", row=at + 2, column=column,
                                  expected=f"a number, or an empty cell, {' or '.join(map(repr, MISSING[1:]))} "
                                  "for a missing value")


def read_locations(path: Path) -> pd.DataFrame:
    """``UNlocations.txt``: ``name``, ``country_code`` (text), ``location_type`` (int) and ``line``."""
    raw = read_csv(path, expected="the wpp2024 package's UNlocations table", sep="\t", quoting=3,
                   dtype={"country_code": "string", "name": "string"}, keep_default_na=False, encoding="utf-8")
    required = ["name", "country_code", "location_type"]
    for column in required:
        if column not in raw.columns:
            raise SourceFileError(str(path), f"the header has no {column!r} column", row=1, column=column,
                                  expected=f"the columns {', '.join(required)}")
    kind = pd.to_numeric(raw["location_type"], errors="coerce")
    if kind.isna().any():
        at = int(np.argmax(kind.isna().to_numpy()))
        raise SourceFileError(str(path), f"{raw['location_type'].iloc[at]!r} is not a location type",
                              row=at + 2, column="location_type", expected="an integer (4 = country or area)")
    return pd.DataFrame({"name": raw["name"], "country_code": raw["country_code"].str.strip(),
                         "location_type": kind.astype("int64"), "line": raw.index + 2})


# -- harmonise: into the model ----------------------------------------------------------------
def register_aggregates(locations: pd.DataFrame, ctx: LoadContext) -> None:
    """Make every WPP aggregate code resolve: to an existing aggregate of the same name, or to a
    new aggregate registered under the WPP code. A name match is refused when another WPP location
    resolves to that area already (WPP publishes, e.g., both the SDG region 1836 and the sub-region
    927 "Australia/New Zealand"): two rows of one table must never land on one area. Countries are
    never registered here (an unknown country code becomes an ``unmapped-area`` issue)."""
    known = ctx.areas.map(locations["country_code"], SYSTEMS)
    taken = set(known.dropna())
    todo = locations[known.isna().to_numpy() & (locations["location_type"] != COUNTRY_TYPE).to_numpy()]
    new = []
    for row in todo.itertuples(index=False):  # a dozen rows
        match = ctx.areas.resolve(row.name, ("name",)).code
        if match is not None and match not in taken and ctx.areas.kind(match) == "aggregate":
            ctx.areas.add_alias(match, "undesa", row.country_code)
            ctx.issue("area-matched-by-name", f"WPP aggregate {row.country_code} {row.name!r} is not in the "
                      f"area table under its code; matched by name to {match} {ctx.areas.name(match)!r}",
                      severity="info", file=LOCATIONS, row=int(row.line), column="name", area=match)
            taken.add(match)
        else:
            new.append({"code": row.country_code, "name": row.name, "kind": "aggregate"})
    if new:
        ctx.areas.add_areas(pd.DataFrame(new))
        for area in new:
            ctx.areas.add_alias(area["code"], "undesa", area["code"])


def _repeat(pool: list, index: np.ndarray) -> pd.Categorical:
    """``pool[index]``, one Python object per distinct value."""
    return coded(pool, index)


def harmonise_indicator(raw: pd.DataFrame, indicator: Indicator, ctx: LoadContext) -> pd.DataFrame:
    """The wide table as observations: one row per location and year, values in the dataflow's unit."""
    years = [c for c in raw.columns if _is_year(c)]
    values = raw[years].to_numpy(dtype="float64")
    if indicator.factor != 1:
        values = np.round(values * indicator.factor, 3)
    flat = values.ravel()  # row by row: a location's years, then the next location's
    n_rows, n_years = values.shape
    row_of = np.repeat(np.arange(n_rows), n_years)
    year_of = np.tile(np.arange(n_years), n_rows)
    lines = pd.Series(raw.index.to_numpy()[row_of] + 2)
    codes = pd.Series(_repeat(raw["country_code"].tolist(), row_of))
    area = ctx.map_areas(codes, SYSTEMS, file=indicator.file, column="country_code", rows=lines)
    nothing = coded([], np.full(len(flat), -1, dtype=np.int8))
    return pd.DataFrame({
        "area": area.array, "year": np.array(years, dtype="int64")[year_of], "value": flat,
        "obs_status": _repeat(["A", "M"], np.isnan(flat).astype("int8")),
        "definition": nothing, "note": nothing,
        "cell_file": _repeat([indicator.file], np.zeros(len(flat), dtype="int8")), "cell_sheet": nothing,
        "cell_row": lines.to_numpy(), "cell_column": _repeat(years, year_of),
    })


def check_kinds(locations: pd.DataFrame, ctx: LoadContext) -> None:
    """An issue for every location whose kind in the area table (country or aggregate) differs from
    the kind ``UNlocations.txt`` gives it."""
    codes = ctx.areas.map(locations["country_code"], SYSTEMS)
    kinds = codes.map(ctx.areas.frame["kind"])  # vectorised: one lookup per location
    expected = np.where(locations["location_type"] == COUNTRY_TYPE, "country", "aggregate")
    wrong = codes.notna().to_numpy() & (kinds.to_numpy() != expected)
    for row, code, kind, want in zip(locations["line"][wrong], codes[wrong], kinds[wrong], expected[wrong]):
        ctx.issue("area-kind-mismatch", f"UNlocations.txt makes {code} a {want}, the area table a {kind}",
                  severity="warning", file=LOCATIONS, row=int(row), column="location_type", area=code)


def check_same_locations(tables: dict[Indicator, pd.DataFrame], ctx: LoadContext) -> None:
    """Every indicator table lists the same locations (a table cut at a line end loses rows silently)."""
    union = set().union(*(set(raw["country_code"]) for raw in tables.values()))
    for indicator, raw in tables.items():
        for code in sorted(union - set(raw["country_code"])):
            ctx.issue("location-missing", f"location {code} is in the other WPP tables but not in this one",
                      severity="warning", dataflow=indicator.dataflow, file=indicator.file,
                      column="country_code", area=code)


def build(paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    # read everything first: a file that cannot be read changes nothing, not even the area table
    locations = read_locations(paths[LOCATIONS])
    tables = {ind: read_indicator(paths[ind.file]) for ind in INDICATORS}
    ctx.areas.load_sidecar("wpp")
    register_aggregates(locations, ctx)
    out = {}
    for indicator, raw in tables.items():
        ctx.dataflow = indicator.dataflow
        out[indicator.dataflow] = harmonise_indicator(raw, indicator, ctx)
    ctx.dataflow = None
    check_same_locations(tables, ctx)
    check_kinds(locations, ctx)
    return out


SOURCE = Source(
    name="wpp",
    title="World Population Prospects 2024: births, deaths, net migration and crude rates",
    publisher="United Nations, Department of Economic and Social Affairs, Population Division",
    homepage="https://population.un.org/wpp/",
    releases=(ReleaseSpec(
        source="wpp", key="wpp2024", edition="2024", published=date(2024, 7, 11),
        title="World Population Prospects 2024, estimates 1950-2023 (wpp2024 R package tables, 1.0-0)",
        licence="CC BY 3.0 IGO",
        files=tuple(SourceFile(ind.file, ind.url, ind.sha256) for ind in INDICATORS) + (
            SourceFile(LOCATIONS, f"{_REPO}/data/UNlocations.txt",
                       "9d8cc77383c4dbd368a4c2cbbeeeff9dfc7037ace7c8ecb709ff17a0786be6eb"),),
        dataflows=tuple(ind.dataflow for ind in INDICATORS), build=build),),
)
