"""Intake: a contributor's CSV or Excel file (or one record from the API) into the case database.

A submission is all or nothing: every record is validated (see :mod:`imdx.cases.validate`),
records with errors are rejected and listed in the report, the others are stored in one
transaction with their identifying fields encrypted. A record that looks like one already in
the database from an earlier submission is stored but flagged ``possible-duplicate`` for review.

Files are read as text with no value taken as missing except the standard's NULL markers (``NULL``,
empty, ``.``), so Namibia's ISO2 code ``NA`` stays Namibia. Columns may carry the standard's names
or the CTDC codebook's (``yearOfRegistration``, ``ageBroad``, ``CountryOfExploitation``, ...); the
CTDC victim-perpetrator layout (``yearRegister`` bands, ``Female``/``Male``, UN regions, ``IP_*``
perpetrator summaries) is recognised as it is published.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.cases.access import Principal, authorise
from imdx.cases.audit import AuditLog
from imdx.cases.crypto import Keyring, fingerprint
from imdx.cases.db import CaseStore
from imdx.cases.errors import IntakeError
from imdx.cases.schema import CTDC_TO_FIELD, FIELD_BY_NAME, IDENTIFYING_FIELDS, RECORD_FIELDS, SCHEMA_VERSION
from imdx.cases.validate import validate_records
from imdx.errors import SourceFileError
from imdx.model.report import Issue, Report
from imdx.sources.csvfile import check_csv
from imdx.sources.xlsx import open_workbook

ALIASES = {**CTDC_TO_FIELD, "meansWithholdDocuments": "means_withhold_documents"}
VALUE_ALIASES = {"gender": {"Female": "Woman", "Male": "Man", "female": "Woman", "male": "Man",
                            "Transgender": "Trans/Transgender/NonConforming"}}
_DUPLICATE_BASIS = ("gender", "age_band", "citizenship", "country_of_exploitation", "year_of_registration")


@dataclass
class Submission:
    submission_id: str
    organisation: str
    n_records: int
    n_accepted: int
    n_rejected: int
    n_possible_duplicates: int
    report: Report = field(default_factory=Report)
    case_ids: list[str] = field(default_factory=list)


def read_contributor_file(path: Path | str, sheet: str | int = 0) -> pd.DataFrame:
    """The file's cells as text, columns renamed to the standard, CTDC values mapped."""
    path = Path(path)
    if not path.is_file():
        raise IntakeError(f"file {path} not found: check the path; nothing was imported")
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods"):
            with open_workbook(path, "a contributor workbook") as book:  # within the limits, before pandas trusts it
                book.check(sheet)
            raw = pd.read_excel(path, sheet_name=sheet, dtype=str, keep_default_na=False, na_values=[],
                                engine="calamine")
        else:
            check_csv(path, expected="a contributor CSV file")
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], encoding="utf-8-sig")
    except SourceFileError as err:
        raise IntakeError(f"{err}") from None
    except Exception as err:  # noqa: BLE001 (any reader failure means the file is unreadable)
        raise IntakeError(f"file {path} cannot be read as CSV or Excel ({err}); expected a header row with the "
                          "standard's or CTDC's column names. Nothing was imported.") from None
    return to_standard(raw)


def to_standard(raw: pd.DataFrame) -> pd.DataFrame:
    """Rename CTDC columns and map CTDC values to the standard's (text in, text out)."""
    dupes = [c for c in raw.columns if c in ALIASES and ALIASES[c] != c and ALIASES[c] in raw.columns]
    if dupes:
        raise IntakeError(f"columns {dupes} and their standard names both appear; keep one of each")
    out = raw.rename(columns=ALIASES).astype(object)
    for col, mapping in VALUE_ALIASES.items():
        if col in out.columns:
            out[col] = [mapping.get(v, v) if isinstance(v, str) else v for v in out[col]]
    if "registration_period" in out.columns and "year_of_registration" not in out.columns:
        out["year_of_registration"] = [v if isinstance(v, str) and v.strip().isdigit() else ""
                                       for v in out["registration_period"]]
    return out


