"""The two frameworks migration actors report against, read from ``coordination_registry_seed/iomeval_frameworks``:

* the 23 objectives of the Global Compact for Safe, Orderly and Regular Migration (A/RES/73/195): title,
  commitment text and lettered actions, from ``gcms_short.md`` and ``gcms_long.md``;
* IOM's Strategic Results Framework: 3 objectives → long-term outcomes → short-term outcomes → outputs
  (``srf_objectives.json``), 7 enablers, 4 cross-cutting priorities;
* the mappings GCM objective → SRF outputs and back (``gcm_to_srf_outputs.json``, ``srf_outputs_to_gcm.json``),
  checked against each other and against the SRF: each disagreement is an issue, and the registry uses
  what both files say (their union), so that nothing either publishes is lost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from imdx.errors import SourceFileError
from imdx.model.report import Issue, Report

FOLDER = "coordination_registry_seed/iomeval_frameworks"
SOURCE = "iomeval_frameworks"
_HEAD = re.compile(r"^# Objective (\d+)\s*$", re.MULTILINE)
_ACTION = re.compile(r"^- ([a-z])\. (.+)$")


@dataclass
class Objective:
    number: str
    title: str
    commitment: str = ""
    actions: list[dict] = field(default_factory=list)  # {"letter", "short", "text"}


@dataclass
class SrfNode:
    id: str
    level: str  # objective, long_term_outcome, short_term_outcome, output, enabler, crosscutting_priority
    title: str
    parent: str | None = None
    description: str | None = None


@dataclass
class Frameworks:
    objectives: dict[str, Objective]
    srf: dict[str, SrfNode]
    gcm_to_srf: dict[str, list[str]]  # the union of both mapping files
    report: Report


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as err:
        raise SourceFileError(str(path), f"cannot be read ({err.strerror})",
                              hint="Set IMDX_MIRROR to the folder that holds coordination_registry_seed.") from None


def _json(path: Path):
    try:
        return json.loads(_read(path))
    except ValueError as err:
        raise SourceFileError(str(path), f"is not JSON ({err})") from None


def parse_gcm(short_md: str, long_md: str, file: str = "gcms_short.md") -> dict[str, Objective]:
    objectives: dict[str, Objective] = {}
    for text, long in ((short_md, False), (long_md, True)):
        parts = _HEAD.split(text)
        for number, block in zip(parts[1::2], parts[2::2]):
            title = re.search(r"^## Title:\s*(.+)$", block, re.MULTILINE)
            if not title:
                raise SourceFileError(file, f"objective {number} has no '## Title:' line",
                                      expected="the iomeval layout")
            obj = objectives.setdefault(number, Objective(number, title.group(1).strip()))
            body, _, actions = block[title.end():].partition("## Associated actions")
            lines = [line.strip() for line in actions.splitlines() if _ACTION.match(line.strip())]
            if long:
                obj.commitment = re.sub(r"\s+", " ", body).strip()
                for line in lines:
                    letter, text = _ACTION.match(line).groups()
                    for action in obj.actions:
                        if action["letter"] == letter:
                            action["text"] = text.strip()
            else:
                obj.actions = [{"letter": m.group(1), "short": m.group(2).strip(), "text": m.group(2).strip()}
                               for m in map(_ACTION.match, lines)]
    return objectives


def parse_srf(objectives: list, enablers: list, priorities: list, report: Report | None = None) -> dict[str, SrfNode]:
    """Every SRF node by id. An id published twice (output ``2a12`` names two outputs) keeps its first node;
    the second gets the id with ``b`` appended, and an issue says so."""
    nodes: dict[str, SrfNode] = {}
    report = report if report is not None else Report()
    levels = [("long_term_outcomes", "long_term_outcome"), ("short_term_outcomes", "short_term_outcome"),
              ("outputs", "output")]

    def walk(item: dict, depth: int, parent: str | None) -> None:
        level = "objective" if depth == 0 else levels[depth - 1][1]
        node_id = item["id"]
        if node_id in nodes:
            node_id = f"{node_id}b"
            report.add(Issue("duplicate-id", f"SRF {level.replace('_', ' ')} id {item['id']!r} is published twice "
                             f"with different titles; the second ({item['title'][:80]!r}) is kept as {node_id!r}",
                             "warning", source=SOURCE, file="srf_objectives.json", column=item["id"]))
        nodes[node_id] = SrfNode(node_id, level, item["title"].strip(), parent)
        if depth < len(levels):
            for child in item.get(levels[depth][0], []):
                walk(child, depth + 1, node_id)

    for item in objectives:
        walk(item, 0, None)
    for prefix, level, items in (("E", "enabler", enablers), ("C", "crosscutting_priority", priorities)):
        for item in items:
            nodes[f"{prefix}{item['id']}"] = SrfNode(f"{prefix}{item['id']}", level, item["title"].strip(), None,
                                                     item.get("description"))
    return nodes


def check_mappings(forward: dict, backward: dict, objectives: dict, srf: dict, report: Report) -> dict[str, list[str]]:
    """The union of the two published mappings; what they disagree on, or name that does not exist, is reported."""
    pairs_f = {(str(g), str(o)) for g, outs in forward.items() for o in outs}
    pairs_b = {(str(g), str(o)) for o, gcms in backward.items() for g in gcms}
    for g, o in sorted(pairs_f - pairs_b):
        report.add(Issue("mapping-one-sided", f"gcm_to_srf_outputs.json maps GCM objective {g} to SRF output {o}; "
                         "srf_outputs_to_gcm.json does not (both are kept)", "warning", source=SOURCE,
                         file="srf_outputs_to_gcm.json", column=o))
    for g, o in sorted(pairs_b - pairs_f):
        report.add(Issue("mapping-one-sided", f"srf_outputs_to_gcm.json maps SRF output {o} to GCM objective {g}; "
                         "gcm_to_srf_outputs.json does not (both are kept)", "warning", source=SOURCE,
                         file="gcm_to_srf_outputs.json", column=g))
    union: dict[str, list[str]] = {}
    for g, o in sorted(pairs_f | pairs_b, key=lambda p: (int(p[0]) if p[0].isdigit() else 99, p[1])):
        if g not in objectives:
            report.add(Issue("mapping-unknown-objective",
                             f"the mappings name GCM objective {g!r}, which does not exist", "error", source=SOURCE,
                             file="gcm_to_srf_outputs.json", column=g))
            continue
        if o not in srf or srf[o].level != "output":
            report.add(Issue("mapping-unknown-output", f"the mappings name SRF output {o!r}, which is not an output of "
                             "srf_objectives.json", "error", source=SOURCE, file="gcm_to_srf_outputs.json", column=o))
            continue
        union.setdefault(g, []).append(o)
    return union


def read_frameworks(folder: Path) -> Frameworks:
    folder = Path(folder)
    report = Report()
    objectives = parse_gcm(_read(folder / "gcms_short.md"), _read(folder / "gcms_long.md"))
    if sorted(objectives, key=int) != [str(i) for i in range(1, 24)]:
        raise SourceFileError(str(folder / "gcms_short.md"), f"holds objectives {sorted(objectives, key=int)}",
                              expected="the 23 objectives of the GCM")
    srf = parse_srf(_json(folder / "srf_objectives.json"), _json(folder / "srf_enablers.json"),
                    _json(folder / "crosscutting_priorities.json"), report)
    mapping = check_mappings(_json(folder / "gcm_to_srf_outputs.json"), _json(folder / "srf_outputs_to_gcm.json"),
                             objectives, srf, report)
    if "migation" in srf.get("3", SrfNode("3", "objective", "")).title:
        report.add(Issue("typo-as-published", "SRF objective 3's title reads 'regular migation' as published; kept",
                         "info", source=SOURCE, file="srf_objectives.json", column="3"))
    return Frameworks(objectives, srf, mapping, report)
