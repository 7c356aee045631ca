"""The IOM Evaluation repository's catalogue (``research_library/iom_evaluations/evaluations.json``).

A JSON array of ``{id, docs, meta}``, one per evaluation report, as IOM's evaluation API returns it.
Traps handled here (see the folder's PROVENANCE.md): bare ``NaN`` tokens, which strict JSON refuses
(read as "no value"); the texts ``"nan"``, ``"Not specified"``; evaluation periods that end before they
start (kept as published, with an issue); lists written as one comma-joined text whose items hold
commas themselves ("Border and identity solutions (border management, security, ...)").
"""

from __future__ import annotations

import json
from pathlib import Path

from imdx.errors import SourceFileError
from imdx.library import clean
from imdx.library.formats import HINT, Entry, _sha, _too_many, read_bytes
from imdx.library.model import Limits, Record
from imdx.model.report import Issue, Report
from imdx.store.documents import RecordSource

SOURCE = "iom_evaluations"
FILE = "research_library/iom_evaluations/evaluations.json"
PUBLISHER = "International Organization for Migration (IOM)"
_EXTRA = {"Evaluation Coverage": "coverage", "Type of Evaluation Scope": "scope",
          "Type of Evaluation Timing": "timing", "Type of Evaluator": "evaluator", "Level of Evaluation": "level",
          "Project Code": "project_code", "Name of Project(s) Being Evaluated": "project",
          "Relevant Crosscutting Themes": "crosscutting_themes", "Management response": "management_response",
          "Evaluation Brief": "evaluation_brief", "Executive Summary": "executive_summary",
          "Date added": "date_added", "Best Practicesor Lessons Learnt": "lessons_learnt",
          "Number of Pages Excluding annexes": "pages"}


def _nan_is_missing(constant: str):
    return None  # NaN, Infinity, -Infinity: the file's way of saying "no value"


def read_evaluations(path: Path, limits: Limits, report: Report) -> list[Entry]:
    data = read_bytes(path, limits)
    try:
        items = json.loads(data.decode("utf-8-sig"), parse_constant=_nan_is_missing)
    except (ValueError, RecursionError) as err:
        raise SourceFileError(str(path), f"is not JSON ({str(err)[:200]})", hint=HINT,
                              expected="IOM's evaluation listing: a JSON array of {id, docs, meta}") from None
    if not isinstance(items, list):
        raise SourceFileError(str(path), "is not a JSON array", expected="a JSON array of {id, docs, meta}", hint=HINT)
    _too_many(str(path), len(items), limits)
    sha, name = _sha(data), path.name
    out = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("meta"), dict) or not item.get("id"):
            raise SourceFileError(str(path), f"item {i} has no id or no meta object", row=i,
                                  expected="objects {id, docs, meta}", hint=HINT)
        record = evaluation(item, limits, report, name, i)
        if record is not None:
            out.append(Entry(record, RecordSource(SOURCE, str(item["id"]), name, sha, f"item {i}")))
    return out


def evaluation(item: dict, limits: Limits, report: Report, name: str, row: int) -> Record | None:
    meta, lim = item["meta"], limits.max_field_chars
    title = clean.title(meta.get("Title"), lim)
    if title is None:
        report.add(Issue("record-without-title", f"evaluation {item['id']} has no title and was left out", "warning",
                         source=SOURCE, file=name, row=row))
        return None
    docs = [{"url": u, "description": clean.text(d.get("desc"), 300), "kind": clean.text(d.get("subtype"), 100)}
            for d in (item.get("docs") or []) if isinstance(d, dict) and (u := clean.url(d.get("url")))]
    countries = meta.get("Countries Covered") or []
    countries = [c for c in (clean.text(c, 200) for c in (countries if isinstance(countries, list) else [countries]))
                 if c and not clean.missing(c)]
    if not countries:
        report.add(Issue("no-area", f"evaluation {item['id']} ({title[:60]}) names no country or area "
                         f"({meta.get('Countries Covered')!r})", "info", source=SOURCE, file=name, row=row,
                         column="Countries Covered"))
    start, end = clean.date(meta.get("Evaluation Period From Date")), clean.date(meta.get("Evaluation Period To Date"))
    if start and end and start > end:
        report.add(Issue("period-reversed", f"evaluation {item['id']} ({title[:60]}): the evaluation period ends "
                         f"({end}) before it starts ({start}); kept as published", "info", source=SOURCE, file=name,
                         row=row, column="Evaluation Period From Date"))
    extra = {key: clean.text(meta.get(field), 500) for field, key in _EXTRA.items()}
    extra["crosscutting_themes"] = clean.split_list(meta.get("Relevant Crosscutting Themes"))
    extra.update({"period_from": start, "period_to": end, "genre": "Evaluation report"})
    donors = [d for d in clean.split_list(meta.get("Donor")) if d.casefold() not in ("multiple",)]
    return Record(
        id=f"iom-eval-{item['id']}", type="evaluation", title=title, authors=clean.people(meta.get("Author")),
        year=clean.year(meta.get("Year")), issued=clean.date(meta.get("Date of Publication")),
        url=docs[0]["url"] if docs else None, languages=clean.language(meta.get("Languages")),
        publisher=PUBLISHER, commissioners=clean.split_list(meta.get("Evaluation Commissioner")),
        donors=[clean.text(d, 300) for d in donors], themes=clean.split_list(meta.get("Migration Thematic Areas")),
        keywords=extra["crosscutting_themes"] + clean.split_list(meta.get("Type of Evaluation Scope")),
        country_names=countries, regions=clean.split_list(meta.get("Regions Covered")), documents=docs,
        extra={k: v for k, v in extra.items() if v not in (None, [], "")})