def import_records(store: CaseStore, keyring: Keyring, audit: AuditLog, principal: Principal,
                   raw: pd.DataFrame, *, fingerprint_key: str, data_source: str | None = None,
                   file_name: str = "api", first_row: int = 2, today: dt.date | None = None) -> Submission:
    """Validate and store the records of one submission by ``principal`` (a field officer)."""
    try:
        authorise(principal, "case:create")
    except Exception as err:
        audit.record(principal.username, "case:create", file_name, "denied", {"reason": str(err)})
        raise
    organisation = principal.organisation
    raw = raw.reset_index(drop=True).astype(object)
    if "organisation" in raw.columns:
        given = raw["organisation"]
    else:
        given = pd.Series([organisation] * len(raw), dtype=object)
    raw["organisation"] = organisation
    if data_source and "data_source" not in raw.columns:
        raw["data_source"] = data_source
    records, report, accepted = validate_records(raw, file=file_name, first_row=first_row, today=today)
    wrong_org = np.array([isinstance(g, str) and g.strip() not in ("", organisation) for g in given])
    for i in np.flatnonzero(wrong_org):
        report.add(Issue(type="organisation-mismatch", severity="error", source="cases", file=file_name,
                         row=int(i) + first_row, column="organisation",
                         message=f"the record names organisation {given.iat[i]!r}; you may only submit "
                                 f"records of {organisation!r}"))
    accepted &= ~wrong_org
    submission_id = uuid.uuid4().hex
    good = records[accepted].copy()
    good["case_id"] = [uuid.uuid4().hex for _ in range(len(good))]
    good["submission_id"] = submission_id
    ident = raw.reindex(columns=list(IDENTIFYING_FIELDS))[accepted]
    good["identifying"] = [_encrypt_row(keyring, row) for row in ident.itertuples(index=False)]
    good["fingerprint"] = _fingerprints(fingerprint_key, good, ident)
    good["created_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
    with store.transaction() as con:
        _flag_duplicates(con, good)
        store.insert_frame("cases", good[["case_id", "submission_id", *RECORD_FIELDS, "identifying", "fingerprint",
                                          "duplicate_of", "review_status", "created_at"]])
        n_dup = int(good["duplicate_of"].notna().sum())
        con.execute("INSERT INTO submissions VALUES (?, ?, ?, ?, now(), ?, ?, ?, ?, ?)",
                    [submission_id, organisation, principal.username, file_name, SCHEMA_VERSION, len(raw),
                     len(good), int((~accepted).sum()), n_dup])
        audit.record(principal.username, "case:create", submission_id, "ok",
                     {"file": file_name, "accepted": len(good), "rejected": int((~accepted).sum())})
    for row, dup in zip(np.flatnonzero(accepted), good["duplicate_of"]):
        if dup is not None:
            report.add(Issue(type="possible-duplicate", severity="warning", source="cases", file=file_name,
                             row=int(row) + first_row, message=f"looks like case {dup} of an earlier submission; "
                                                               "stored and flagged for review"))
    return Submission(submission_id, organisation, len(raw), len(good), int((~accepted).sum()), n_dup, report,
                      good["case_id"].tolist())


def _encrypt_row(keyring: Keyring, row) -> bytes | None:
    values = {k: v for k, v in zip(IDENTIFYING_FIELDS, row) if isinstance(v, str) and v.strip()
              and v.strip() != "NULL"}
    return keyring.encrypt(values) if values else None


def _fingerprints(key: str, good: pd.DataFrame, ident: pd.DataFrame) -> list[str]:
    names = ident["victim_name"].tolist() if len(ident) else []
    basis = good[list(_DUPLICATE_BASIS)].astype(object).to_numpy().tolist()
    content = good[[f for f in RECORD_FIELDS if FIELD_BY_NAME[f].section != "provenance"]].astype(object)
    content = content.to_numpy().tolist()
    out = []
    for name, ref, org, b, c in zip(names, good["case_reference"], good["organisation"], basis, content):
        if isinstance(name, str) and name.strip() and name != "NULL":
            out.append(fingerprint(key, ["name", name, *b]))
        elif ref is not None:
            out.append(fingerprint(key, ["ref", org, ref]))
        else:
            out.append(fingerprint(key, ["record", *c]))
    return out


def _flag_duplicates(con, good: pd.DataFrame) -> None:
    if good.empty:
        good["duplicate_of"], good["review_status"] = [], []
        return
    incoming = pd.DataFrame({"fingerprint": good["fingerprint"].unique()})
    con.register("_fps", incoming)
    try:
        rows = con.execute("SELECT c.fingerprint, min(c.case_id) FROM cases c JOIN _fps f USING (fingerprint) "
                           "GROUP BY c.fingerprint").fetchall()
    finally:
        con.unregister("_fps")
    earlier = dict(rows)
    good["duplicate_of"] = pd.Series([earlier.get(f) for f in good["fingerprint"]], index=good.index, dtype=object)
    good["review_status"] = np.where(good["duplicate_of"].notna(), "possible-duplicate", "accepted").astype(object)


def completeness(records: pd.DataFrame, by: str = "organisation") -> pd.DataFrame:
    """Share of records with each field filled in, overall (``by`` = ``"all"``) and per contributor.

    Columns: ``organisation``, ``field``, ``records``, ``filled``, ``share``. For flags, "filled"
    counts the 1s (the codebook has no 0, so a flag's share is an upper bound of missingness).
    """
    fields = [f for f in RECORD_FIELDS if f in records.columns and f != by]
    parts = []
    groups = [("all", records)] + (list(records.groupby(by, sort=True)) if by in records.columns else [])
    for key, grp in groups:
        filled = grp[fields].notna().sum()
        parts.append(pd.DataFrame({"organisation": key, "field": fields, "records": len(grp),
                                   "filled": filled.to_numpy(), "share": (filled / max(len(grp), 1)).round(4)
                                   .to_numpy()}))
    return pd.concat(parts, ignore_index=True)
