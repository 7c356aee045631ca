"""3W ("who does what where") spreadsheets as the humanitarian community keeps them: CSV with a row of HXL
hashtags under the headers (https://hxlstandard.org): ``#org``, ``#sector``, ``#country+code``, ``#adm1``,
``#activity``, ``#date+start`` ...

Import: each data row becomes an activity (its organisation registered when new); the table itself (headers,
hashtags, every cell as written) is kept, so that exporting it gives the file back unchanged. A hashtag the
HXL core dictionary does not define is reported and its column kept as it is; a country that does not exist,
a date that is not a date, a row without an organisation: each is an error in the report, and then nothing
is imported. Export: a table as it was imported (with the registry's current values), or every activity in
the standard 3W columns.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from imdx.errors import ImdxError, SourceFileError
from imdx.model.report import Issue, Report
from imdx.registry.model import STATUSES, slug

TABLE = "three_w_table"
MAX_BYTES = 10 * 2**20
MAX_ROWS = 50_000
MAX_COLUMNS = 200
#: the tags of the HXL core dictionary (1.1)
CORE_TAGS = {
    "access", "activity", "adm1", "adm2", "adm3", "adm4", "adm5", "affected", "beneficiary", "capacity", "cause",
    "channel", "contact", "country", "crisis", "currency", "date", "delivery", "description", "event", "frequency",
    "geo", "group", "impact", "indicator", "inneed", "item", "loc", "meta", "modality", "need", "operations", "org",
    "output", "population", "reached", "region", "respondee", "sector", "service", "severity", "status",
    "subsector", "targeted", "value", "x_", "financial", "household", "job"}
_HASHTAG = re.compile(r"^#([A-Za-z][A-Za-z0-9_]*)((?:\s*\+[A-Za-z][A-Za-z0-9_]*)*)$")
STANDARD = [("Organisation", "#org"), ("Sector", "#sector"), ("Country", "#country+code"), ("Admin 1", "#adm1+name"),
            ("Activity", "#activity"), ("Start date", "#date+start"), ("End date", "#date+end"), ("Status", "#status")]


class ThreeWImportError(ImdxError):
    """The 3W file has errors (listed in ``report``); nothing was imported."""

    exit_code = 1

    def __init__(self, file: str, report: Report):
        self.report = report
        errors = [i for i in report if i.severity == "error"]
        first = "; ".join(f"{i.location}: {i.message}" for i in errors[:3])
        more = "; ..." if len(errors) > 3 else ""
        super().__init__(f"{file}: {len(errors)} error(s) in the 3W file ({first}{more}); "
                         "correct them and import the file again; nothing was imported")


@dataclass
class Column:
    index: int
    header: str
    hashtag: str
    tag: str  # lower case, without '#'
    attributes: tuple[str, ...]

    def role(self) -> str | None:
        """Which activity field the column fills, or None (kept as written)."""
        a = set(self.attributes)
        if self.tag == "org" and not a & {"funder", "donor", "acronym"}:
            return "org"
        if self.tag == "org" and a & {"funder", "donor"}:
            return "funder"
        if self.tag == "country":
            return "country_code" if "code" in a or "iso3" in a else "country_name"
        if self.tag == "date" and "end" in a:
            return "end"
        if self.tag == "date" and ("start" in a or not a):
            return "start"
        return self.tag if self.tag in ("sector", "adm1", "activity", "status") else None


@dataclass
class Table:
    name: str
    headers: list[list[str]]  # the rows above the hashtags
    columns: list[Column]
    rows: list[list[str]]
    first_row: int  # the file's line number of the first data row
    newline: str
    report: Report


def read_table(path: Path, report: Report | None = None) -> Table:
    report = report if report is not None else Report()
    name = path.name
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SourceFileError(str(path), f"is {size:,} bytes; a 3W import may have {MAX_BYTES:,}",
                              hint="Split the file; nothing was imported.")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SourceFileError(str(path), f"is not UTF-8 text (byte {err.start})", expected="a CSV file in UTF-8",
                              hint="Save the spreadsheet as 'CSV UTF-8'; nothing was imported.") from None
    newline = "\r\n" if "\r\n" in text[:100_000] else "\n"
    csv.field_size_limit(100_000)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as err:
        raise SourceFileError(str(path), f"is not CSV ({err})", hint="Save the spreadsheet as CSV; nothing was "
                              "imported.") from None
    if len(rows) > MAX_ROWS or any(len(r) > MAX_COLUMNS for r in rows[:50]):
        raise SourceFileError(str(path), f"has more than {MAX_ROWS:,} rows or {MAX_COLUMNS} columns",
                              hint="Split the file; nothing was imported.")
    tag_row = next((i for i, r in enumerate(rows[:25]) if any(c.strip() for c in r)
                    and all(not c.strip() or c.strip().startswith("#") for c in r)), None)
    if tag_row is None:
        raise SourceFileError(str(path), "has no row of HXL hashtags in its first 25 rows",
                              expected="a row such as #org,#sector,#country+code,#adm1,#activity,#date+start under "
                              "the headers",
                              hint="Add the hashtag row (https://hxlstandard.org); nothing was imported.")
    columns = []
    width = max(len(r) for r in rows)
    headers = rows[:tag_row]
    for i, cell in enumerate(rows[tag_row] + [""] * (width - len(rows[tag_row]))):
        hashtag = cell.strip()
        header = next((h[i] for h in reversed(headers) if i < len(h) and h[i].strip()), "")
        m = _HASHTAG.match(hashtag) if hashtag else None
        if hashtag and m is None:
            raise SourceFileError(str(path), f"{hashtag!r} is not an HXL hashtag", row=tag_row + 1, column=_col(i),
                                  expected="#tag or #tag+attribute (letters, digits, _)",
                                  hint="Correct the hashtag row; nothing was imported.")
        tag = m.group(1).lower() if m else ""
        attributes = tuple(a.strip().lower() for a in m.group(2).split("+") if a.strip()) if m else ()
        if hashtag and tag not in CORE_TAGS and not tag.startswith("x_"):
            report.add(Issue("unknown-hashtag", f"{hashtag} is not in the HXL core dictionary; its column "
                             f"{header or _col(i)!r} is kept as written but not read", "warning", source="3w",
                             file=name, row=tag_row + 1, column=_col(i)))
        columns.append(Column(i, header, hashtag, tag, attributes))
    roles = {c.role() for c in columns}
    missing = [need for need, ok in (("#org", "org" in roles),
                                     ("#country+code or #country+name", roles & {"country_code", "country_name"}),
                                     ("#activity or #sector", roles & {"activity", "sector"})) if not ok]
    if missing:
        raise SourceFileError(str(path), f"has no {' and no '.join(missing)} column", row=tag_row + 1,
                              expected="the 3W hashtags #org, #sector, #country+code, #adm1, #activity, #date+start",
                              hint="Add the hashtags; nothing was imported.")
    return Table(name, headers, columns, rows[tag_row + 1:], tag_row + 2, newline, report)


def _col(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def write_table(headers: list[list[str]], hashtags: list[str], rows: list[list[str]], newline: str = "\r\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    for row in headers + [hashtags] + rows:
        writer.writerow(row)
    return out.getvalue()


def date_cell(value: str) -> str | None:
    """An ISO date (or YYYY-MM, YYYY) from a 3W cell; raises ValueError for anything else."""
    from datetime import date

    value = value.strip()
    if re.fullmatch(r"\d{4}(-\d{2})?", value):
        return value
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?", value)
    if m:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    raise ValueError(value)


def status_cell(value: str) -> str | None:
    key = value.strip().casefold()
    aliases = {"on-going": "ongoing", "in progress": "ongoing", "active": "ongoing", "complete": "completed",
               "finished": "completed", "closed": "completed", "pipeline": "planned", "planning": "planned"}
    key = aliases.get(key, key)
    return key if key in STATUSES else None


def table_id(path: Path) -> str:
    return slug(path.stem)[:60]
