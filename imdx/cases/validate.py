"""Per-record validation against the standard: each problem is an :class:`Issue` in a :class:`Report`.

:func:`validate_records` takes contributor values as text (one column per standard field) and
returns the normalised records (codes checked, ISO2 turned to ISO3, flags as booleans, years as
integers) with one report. A record is accepted only when it has no issue of severity ``error``.

Issue types (``type`` slug, severity):

``missing-required`` (error), ``missing-recommended`` (info), ``unknown-code`` (error),
``bad-year`` / ``bad-date`` / ``bad-flag`` (error), ``future-date`` (error),
``date-year-mismatch`` (error), ``minor-with-adult-age-band`` and ``adult-with-minor-age-band``
(error: majority status contradicts the age band), ``labour-type-without-forced-labour`` and
``sexual-type-without-sexual-exploitation`` (warning), ``unknown-column`` (warning).
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from imdx.cases.schema import FIELDS, ISO2_TO_ISO3, MINOR_AGE_BANDS, NULL_MARKERS
from imdx.model.report import Issue, Report

_FLAG_TRUE = {"1", "1.0", "true", "True", "TRUE", "yes", "Yes"}
_FLAG_FALSE = {"0", "0.0", "false", "False", "FALSE", "no", "No"}
_PERIOD = re.compile(r"^\d{4}(-\d{4})?$")
_AGE_DASHES = re.compile(r"\s*(--|–|-|—)\s*")


def _omap(s: pd.Series, f) -> pd.Series:
    """Map non-missing values of an object series, keeping None (and object dtype)."""
    return pd.Series([None if v is None else f(v) for v in s], index=s.index, dtype=object)


def _keep(s: pd.Series, ok: np.ndarray) -> pd.Series:
    return pd.Series([v if k else None for v, k in zip(s, ok)], index=s.index, dtype=object)


def _today() -> dt.date:
    return dt.date.today()


class _Checker:
    def __init__(self, n: int, file: str | None, first_row: int):
        self.report = Report()
        self.errors = np.zeros(n, dtype=bool)
        self.file, self.first_row = file, first_row

    def flag(self, mask: np.ndarray, type_: str, column: str, message, severity: str = "error"):
        for i in np.flatnonzero(mask):
            msg = message(i) if callable(message) else message
            self.report.add(Issue(type=type_, message=msg, severity=severity, source="cases", file=self.file,
                                  row=int(i) + self.first_row, column=column))
        if severity == "error":
            self.errors |= mask


def _text(raw: pd.DataFrame, name: str) -> pd.Series:
    if name not in raw.columns:
        return pd.Series([None] * len(raw), index=raw.index, dtype=object)
    values = [None if v is None or (not isinstance(v, str) and pd.isna(v)) or str(v).strip() in NULL_MARKERS
              else str(v).strip() for v in raw[name].tolist()]
    return pd.Series(values, index=raw.index, dtype=object)


def validate_records(raw: pd.DataFrame, *, file: str | None = None, first_row: int = 2,
                     today: dt.date | None = None) -> tuple[pd.DataFrame, Report, np.ndarray]:
    """Check text records against the standard.

    Returns ``(records, report, accepted)``: the normalised records (same index as ``raw``), the
    report of every issue (``row`` is the file row: ``first_row`` is the row of the first record),
    and a boolean array, True where the record has no error.
    """
    raw = raw.reset_index(drop=True)
    today = today or _today()
    check = _Checker(len(raw), file, first_row)
    known = {f.name for f in FIELDS}
    for col in raw.columns:
        if col not in known:
            check.report.add(Issue(type="unknown-column", severity="warning", source="cases", file=file,
                                   column=str(col), n_obs=len(raw),
                                   message=f"column {col!r} is not in the standard and was ignored"))
    out = {}
    for field in FIELDS:
        s = _text(raw, field.name)
        missing = s.isna().to_numpy()
        if field.required:
            check.flag(missing, "missing-required", field.name, f"{field.name} is required ({field.label})")
        elif field.recommended:
            check.flag(missing, "missing-recommended", field.name,
                       f"{field.name} is missing ({field.label})", "info")
        out[field.name] = _normalise(field, s, missing, check, today)
    records = pd.DataFrame(out)
    _cross_checks(records, check, today)
    return records, check.report, ~check.errors


def _normalise(field, s: pd.Series, missing: np.ndarray, check: _Checker, today: dt.date) -> pd.Series:
    name = field.name
    if field.kind == "flag":
        good_true, good_false = s.isin(_FLAG_TRUE).to_numpy(), s.isin(_FLAG_FALSE).to_numpy()
        bad = ~missing & ~good_true & ~good_false
        check.flag(bad, "bad-flag", name, lambda i: f"{name} must be 1 or empty, not {s.iat[i]!r}")
        return pd.Series(np.where(good_true, True, pd.NA), index=s.index, dtype="boolean")
    if field.kind == "year":
        num = pd.to_numeric(s, errors="coerce")
        ok_int = num.notna() & (num == num.round())
        bad = ~missing & ~ok_int.to_numpy()
        check.flag(bad, "bad-year", name, lambda i: f"{name} must be a four-digit year, not {s.iat[i]!r}")
        years = num.where(ok_int).astype("Int64")
        future = (years > today.year).fillna(False).to_numpy()
        check.flag(future, "future-date", name, lambda i: f"{name} {years.iat[i]} is in the future")
        early = (years < 1990).fillna(False).to_numpy()
        check.flag(early, "bad-year", name, lambda i: f"{name} {years.iat[i]} is before 1990")
        return years
    if field.kind == "date":
        dates = pd.to_datetime(s, errors="coerce", format="ISO8601")
        bad = ~missing & dates.isna().to_numpy()
        check.flag(bad, "bad-date", name, lambda i: f"{name} must be an ISO date (YYYY-MM-DD), not {s.iat[i]!r}")
        future = (dates > pd.Timestamp(today)).fillna(False).to_numpy(dtype=bool)
        check.flag(future, "future-date", name, lambda i: f"{name} {s.iat[i]} is in the future")
        return _keep(dates.dt.strftime("%Y-%m-%d").astype(object), dates.notna().to_numpy())
    if field.kind == "period":
        bad = ~missing & ~np.array([v is not None and bool(_PERIOD.match(v)) for v in s], dtype=bool)
        check.flag(bad, "bad-year", name, lambda i: f"{name} must be YYYY or YYYY-YYYY, not {s.iat[i]!r}")
        return _keep(s, ~bad)
    if field.kind == "country":
        conv = _omap(s, lambda v: ISO2_TO_ISO3.get(v.upper(), v.upper()) if len(v) == 2 else v.upper())
        bad = ~missing & ~conv.isin(field.codes).to_numpy()
        check.flag(bad, "unknown-code", name,
                   lambda i: f"{name} {s.iat[i]!r} is not an ISO 3166-1 alpha-3 (or alpha-2) country code")
        return _keep(conv, ~bad)
    if field.kind in ("code", "codes") and field.codes:
        if name == "age_band":
            s = pd.Series([v if v is None else _AGE_DASHES.sub("—", v) for v in s], index=s.index, dtype=object)
        if field.kind == "codes":
            ok = pd.Series([v is None or all(p in field.codes for p in v.split(";")) for v in s], dtype=bool)
        else:
            ok = s.isin(field.codes) | s.isna()
        bad = ~ok.to_numpy(dtype=bool)
        check.flag(bad, "unknown-code", name,
                   lambda i: f"{name} {s.iat[i]!r} is not one of: {', '.join(field.codes)}")
        return _keep(s, ~bad)
    return s


def _cross_checks(records: pd.DataFrame, check: _Checker, today: dt.date) -> None:
    minor, adult = records["majority_status"].eq("Minor"), records["majority_status"].eq("Adult")
    child_band = records["age_band"].isin(MINOR_AGE_BANDS)
    adult_band = records["age_band"].notna() & ~child_band
    check.flag((minor & adult_band).to_numpy(dtype=bool), "minor-with-adult-age-band", "majority_status",
               lambda i: f"a minor cannot be in the adult age band {records['age_band'].iat[i]!r}")
    check.flag((adult & child_band).to_numpy(dtype=bool), "adult-with-minor-age-band", "majority_status",
               lambda i: f"an adult cannot be in the child age band {records['age_band'].iat[i]!r}")
    no_year = (records["year_of_registration"].isna() & records["registration_period"].isna()).to_numpy(dtype=bool)
    check.flag(no_year, "missing-recommended", "year_of_registration",
               "neither year_of_registration nor registration_period is given", "info")
    date_year = pd.to_datetime(records["registration_date"], errors="coerce").dt.year
    mismatch = (date_year.notna() & records["year_of_registration"].notna()
                & (date_year != records["year_of_registration"].astype("float"))).to_numpy(dtype=bool)
    check.flag(mismatch, "date-year-mismatch", "year_of_registration",
               lambda i: "year_of_registration differs from the year of registration_date")
    labour = records[["labour_agriculture", "labour_construction", "labour_domestic_work",
                      "labour_hospitality"]].fillna(False).any(axis=1)
    check.flag((labour & ~records["is_forced_labour"].fillna(False)).to_numpy(dtype=bool),
               "labour-type-without-forced-labour", "is_forced_labour",
               "a type of labour is given but is_forced_labour is not 1", "warning")
    sexual = records[["sexual_prostitution", "sexual_pornography"]].fillna(False).any(axis=1)
    check.flag((sexual & ~records["is_sexual_exploitation"].fillna(False)).to_numpy(dtype=bool),
               "sexual-type-without-sexual-exploitation", "is_sexual_exploitation",
               "a type of sexual exploitation is given but is_sexual_exploitation is not 1", "warning")
