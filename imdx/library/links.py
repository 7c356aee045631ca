"""Links from records to the data: the areas they cover, the GCM objectives and the dataflows they concern.

* **Areas**: the names a source gives (``Countries Covered``, a BibTeX ``country`` field) are resolved
  through :class:`imdx.codes.areas.Areas` (any source's spelling, ISO and M49 codes), plus the reviewed
  spellings of ``area_aliases.csv``; a name that cannot be resolved is never guessed, it becomes an
  ``unmapped-area`` issue. A record that names no area is linked to the countries its title names.
* **Topics** (``topics.csv``, reviewed by hand): patterns over the title, themes, keywords and abstract
  that point to GCM objectives and imdx dataflows (trafficking → objective 10, ``trafficking_victims``).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

from imdx.codes.areas import Areas
from imdx.library.model import Record
from imdx.model.report import Issue, Report

_MAX_NGRAM = 6


@dataclass(frozen=True)
class Topic:
    name: str
    pattern: re.Pattern
    gcm: tuple[str, ...]
    dataflows: tuple[str, ...]


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


@cache
def topics() -> tuple[Topic, ...]:
    rows = resources.files("imdx.library").joinpath("topics.csv").read_text("utf-8").splitlines()
    reader = csv.DictReader(line for line in rows if not line.startswith("#"))
    return tuple(Topic(r["topic"], re.compile(_fold(r["pattern"])), tuple(r["gcm"].split()),
                       tuple(r["dataflows"].split())) for r in reader)


def with_library_aliases(areas: Areas) -> Areas:
    """A copy of the area table that also knows the spellings of ``area_aliases.csv``."""
    areas = areas.copy()
    rows = resources.files("imdx.library").joinpath("area_aliases.csv").read_text("utf-8").splitlines()
    for row in csv.DictReader(line for line in rows if not line.startswith("#")):
        if row["code"] in areas.frame.index:
            areas.add_alias(row["code"], "name", row["alias"])
    return areas


class Linker:
    """Resolves the areas of records and finds their topics, recording what it could not resolve."""

    def __init__(self, areas: Areas):
        self.areas = areas
        self._countries = self._country_names(areas)

    @staticmethod
    def _country_names(areas: Areas) -> dict[str, str]:
        frame = areas.frame
        countries = set(frame.index[frame["kind"] == "country"])
        names = {}
        aliases = areas.aliases
        pairs = list(zip(frame["name"], frame["code"])) + list(
            zip(aliases.loc[aliases["system"] == "name", "alias"], aliases.loc[aliases["system"] == "name", "code"]))
        for name, code in pairs:
            if code in countries and isinstance(name, str):
                key = " ".join(re.findall(r"\w+", _fold(name)))
                if key and len(key) > 3 and key not in names:
                    names[key] = code
        return names

    def link(self, record: Record, report: Report, *, file: str | None = None, row: int | None = None,
             source: str = "library") -> Record:
        codes: list[str] = []
        for name in record.country_names:
            match = self.areas.resolve(name, ("code", "iso3", "m49", "name"))
            if match.code is None:
                report.add(Issue("unmapped-area", f"{record.id}: the area {name!r} is not a known area name or code; "
                                 "the record is kept without it (add the spelling to "
                                 "imdx/library/area_aliases.csv once reviewed)", "warning", source=source, file=file,
                                 row=row, column="countries", area=name))
            elif match.code not in codes:
                codes.append(match.code)
        if not record.country_names and record.title:
            codes = self.countries_named(record.title)
        record.countries = codes
        text = _fold(" \n ".join(filter(None, [record.title, *record.themes, *record.keywords,
                                               (record.abstract or record.text or "")[:5000]])))
        gcm, flows = list(record.gcm), list(record.dataflows)
        for topic in topics():
            if topic.pattern.search(text):
                gcm += [g for g in topic.gcm if g not in gcm]
                flows += [f for f in topic.dataflows if f not in flows]
        record.gcm = sorted(gcm, key=int)
        record.dataflows = flows
        return record

    def countries_named(self, text: str) -> list[str]:
        """The countries a text names (whole words, longest names first)."""
        words = re.findall(r"\w+", _fold(text))
        found, i = [], 0
        while i < len(words):
            for n in range(min(_MAX_NGRAM, len(words) - i), 0, -1):
                code = self._countries.get(" ".join(words[i:i + n]))
                if code:
                    if code not in found:
                        found.append(code)
                    i += n
                    break
            else:
                i += 1
        return found
