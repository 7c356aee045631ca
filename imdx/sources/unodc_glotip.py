"""UNODC Global Report on Trafficking in Persons (GLOTIP) country data, ``data_glotip.xlsx`` (14 April 2025).

One sheet ``data_glotip_1``: ``UNODC`` and a broken hyperlink in row 1, the release date as text in row 2, **the
header in row 3** (``Iso3_code``, ``Country``, ``Region``, ``Subregion``, ``Indicator``, ``Dimension``, ``Category``,
``Sex``, ``Age``, ``Year``, ``Unit of measurement``, ``txtVALUE``, ``Source``) and 58,769 data rows. (Its
``<dimension ref="A1"/>`` is wrong; calamine reads the cells regardless.)

* **Indicator** -> dataflow: ``Detected trafficking victims`` -> ``detected_trafficking_victims``, ``Persons
  prosecuted``/``convicted``/``brought into formal contact`` -> ``trafficking_persons_*``, ``Offences of
  trafficking in persons`` -> ``trafficking_offences``.
* **Dimension/Category** -> one breakdown per row: ``by form of exploitation`` -> ``exploitation``; ``by
  citizenship`` -> ``citizenship`` (a country name; ``Nationals``, and its damaged Spanish form
  ``Ciudadanos de su pa\\ufffds``, are the reporting country's own citizens: its code, with the published
  word in ``note``; ``Unknown`` -> ``_U``); ``by country of repatriation`` -> ``repatriation`` (``Abroad`` ->
  ``_O``). The other breakdowns are ``_T``.
* **txtVALUE is text.** ``<5`` is a suppressed small count: no value, status ``L``, ``<5`` in ``note``; never a
  number. ``16,390`` has comma thousands. Rows whose value is date-like (``61,102,019``: a questionnaire item and
  a year, 1,000,000 or more) or whose Category is a questionnaire id (``Q6.1_10s_2019``) are **corrupt**: one
  ``corrupt-value`` issue per group, naming the rows, and not loaded. Any other text is an ``unknown-marker``.
* Cells holding U+FFFD (damaged upstream) are reported (``damaged-text``) and kept as published.
* Sark has no ``Iso3_code``: its rows are resolved by the Country name.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.checks.tolerance import Tolerance
from imdx.errors import SourceFileError
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile
from imdx.sources.undesa_ims._common import label
from imdx.sources.xlsx import open_workbook

FILE = "data_glotip.xlsx"
SHEET = "data_glotip_1"
HEADER_ROW = 3
COLUMNS = ["Iso3_code", "Country", "Region", "Subregion", "Indicator", "Dimension", "Category", "Sex", "Age", "Year",
           "Unit of measurement", "txtVALUE", "Source"]
VALUE_COLUMN = "L"
DATAFLOWS = {"Detected trafficking victims": "detected_trafficking_victims",
             "Persons prosecuted": "trafficking_persons_prosecuted",
             "Persons convicted": "trafficking_persons_convicted",
             "Persons brought into formal contact": "trafficking_persons_in_formal_contact",
             "Offences of trafficking in persons": "trafficking_offences"}
BREAKDOWN = {"Total": None, "by form of exploitation": "exploitation", "by citizenship": "citizenship",
             "by country of repatriation": "repatriation"}
EXPLOITATION = {"Sexual exploitation": "SEXUAL", "Forced labour": "FORCED_LABOUR",
                "Other forms of exploitation": "OTHER"}
SEX = {"Total": "_T", "Female": "F", "Male": "M", "Other": "_O", "Unknown": "_U"}
AGE = {"Total": "_T", "18 years or over": "Y_GE18", "0 to 17 years": "Y0T17", "Unknown": "_U"}
NATIONALS = {"Nationals", "Ciudadanos de su pa\ufffds", "own country"}
RESIDUAL = {"Unknown": "_U", "Abroad": "_O"}
SUPPRESSED = "<5"
CORRUPT_FROM = 1_000_000  # no country detects a million victims: such values are dates or questionnaire ids
_NUMBER = re.compile(r"\d{1,3}(,\d{3})*|\d+")
_QUESTIONNAIRE = re.compile(r"Q\d+(\.\d+)*_\w+")


def read_table(path: Path) -> pd.DataFrame:
    """The rows as published, every cell as text, with ``row`` = the Excel row (calamine's cells go into one
    frame at once; only cells that are not already text, such as the float years, are converted one by one).
    The workbook is opened by the guarded reader (:func:`imdx.sources.xlsx.open_workbook`: its size and the
    sheet's real extent checked against the limits first)."""
    with open_workbook(path, "the data_glotip.xlsx workbook as published by UNODC") as book:
        if SHEET not in book.sheet_names:
            raise SourceFileError(str(path), f"sheet {SHEET!r} is missing (the workbook has "
                                  f"{', '.join(book.sheet_names)})", sheet=SHEET, expected=f"the sheet {SHEET!r}")
        rows = book.rows(SHEET)
    header = [label(v) for v in rows[HEADER_ROW - 1]] if len(rows) >= HEADER_ROW else []
    if header[:len(COLUMNS)] != COLUMNS:
        raise SourceFileError(str(path), f"row {HEADER_ROW} reads {header[:len(COLUMNS)]}", sheet=SHEET,
                              row=HEADER_ROW, expected=f"the header {COLUMNS}")
    body = rows[HEADER_ROW:]
    width = len(COLUMNS)
    if any(len(r) != width for r in body):  # calamine's rows are as wide as the sheet: cut or pad to the header
        body = [r[:width] + [""] * (width - len(r)) for r in body]
    frame = pd.DataFrame({name: _texts(values) for name, values in zip(COLUMNS, zip(*body))} if body
                         else {name: pd.Series([], dtype=str) for name in COLUMNS})
    frame.insert(0, "row", np.arange(len(frame)) + HEADER_ROW + 1)
    frame = frame[(frame[COLUMNS] != "").any(axis=1)]
    bad = ~frame["Year"].str.fullmatch(r"(19|20)\d\d")
    if bad.any():
        row = frame[bad].iloc[0]
        raise SourceFileError(str(path), f"Year {row['Year']!r}", sheet=SHEET, row=int(row["row"]), column="J",
                              expected="a year such as 2022")
    return frame


def _texts(values: tuple) -> pd.Series:
    """One column's cells as text, column by column (not cell by cell): years that calamine reads as floats
    (``2019.0``) become ``2019``; other cells that are not text go through :func:`label`."""
    kinds = set(map(type, values))
    if kinds == {float}:
        numbers = np.array(values, dtype=np.float64)
        if np.isfinite(numbers).all() and (numbers == np.round(numbers)).all():
            return pd.Series(numbers.astype(np.int64)).astype(str)
    if kinds != {str}:
        values = [v if type(v) is str else label(v) for v in values]
    return pd.Series(values, dtype=str)


def _value(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of the txtVALUE texts (NaN where not a number) and which are ``<5``."""
    number = text.str.fullmatch(_NUMBER.pattern)
    value = pd.to_numeric(text.where(number).str.replace(",", "", regex=False), errors="coerce").to_numpy(float)
    return value, (text == SUPPRESSED).to_numpy()


def _report(ctx: LoadContext, rows: pd.DataFrame, type: str, message: str, severity: str = "warning",
            column: str = VALUE_COLUMN) -> None:
    if len(rows):
        shown = ", ".join(str(r) for r in rows["row"].head(8)) + (" ..." if len(rows) > 8 else "")
        ctx.issue(type, f"{message} (rows {shown})", severity=severity, file=FILE, sheet=SHEET,
                  row=int(rows["row"].iloc[0]), column=column, area=rows["Iso3_code"].iloc[0] or None,
                  dataflow=DATAFLOWS.get(rows["Indicator"].iloc[0]), n_obs=len(rows))


def _areas(ctx: LoadContext, frame: pd.DataFrame, column: str, letter: str) -> pd.Series:
    names = frame[column].where(~frame[column].isin(NATIONALS | set(RESIDUAL)))
    codes = ctx.map_areas(names.where(names != ""), ("name",), file=FILE, sheet=SHEET, column=letter,
                          rows=frame["row"])
    codes = codes.where(~frame[column].isin(RESIDUAL), frame[column].map(RESIDUAL))
    return codes.where(~frame[column].isin(NATIONALS), frame["country"])


def harmonise(frame: pd.DataFrame, ctx: LoadContext) -> dict[str, pd.DataFrame]:
    ctx.areas.load_sidecar("unodc_glotip")
    frame = frame.copy()
    for column, allowed, letter in (("Indicator", DATAFLOWS, "E"), ("Dimension", BREAKDOWN, "F"), ("Sex", SEX, "H"),
                                    ("Age", AGE, "I")):
        odd = ~frame[column].isin(list(allowed))
        for text, group in frame[odd].groupby(column):
            _report(ctx, group, "unknown-code", f"{column} {text!r} is not one imdx knows ({', '.join(allowed)}); "
                    "its rows were not loaded", severity="error", column=letter)
        frame = frame[~odd]
    damaged = frame[COLUMNS].apply(lambda c: c.str.contains("\ufffd", regex=False)).any(axis=1)
    _report(ctx, frame[damaged], "damaged-text", "cells hold U+FFFD replacement characters (damaged before "
            "publication); kept as published", severity="info", column="G")
    value, suppressed = _value(frame["txtVALUE"])
    corrupt = (value >= CORRUPT_FROM) | frame["Category"].str.fullmatch(_QUESTIONNAIRE.pattern).to_numpy()
    for _, group in frame[corrupt].groupby(["Iso3_code", "Indicator"]):
        _report(ctx, group, "corrupt-value", f"{len(group)} rows hold date-like values (e.g. "
                f"{group['txtVALUE'].iloc[0]!r}, category {group['Category'].iloc[0]!r}) or questionnaire ids, not "
                "counts; they were not loaded", severity="error")
    other = np.isnan(value) & ~suppressed & ~corrupt
    for text, group in frame[other].groupby("txtVALUE"):
        _report(ctx, group, "unknown-marker", f"txtVALUE {text!r} is neither a count nor '<5'; loaded as missing "
                "(status M) with the text in the note")
    keep = ~corrupt
    frame, value, suppressed = frame[keep], value[keep], suppressed[keep]
    by_code = ctx.map_areas(frame["Iso3_code"].where(frame["Iso3_code"] != ""), ("iso3", "code"), file=FILE,
                            sheet=SHEET, column="A", rows=frame["row"])
    by_name = ctx.map_areas(frame["Country"].where(frame["Iso3_code"] == ""), ("name",), file=FILE, sheet=SHEET,
                            column="B", rows=frame["row"])
    frame["country"] = by_code.fillna(by_name)
    breakdown = frame["Dimension"].map(BREAKDOWN)
    exploitation = frame["Category"].map(EXPLOITATION).where(breakdown == "exploitation", "_T")
    odd = exploitation.isna()
    _report(ctx, frame[odd], "unknown-code", "forms of exploitation imdx does not know (" +
            ", ".join(sorted(set(frame.loc[odd, "Category"]))) + "); not loaded", severity="error", column="G")
    citizenship = pd.Series("_T", index=frame.index, dtype=object)
    repatriation = pd.Series("_T", index=frame.index, dtype=object)
    for target, name in ((citizenship, "citizenship"), (repatriation, "repatriation")):
        rows = breakdown == name
        blank = rows & (frame["Category"] == "")
        _report(ctx, frame[blank], "missing-category", f"{int(blank.sum())} rows broken down {name!r} name no "
                "country (Category is empty); not loaded", severity="error", column="G")
        target[rows] = _areas(ctx, frame[rows], "Category", "G")
    note = np.where(suppressed, SUPPRESSED, np.where(frame["Category"].isin(NATIONALS),
                                                      "published as " + frame["Category"], None))
    note = np.where(np.isnan(value) & ~suppressed, frame["txtVALUE"], note)
    out = pd.DataFrame({
        "country": frame["country"], "sex": frame["Sex"].map(SEX), "age": frame["Age"].map(AGE),
        "exploitation": exploitation, "citizenship": citizenship, "repatriation": repatriation,
        "year": frame["Year"].astype(int), "value": value, "obs_status": np.where(suppressed, "L", np.where(
            np.isnan(value), "M", "A")), "definition": None, "note": note, "cell_file": FILE, "cell_sheet": SHEET,
        "cell_row": frame["row"], "cell_column": VALUE_COLUMN, "flow": frame["Indicator"].map(DATAFLOWS)})
    out = out.dropna(subset=["exploitation", "citizenship", "repatriation"])
    tables = {}
    keys = ["country", "sex", "age", "exploitation", "citizenship", "repatriation", "year"]
    for flow, table in out.groupby("flow", sort=True):
        dup = table.dropna(subset=["country"]).duplicated(keys, keep="first")
        for _, group in table.loc[dup[dup].index].groupby("country"):
            ctx.issue("duplicate-row", f"{len(group)} rows repeat a key already published (e.g. citizenship given as "
                      "'Nationals' and by name); only the first was loaded", severity="warning", file=FILE,
                      sheet=SHEET, row=int(group["cell_row"].iloc[0]), area=group["country"].iloc[0], dataflow=flow,
                      n_obs=len(group))
        tables[flow] = table.drop(index=dup[dup].index).drop(columns="flow")
    return tables


def _build(paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    return harmonise(read_table(paths[FILE]), ctx)


SOURCE = Source(
    name="unodc_glotip",
    title="Global Report on Trafficking in Persons (GLOTIP), country data",
    publisher="United Nations Office on Drugs and Crime (UNODC)",
    homepage="https://dataunodc.un.org/dp-trafficking-persons",
    # victims, prosecutions, convictions counted one by one by the national authorities (small numbers are
    # suppressed as <5, and the checks name those as the cause of a gap)
    tolerance=Tolerance.exact(),
    releases=(ReleaseSpec(
        source="unodc_glotip", key="glotip-2025-04-14", edition="2025-04-14", published=date(2025, 4, 14),
        title="dataUNODC trafficking in persons, data_glotip.xlsx (release of 14 April 2025; data 2003-2022)",
        licence="No licence stated in the file; dataUNODC terms: UN data may be used with citation of UNODC",
        files=(SourceFile(FILE, "https://dataunodc.un.org/sites/dataunodc.un.org/files/data_glotip.xlsx",
                          "24c34b95dfefb520445ef0f8d039727cad6febf0ab36807d5fc0aeee128c413e"),),
        dataflows=tuple(DATAFLOWS.values()), build=_build),),
)
