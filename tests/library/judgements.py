"""Judged queries for the library's search, written from the data: for each query, which of IOM's 734
evaluations are relevant, as a rule over the published metadata (thematic areas, countries, titles in any
of the languages the catalogue uses), read straight from ``evaluations.json``, never from imdx's index.

Relevance is binary. ``ndcg_at_10`` and ``recall_at_10`` are the measures the benchmark reports; recall is
capped (relevant found in the first 10 / min(10, relevant)), since many queries have more than 10
relevant records.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path


def _themes(meta) -> str:
    value = meta.get("Migration Thematic Areas")
    return value if isinstance(value, str) else ""


def _title(meta) -> str:
    return str(meta.get("Title") or "")


def _countries(meta) -> list[str]:
    return [c for c in meta.get("Countries Covered") or [] if isinstance(c, str)]


def theme(name: str):
    return lambda m: name.casefold() in _themes(m).casefold()


def title(pattern: str):
    rx = re.compile(pattern, re.IGNORECASE)
    return lambda m: bool(rx.search(_title(m)))


def country(*names: str):
    return lambda m: any(n in _countries(m) for n in names)


def any_of(*rules):
    return lambda m: any(r(m) for r in rules)


def all_of(*rules):
    return lambda m: all(r(m) for r in rules)


TRAFFICKING = any_of(theme("Counter trafficking"), title(r"traffick|\btrata\b|traite des"))
IRREGULAR = title(r"irregular|undocumented|unsafe migration|illegal migra|migrantes irregulares|irr[ée]guli")
REMITTANCES = any_of(theme("remittances"), title(r"remittance|remesa|transferts de fonds"))
DIASPORA = any_of(theme("diaspora"), title(r"diaspora"))
LABOUR = any_of(theme("Labour migration"), title(r"labou?r (migration|mobility|market)|migraci[oó]n laboral|"
                                                   r"trabajador|migrant workers?|travailleurs"))
BORDER = any_of(theme("Border and identity"), title(r"border|frontera|fronti[eè]re"))
HEALTH = any_of(theme("Migration health"), title(r"health|salud|sant[ée]\b|covid|hiv|tuberculosis"))
CLIMATE = any_of(theme("climate change"), title(r"climat|disaster|environment"))
RETURN = any_of(theme("Return and AVRR"), title(r"\breturn|reintegrat|retorno|reintegraci|retour|r[ée]int[ée]gration"))
DDR = any_of(theme("disarmament demobilisation"), title(r"disarmament|demobili[sz]ation|ex-combatant"))
PEACE = any_of(theme("peacebuilding"), title(r"peace"))
STABILISATION = any_of(theme("community stabilisation"), title(r"stabili[sz]ation|estabilizaci"))
CAMPS = any_of(theme("Camp coordination"), title(r"\bcamps?\b|cccm"))
SHELTER = any_of(theme("Emergency response"), title(r"shelter|emergency|humanitarian response|emergencia"))
DTM = any_of(theme("Displacement Tracking"), title(r"displacement tracking|\bdtm\b"))
DATA = any_of(title(r"\bdata\b|statistic|datos|donn[ée]es|information management|\bdtm\b"),
              theme("Migration research"))
PVE = any_of(theme("violent extremism"), title(r"extremis|radicali"))
POLICY = any_of(theme("Migration policy"), title(r"polic(y|ies)|pol[ií]tica|politique|governance|gobernanza"))
INTEGRATION = any_of(theme("Migrant training and integration"),
                     title(r"integration|cohesion|integraci[oó]n|int[ée]gration|inclusion"))
RESETTLEMENT = any_of(theme("Resettlement and Movement"), title(r"resettlement|reasentamiento|r[ée]installation"))
ELECTIONS = any_of(theme("election"), title(r"election|out-of-country voting|vote|electoral"))
LAND = any_of(theme("Land, property"), title(r"\bland\b|property|reparation"))
CONSULAR = any_of(theme("Facilitated migration services"), title(r"consular|visa|passport"))
MEDIA = any_of(theme("Media and communications"), title(r"campaign|awareness|communicat|media|campa[ñn]a|sensibilis"))
SMUGGLING = title(r"smuggl|tr[aá]fico il[ií]cito|trafic illicite")
GENDER = title(r"gender|g[ée]nero|genre\b|\bgbv\b|women|mujeres|femmes")
COVID = title(r"covid|coronavirus|pandemic")


def STRATEGY(m) -> bool:  # a rule, named as the others
    return "Strategy" in str(m.get("Type of Evaluation Scope") or "")



#: (query, rule): at least 40, each with at least one relevant record (a test checks both)
QUERIES = [
    ("counter trafficking", TRAFFICKING),
    ("human trafficking", TRAFFICKING),
    ("trafiking", TRAFFICKING),  # a typo
    ("trata de personas", TRAFFICKING),  # Spanish
    ("trafficking Bangladesh", all_of(TRAFFICKING, country("Bangladesh"))),
    ("counter trafficking Moldova", all_of(TRAFFICKING, country("Moldova", "Republic of Moldova"))),
    ("human trafficking Nigeria", all_of(TRAFFICKING, country("Nigeria"))),
    ("irregular migration", IRREGULAR),
    ("undocumented migrants", IRREGULAR),  # the glossary's other name
    ("remittances", REMITTANCES),
    ("remitances", REMITTANCES),  # a typo
    ("diaspora", DIASPORA),
    ("labour migration", LABOUR),
    ("labor migration", LABOUR),  # the US spelling
    ("migración laboral", LABOUR),
    ("migrant workers", LABOUR),
    ("border management", BORDER),
    ("migration health", HEALTH),
    ("climate change", CLIMATE),
    ("return and reintegration", RETURN),
    ("AVRR", RETURN),
    ("retour volontaire", RETURN),
    ("disarmament demobilization reintegration", DDR),
    ("peacebuilding", PEACE),
    ("community stabilization", STABILISATION),
    ("camp coordination camp management", CAMPS),
    ("emergency shelter", SHELTER),
    ("displacement tracking matrix", DTM),
    ("migration data", DATA),
    ("preventing violent extremism", PVE),
    ("migration policy", POLICY),
    ("integration social cohesion", INTEGRATION),
    ("resettlement", RESETTLEMENT),
    ("elections", ELECTIONS),
    ("land and property", LAND),
    ("consular services visas", CONSULAR),
    ("information campaign", MEDIA),
    ("smuggling of migrants", SMUGGLING),
    ("gender", GENDER),
    ("COVID-19", COVID),
    ("Ukraine", country("Ukraine")),
    ("Libya", country("Libya")),
    ("Afghanistan reintegration", all_of(RETURN, country("Afghanistan"))),
    ("Haiti", country("Haiti")),
    ("IOM strategy evaluation", STRATEGY),
    ("refugees Syria", all_of(country("Syrian Arab Republic", "Syria"), any_of(
        title(r"refugee|syria|displac"), theme("displaced"), theme("Resettlement")))),
]


def evaluations(mirror: Path) -> list[dict]:
    return json.loads((Path(mirror) / "research_library/iom_evaluations/evaluations.json").read_text("utf-8"))


def relevant(mirror: Path) -> dict[str, set[str]]:
    """query -> the imdx record ids of its relevant evaluations."""
    items = evaluations(mirror)
    return {q: {f"iom-eval-{i['id']}" for i in items if rule(i["meta"])} for q, rule in QUERIES}


def ndcg_at_10(ranked: list[str], rel: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, r in enumerate(ranked[:10]) if r in rel)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(rel))))
    return dcg / ideal if ideal else 0.0


def recall_at_10(ranked: list[str], rel: set[str]) -> float:
    return len(set(ranked[:10]) & rel) / min(10, len(rel)) if rel else 0.0
