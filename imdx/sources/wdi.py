"""World Bank World Development Indicators: remittances, FDI, net ODA, GDP and population.

Three kinds of published file, each release one vintage:

* **API CSVs** (``API_<indicator>_DS2_en_csv_v2_<n>.csv``), one release per file; the edition is
  the file's ``Last Updated Date`` line. Layout: UTF-8 with BOM, four lines of preamble, the
  header on line 5, one column per year from 1960, a trailing comma on every line (an empty
  ``Unnamed: N`` column, checked empty and dropped). An empty cell is a missing value: it is kept
  as an observation with value NaN and status ``M`` (the rows are keyed by year, so every cell of
  the published table is one observation). ``Metadata_Country_*.csv`` says which codes are
  aggregates (empty ``Region``) and gives each economy's income group; files published without
  one are read with the 2025 remittances metadata. ``cell_row`` is the line number in the file.
* **The ``WDI`` R package pull** of DT.ODA.ODAT.CD (``development_aid.rds``, early 2020). Codes
  are ISO alpha-2 (Namibia is the string ``NA``: kept) mixed with the World Bank's two-character
  aggregate codes (``1W`` World, ``XD`` High income, ``4E`` ...), which
  ``imdx/codes/aliases/wdi.csv`` ties to the World Bank's three-letter aggregates (system
  ``wb2``). 2019 is entirely NA (status ``M``); negative values are real (net repayments).
  ``cell_row`` is the 1-based row of the R data frame.
* **The DataBank extract** of 2021 (``World_development_indicatorts_part_1.xlsx``, last updated
  2024-03-28): sheet ``Data``, one row per economy (``World`` last), one column per series headed
  ``<name> [<code>]``, ``..`` for missing, footer lines under a blank row.

Areas are resolved by code only, never by name: ISO3 codes, ``XKX`` Kosovo, ``CHI`` Channel
Islands; World Bank aggregate codes are registered in system ``wb``: ``WLD`` is the World
(``001``), ``HIC``/``UMC``/``LMC``/``LIC``/``MIC``/``INX`` the income groups already in the area
table, every other aggregate (``EUU``, ``ARB``, ``SSF`` ...) a new aggregate area under its World
Bank code and name (World Bank regions differ in composition from the UN's, so ``SSF``
"Sub-Saharan Africa" is not the M49 region 202). A country's World Bank income group is written
into the area table only where it is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.errors import SourceFileError
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile, column_letter
from imdx.sources.csvfile import check_csv, read_csv
from imdx.sources.rfiles import read_r
from imdx.sources.xlsx import open_workbook

#: indicator code -> (dataflow, fixed dimensions)
INDICATORS: dict[str, tuple[str, dict[str, str]]] = {
    "BX.TRF.PWKR.CD.DT": ("remittances", {"flow": "received"}),
    "BM.TRF.PWKR.CD.DT": ("remittances", {"flow": "paid"}),
    "BX.KLT.DINV.CD.WD": ("fdi_inflows", {}),
    "DT.ODA.ODAT.CD": ("oda_received", {}),
    "NY.GDP.MKTP.CD": ("gdp", {}),
    "SP.POP.TOTL": ("population", {}),
}
#: World Bank aggregate codes that denote an area the table already has
WB_EQUIVALENTS = {"WLD": "001", "HIC": "HIC", "UMC": "UMC", "LMC": "LMC", "LIC": "LIC", "MIC": "MIC",
                  "INX": "INX"}
WB_INCOME = {"High income": "HIC", "Upper middle income": "UMC", "Lower middle income": "LMC",
             "Low income": "LIC"}
#: systems a World Bank three-letter code is resolved in, in order
SYSTEMS = ("wb", "iso3", "code")
#: systems of the R package's two-character codes
SYSTEMS_ISO2 = ("iso2", "wb2")
MISSING = ("", "..")

API_COLUMNS = ["Country Name", "Country Code", "Indicator Name", "Indicator Code"]
META_COLUMNS = ["Country Code", "Region", "IncomeGroup", "TableName"]
ODA_COLUMNS = ["iso2c", "country", "development_aid", "year"]
DATABANK_COLUMNS = ["Time", "Time Code", "Country Name", "Country Code"]
DATABANK_SHEET = "Data"
_YEAR = re.compile(r"^\d{4}$")
_CODE_IN_HEADER = re.compile(r"\[([^\[\]]+)\]\s*$")

#: as stated in the DataBank extract's "Series - Metadata" sheet ("CC BY-4.0"); the API CSVs carry none
LICENCE = "CC BY 4.0"


# -- helpers shared with imdx.sources.knomad ---------------------------------------------------


def parse_cells(cells: pd.Series, missing: tuple[str, ...] = MISSING) -> pd.DataFrame:
    """Published cells (numbers, or text as read) as ``value``, ``obs_status`` and ``note``.

    Numbers are status ``A``; blank cells and the ``missing`` markers are NaN with status ``M``;
    any other text is NaN with status ``M``, the text kept in ``note`` and ``bad`` set True (the
    caller reports it)."""
    if pd.api.types.is_float_dtype(cells.dtype):
        return pd.DataFrame({"value": cells, "obs_status": np.where(cells.notna(), "A", "M"),
                             "note": pd.Series(pd.NA, index=cells.index, dtype="string"), "bad": False})
    value = pd.to_numeric(cells, errors="coerce").astype("float64")
    text = cells[value.isna().to_numpy() & cells.notna().to_numpy()].astype("string").str.strip()
    text = text[~text.isin(list(missing))]
    bad = pd.Series(False, index=cells.index)
    bad[text.index] = True
    note = pd.Series(pd.NA, index=cells.index, dtype="string")
    note[text.index] = text
    status = np.where(value.notna(), "A", "M")
    return pd.DataFrame({"value": value, "obs_status": status, "note": note, "bad": bad}, index=cells.index)


def report_bad_cells(ctx: LoadContext, frame: pd.DataFrame, file: str) -> None:
    """One ``non-numeric-value`` issue per distinct unexpected text in a numeric cell."""
    bad = frame[frame["bad"]]
    for text, group in bad.groupby("note", sort=True):
        first = group.iloc[0]
        ctx.issue("non-numeric-value", f"{text!r} is not a number or a known missing-value marker; kept as "
                  "missing (status M) with the text in note", severity="warning", file=file,
                  sheet=first.get("cell_sheet"), row=int(first["cell_row"]), column=str(first["cell_column"]),
                  n_obs=len(group))


# -- read: the files as published ------------------------------------------------------------
@dataclass(frozen=True)
class ApiCsv:
    updated: date  # the "Last Updated Date" line
    frame: pd.DataFrame  # the data rows as text; index = line number in the file
    years: list[str]


def read_api_csv(path: Path) -> ApiCsv:
    """A World Bank API CSV: the preamble checked, the header on line 5; the frame's index is the
    line number. Empty cells (the files' missing-value marker) are NaN."""
    path = Path(path)
    check_csv(path, header_row=5, expected="a World Bank API CSV")
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            head = [fh.readline() for _ in range(5)]
    except UnicodeDecodeError as err:
        raise SourceFileError(str(path), f"is not UTF-8 text ({err.reason})", expected="a World Bank API CSV") \
            from err
    if not head[0].startswith('"Data Source"'):
        raise SourceFileError(str(path), "line 1 is not the World Bank preamble", row=1,
                              expected='"Data Source","World Development Indicators"')
    match = re.match(r'^"Last Updated Date","(\d{4}-\d{2}-\d{2})"', head[2])
    if not match:
        raise SourceFileError(str(path), "line 3 does not give the last updated date", row=3,
                              expected='"Last Updated Date","YYYY-MM-DD"')
    if not head[4].startswith('"Country Name"'):
        raise SourceFileError(str(path), "the header is not on line 5", row=5,
                              expected='the header line "Country Name","Country Code",...')
    # the text columns as text; a year column is parsed as numbers, empty cells as NaN (a column holding any
    # other text stays text, and harmonise reports the cell)
    frame = read_csv(path, expected="a World Bank API CSV", header_row=5, skiprows=4,
                     dtype={c: str for c in API_COLUMNS}, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    missing = [c for c in API_COLUMNS if c not in frame.columns]
    if missing:
        raise SourceFileError(str(path), f"the header lacks the column {missing[0]!r}", row=5, column=missing[0],
                              expected=f"the columns {', '.join(API_COLUMNS)}, then one column per year")
    years = [c for c in frame.columns if _YEAR.match(c)]
    extra = [c for c in frame.columns if c not in API_COLUMNS and c not in years]
    if not years:
        raise SourceFileError(str(path), "the header has no year columns", row=5, expected="columns 1960, 1961, ...")
    for column in extra:
        if not column.startswith("Unnamed:") or frame[column].notna().any():
            raise SourceFileError(str(path), f"unexpected column {column!r}", row=5, column=column,
                                  expected="only the trailing empty column after the years")
    frame = frame[API_COLUMNS + years]
    frame.index = pd.RangeIndex(6, 6 + len(frame))
    return ApiCsv(date.fromisoformat(match.group(1)), frame, years)


def read_country_metadata(path: Path) -> pd.DataFrame:
    """``Metadata_Country_*.csv``: code, region (empty for an aggregate), income group, name."""
    meta = read_csv(path, expected="World Bank country metadata", dtype=str, keep_default_na=False,
                    encoding="utf-8-sig")
    missing = [c for c in META_COLUMNS if c not in meta.columns]
    if missing:
        raise SourceFileError(str(path), f"the header lacks the column {missing[0]!r}", row=1, column=missing[0],
                              expected=f"the columns {', '.join(META_COLUMNS)}")
    return meta[META_COLUMNS]


def read_oda_rds(path: Path) -> pd.DataFrame:
    """The ``WDI`` package's data frame (iso2c, country, development_aid, year); index = R row - 1."""
    result = read_r(path, expected="an .rds data frame written by R")
    if len(result) != 1:
        raise SourceFileError(str(path), f"holds {len(result)} objects", expected="one data frame")
    frame = next(iter(result.values()))
    missing = [c for c in ODA_COLUMNS if c not in frame.columns]
    if missing:
        raise SourceFileError(str(path), f"the data frame lacks the column {missing[0]!r}", column=missing[0],
                              expected=f"the columns {', '.join(ODA_COLUMNS)}")
    return frame[ODA_COLUMNS].reset_index(drop=True)


def read_xlsx_sheet(path: Path, sheet: str, expected: str) -> pd.DataFrame:
    """One sheet as published (no header; index = Excel row - 1, columns = 0-based positions)."""
    with open_workbook(path, expected) as book:
        if sheet not in book.sheet_names:
            raise SourceFileError(str(path), f"has no sheet {sheet!r} (sheets: {book.sheet_names})",
                                  sheet=sheet, expected=expected)
        rows = book.rows(sheet)
    frame = pd.DataFrame(rows, dtype=object)
    return frame.where(frame != "", None)


def read_databank(path: Path) -> tuple[pd.DataFrame, dict[str, int], str | None]:
    """The DataBank ``Data`` sheet: the table rows (index = Excel row - 1), the column of each
    indicator in :data:`INDICATORS`, and the ``Last Updated`` footer text."""
    raw = read_xlsx_sheet(path, DATABANK_SHEET, "a World Bank DataBank extract")
    header = [None if v is None else str(v).strip() for v in raw.iloc[0].tolist()] if len(raw) else []
    if header[:4] != DATABANK_COLUMNS:
        raise SourceFileError(str(path), f"row 1 starts {header[:4]}", sheet=DATABANK_SHEET, row=1,
                              expected=f"the header {', '.join(DATABANK_COLUMNS)}, then one column per series")
    codes = {}
    for i, label in enumerate(header):
        found = _CODE_IN_HEADER.search(label or "")
        if found:
            codes[found.group(1)] = i
    for code in INDICATORS:
        if code not in codes:
            raise SourceFileError(str(path), f"no column for the series {code}", sheet=DATABANK_SHEET, row=1,
                                  expected=f"a column headed '<indicator name> [{code}]'")
    blank = raw[3].isna()
    end = int(np.argmax(blank.to_numpy()[1:])) + 1 if blank.iloc[1:].any() else len(raw)
    after = raw.iloc[end:]
    stray = after.iloc[:, 1:].notna().any(axis=1)
    if stray.any():
        row = int(stray.idxmax()) + 1
        raise SourceFileError(str(path), "values below the end of the table", sheet=DATABANK_SHEET, row=row,
                              expected="the table to end at the first row without a country code, "
                                       "followed only by footer notes in column A")
    footer = [str(v) for v in after[0].dropna()]
    updated = next((t for t in footer if t.startswith("Last Updated")), None)
    return raw.iloc[1:end], codes, updated


# -- harmonise: into the model ---------------------------------------------------------------
def register_wb_areas(ctx: LoadContext, meta: pd.DataFrame | None = None) -> None:
    """World Bank aggregate codes (system ``wb``) and, from ``meta``, new aggregates and income groups."""
    areas = ctx.areas
    for wb, code in WB_EQUIVALENTS.items():
        areas.add_alias(code, "wb", wb)
    if meta is None:
        return
    aggregates = meta[meta["Region"].str.strip() == ""]
    _add_aggregates(areas, {code: name for code, name in zip(aggregates["Country Code"], aggregates["TableName"])
                            if code not in WB_EQUIVALENTS and code not in areas.frame.index})
    for code in aggregates["Country Code"]:
        target = WB_EQUIVALENTS.get(code, code)
        if areas.kind(target) == "aggregate":
            areas.add_alias(target, "wb", code)
    economies = meta[meta["Region"].str.strip() != ""]
    codes = areas.map(economies["Country Code"], SYSTEMS)
    income = economies["IncomeGroup"].map(WB_INCOME)
    known = pd.Series(income.to_numpy(), index=codes.to_numpy())
    known = known[known.notna() & known.index.notna()]
    known = known[~known.index.duplicated()]
    frame = areas.frame
    empty = frame.loc[known.index, "wb_income"].isna() & (frame.loc[known.index, "kind"] == "country")
    frame.loc[known.index[empty.to_numpy()], "wb_income"] = known[empty.to_numpy()].to_numpy()


def _add_aggregates(areas, new: dict[str, str]) -> None:
    """What :meth:`Areas.add_area` does, for many aggregates at once (it appends one row at a time,
    about 15 ms each with pandas 3): the rows, then each code and name as an alias."""
    if not new:
        return
    rows = pd.DataFrame({c: [None] * len(new) for c in areas.frame.columns}, index=list(new), dtype=object)
    rows.index.name = areas.frame.index.name
    rows["code"], rows["name"], rows["kind"] = list(new), list(new.values()), "aggregate"
    areas.frame = pd.concat([areas.frame, rows])
    for code, name in new.items():
        areas.add_alias(code, "code", code)
        areas.add_alias(code, "name", name)


def report_blank_codes(ctx: LoadContext, values: pd.Series, rows: pd.Series, file: str, column: str,
                       sheet: str | None = None) -> None:
    """Rows without an area code cannot be placed (``map_areas`` passes blanks over): one issue."""
    blank = values.isna() | (values.astype("string").str.strip() == "")
    if blank.any():
        ctx.issue("unmapped-area", f"{int(blank.sum())} rows have no area code; they were not loaded",
                  severity="error", file=file, sheet=sheet, row=int(rows[blank].iloc[0]), column=column,
                  n_obs=int(blank.sum()))


def check_kinds(ctx: LoadContext, codes: pd.Series, published: pd.Series, meta: pd.DataFrame, file: str,
                rows: pd.Series) -> None:
    """An ``area-kind-mismatch`` issue where the metadata and the area table disagree on a code."""
    is_aggregate = published.map(dict(zip(meta["Country Code"], meta["Region"].str.strip() == "")))
    kind = codes.map(ctx.areas.frame["kind"].to_dict())
    wrong = is_aggregate.notna() & codes.notna() & ((kind == "country") == is_aggregate.astype(bool))
    for code, row, agg in zip(published[wrong], rows[wrong], is_aggregate[wrong]):
        ctx.issue("area-kind-mismatch", f"{code!r} is {'an aggregate' if agg else 'an economy'} in the World Bank "
                  "metadata but not in the area table", file=file, row=int(row), column="Country Code", area=code)


def harmonise_api(raw: ApiCsv, indicator: str, ctx: LoadContext, file: str,
                  meta: pd.DataFrame | None = None) -> pd.DataFrame:
    frame = raw.frame
    rows = pd.Series(frame.index, index=frame.index)
    wrong = frame["Indicator Code"] != indicator
    if wrong.any():
        line = int(frame.index[wrong.to_numpy()][0])
        raise SourceFileError(file, f"the indicator is {frame.loc[line, 'Indicator Code']!r}", row=line,
                              column="Indicator Code", expected=indicator)
    codes = ctx.map_areas(frame["Country Code"], SYSTEMS, file=file, column="Country Code", rows=rows)
    report_blank_codes(ctx, frame["Country Code"], rows, file, "Country Code")
    if meta is not None:
        check_kinds(ctx, codes, frame["Country Code"], meta, file, rows)
    n, years = len(raw.years), np.array([int(y) for y in raw.years])
    return _observations(ctx, indicator, file, None, area=np.repeat(codes.to_numpy(), n),
                         year=np.tile(years, len(frame)), cell=_ravel(frame[raw.years]),
                         cell_row=np.repeat(rows.to_numpy(), n), cell_column=np.tile(np.array(raw.years), len(frame)))


def _ravel(block: pd.DataFrame) -> np.ndarray:
    numeric = all(pd.api.types.is_float_dtype(t) or pd.api.types.is_integer_dtype(t) for t in block.dtypes)
    return block.to_numpy(dtype="float64" if numeric else object).ravel()


def _observations(ctx: LoadContext, indicator: str, file: str, sheet: str | None, *, area, year, cell,
                  cell_row, cell_column) -> pd.DataFrame:
    """The observations of one indicator: one row per published cell (arrays of equal length)."""
    fixed = INDICATORS[indicator][1]
    cells = parse_cells(pd.Series(cell))
    out = pd.DataFrame({"area": area, **fixed, "year": year, "value": cells["value"].to_numpy(),
                        "obs_status": cells["obs_status"].to_numpy(), "note": cells["note"].to_numpy(),
                        "definition": indicator, "cell_file": file, "cell_sheet": sheet,
                        "cell_row": cell_row, "cell_column": cell_column})
    if cells["bad"].any():
        report_bad_cells(ctx, out.assign(bad=cells["bad"].to_numpy()), file)
    return out


def harmonise_oda(raw: pd.DataFrame, ctx: LoadContext, file: str) -> pd.DataFrame:
    ctx.areas.load_sidecar("wdi")
    rows = pd.Series(raw.index + 1, index=raw.index)
    codes = ctx.map_areas(raw["iso2c"], SYSTEMS_ISO2, file=file, column="iso2c", rows=rows)
    report_blank_codes(ctx, raw["iso2c"], rows, file, "iso2c")
    return _observations(ctx, "DT.ODA.ODAT.CD", file, None, area=codes.to_numpy(), year=raw["year"].to_numpy(int),
                         cell=raw["development_aid"].to_numpy(), cell_row=rows.to_numpy(),
                         cell_column="development_aid")


def harmonise_databank(raw: pd.DataFrame, columns: dict[str, int], ctx: LoadContext, file: str
                       ) -> dict[str, pd.DataFrame]:
    rows = pd.Series(raw.index + 1, index=raw.index)
    codes = ctx.map_areas(raw[3].astype("string"), SYSTEMS, file=file, sheet=DATABANK_SHEET,
                          column=column_letter(3), rows=rows)
    report_blank_codes(ctx, raw[3], rows, file, column_letter(3), DATABANK_SHEET)
    year = pd.to_numeric(raw[0], errors="coerce")
    if year.isna().any():
        row = int(rows[year.isna()].iloc[0])
        raise SourceFileError(file, f"the Time cell is {raw.loc[row - 1, 0]!r}", sheet=DATABANK_SHEET, row=row,
                              column="A", expected="a year")
    parts: dict[str, list[pd.DataFrame]] = {}
    for indicator, col in columns.items():
        if indicator not in INDICATORS:
            continue
        flow = INDICATORS[indicator][0]
        parts.setdefault(flow, []).append(_observations(
            ctx, indicator, file, DATABANK_SHEET, area=codes.to_numpy(), year=year.to_numpy(int),
            cell=raw[col].to_numpy(), cell_row=rows.to_numpy(), cell_column=column_letter(col)))
    return {flow: pd.concat(frames, ignore_index=True) for flow, frames in parts.items()}


def _edition_check(ctx: LoadContext, file: str, found: str | None, expected: str, row: int | None = None) -> None:
    if found is not None and expected not in found:
        ctx.issue("edition-mismatch", f"the file says {found!r}; imdx knows this release as {expected!r}",
                  severity="warning", file=file, row=row)


# -- build: one function per kind of release ---------------------------------------------------
def _build_api(api_file: str, meta_file: str, indicator: str, updated: date, paths: dict[str, Path],
               ctx: LoadContext) -> dict[str, pd.DataFrame]:
    ctx.dataflow = INDICATORS[indicator][0]
    meta = read_country_metadata(paths[meta_file])
    raw = read_api_csv(paths[api_file])
    _edition_check(ctx, api_file, raw.updated.isoformat(), updated.isoformat(), row=3)
    register_wb_areas(ctx, meta)
    return {ctx.dataflow: harmonise_api(raw, indicator, ctx, api_file, meta)}


def _build_oda(paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    ctx.dataflow = "oda_received"
    register_wb_areas(ctx, read_country_metadata(paths[META_2025]))
    return {"oda_received": harmonise_oda(read_oda_rds(paths[ODA_FILE]), ctx, ODA_FILE)}


def _build_databank(paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    raw, columns, updated = read_databank(paths[DATABANK_FILE])
    _edition_check(ctx, DATABANK_FILE, updated, "03/28/2024")
    register_wb_areas(ctx)
    return harmonise_databank(raw, columns, ctx, DATABANK_FILE)


# -- the releases --------------------------------------------------------------------------------
META_2025 = "Metadata_Country_API_BX.TRF.PWKR.CD.DT_DS2_en_csv_v2_38454.csv"
ODA_FILE = "oda_wdi_r_package/development_aid.rds"
DATABANK_FILE = "databank_extract_2021/World_development_indicatorts_part_1.xlsx"
_API_URL = "https://api.worldbank.org/v2/en/indicator/{}?downloadformat=csv"


@dataclass(frozen=True)
class ApiRelease:
    indicator: str
    file: str
    sha256: str
    updated: date
    meta: str  # the Metadata_Country file read with it
    meta_sha256: str


API_RELEASES = (
    ApiRelease("BX.TRF.PWKR.CD.DT", "API_BX.TRF.PWKR.CD.DT_DS2_en_csv_v2_38454.csv",
               "254d1c23504fe34725a2203b02db5bdb2d5576b00eca3a2a816dfcd298a56557", date(2025, 7, 1),
               META_2025, "e4477e21fd4534300e5a05f787a09074487afe1d806a007a76440ada984d6c39"),
    ApiRelease("BM.TRF.PWKR.CD.DT", "API_BM.TRF.PWKR.CD.DT_DS2_en_csv_v2_3012027.csv",
               "472a6817d18d92877d3cf50b3b1d5e9ce4702fdfca04f94ea4910b71138cec92", date(2021, 9, 15),
               META_2025, "e4477e21fd4534300e5a05f787a09074487afe1d806a007a76440ada984d6c39"),
    ApiRelease("BX.KLT.DINV.CD.WD", "API_BX.KLT.DINV.CD.WD_DS2_en_csv_v2_5995288.csv",
               "7fe1540670b48f8d3f815c8c8630d73a043599cc83f392867eb805d1f6dbf3a7", date(2023, 10, 26),
               META_2025, "e4477e21fd4534300e5a05f787a09074487afe1d806a007a76440ada984d6c39"),
    ApiRelease("BX.KLT.DINV.CD.WD", "API_BX.KLT.DINV.CD.WD_DS2_en_csv_v2_9984841.csv",
               "e6d00a948e956a03d37e04e417c0c22948834237b43f0cc19bdb81dde1354168", date(2018, 6, 28),
               "Metadata_Country_API_BX.KLT.DINV.CD.WD_DS2_en_csv_v2_9984841.csv",
               "9290a329c944e6af0a2346ae32de2d01ae40b6420f72db41c6cfc50ed3b4d55b"),
    ApiRelease("NY.GDP.MKTP.CD", "API_NY.GDP.MKTP.CD_DS2_en_csv_v2_9865.csv",
               "925f415d69913ff98d427885df2a05a340c4c38b99701c16e5c321ef5d7779ec", date(2024, 10, 24),
               "Metadata_Country_API_NY.GDP.MKTP.CD_DS2_en_csv_v2_9865.csv",
               "6b2ae6b5065e22cdfee33c9670b54063866bd3b4413de4bf90efebf84a80cb98"),
    ApiRelease("SP.POP.TOTL", "API_SP.POP.TOTL_DS2_en_csv_v2_9944650.csv",
               "6196a7d72777043135c275a3b583f174d3fef70968ac5c743851a8ae2f5e0473", date(2018, 5, 21),
               "Metadata_Country_API_SP.POP.TOTL_DS2_en_csv_v2_9944650.csv",
               "660ee98a62749b0b7022ce4e98b59b810d7bc561e31e7aad1b9105704fcc1f8d"),
)


def _api_spec(r: ApiRelease) -> ReleaseSpec:
    flow, fixed = INDICATORS[r.indicator]
    label = f"{flow} ({fixed['flow']})" if fixed else flow
    url = _API_URL.format(r.indicator)
    return ReleaseSpec(
        source="wdi", key=f"{r.indicator}-{r.updated.isoformat()}",
        title=f"WDI {r.indicator}: {label}, API CSV download (last updated {r.updated.isoformat()})",
        edition=r.updated.isoformat(), published=r.updated, licence=LICENCE,
        files=(SourceFile(r.file, url, r.sha256), SourceFile(r.meta, url, r.meta_sha256)),
        dataflows=(flow,), build=partial(_build_api, r.file, r.meta, r.indicator, r.updated))


SOURCE = Source(
    name="wdi",
    title="World Development Indicators",
    publisher="The World Bank",
    homepage="https://datatopics.worldbank.org/world-development-indicators/",
    releases=tuple(_api_spec(r) for r in API_RELEASES) + (
        ReleaseSpec(
            source="wdi", key="DT.ODA.ODAT.CD-2020-02-01",
            title="WDI DT.ODA.ODAT.CD: net ODA received, 1960-2019, pulled with the WDI R package (early 2020)",
            edition="2020-02-01", published=date(2020, 2, 1), licence=LICENCE,
            files=(SourceFile(ODA_FILE, "https://api.worldbank.org/v2/country/all/indicator/DT.ODA.ODAT.CD"
                              "?format=json&per_page=20000",
                              "c694528fb7364bd0277e0cdbc3340fcdff23c77a0764e28042fc194685d66c56"),
                   SourceFile(META_2025, _API_URL.format("BX.TRF.PWKR.CD.DT"),
                              "e4477e21fd4534300e5a05f787a09074487afe1d806a007a76440ada984d6c39")),
            dataflows=("oda_received",), build=_build_oda),
        ReleaseSpec(
            source="wdi", key="databank-2021-2024-03-28",
            title="WDI DataBank extract, 2021: remittances, FDI, net ODA, GDP, population",
            edition="2024-03-28", published=date(2024, 3, 28), licence=LICENCE,
            files=(SourceFile(DATABANK_FILE, "https://databank.worldbank.org/source/world-development-indicators",
                              "9a5962f3d069cb6829915691e4fa7c62a9aba95221c1147fb9d45dd2099f18c0"),),
            dataflows=("remittances", "fdi_inflows", "oda_received", "gdp", "population"),
            build=_build_databank),
    ),
)
