"""Loading: fetch → read → harmonise → check → store, one release at a time, each all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from imdx import checks
from imdx.codes.areas import Areas
from imdx.codes.build import build_areas
from imdx.config import Settings
from imdx.errors import ImdxError
from imdx.model.report import Issue, Report
from imdx.sources import registry
from imdx.sources.base import LoadContext, ReleaseSpec, finish
from imdx.sources.fetch import fetch_release
from imdx.store.base import ReleaseRecord, Store


@dataclass
class ReleaseOutcome:
    source: str
    key: str
    edition: str
    status: str  # "loaded", "unchanged", "failed"
    n_obs: int = 0
    release_id: int | None = None
    error: str | None = None
    report: Report = field(default_factory=Report)


@dataclass
class LoadSummary:
    outcomes: list[ReleaseOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[ReleaseOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def report(self) -> Report:
        return Report([i for o in self.outcomes for i in o.report])


Progress = Callable[[str, ReleaseSpec], None]


def load(store: Store, settings: Settings, sources: list[str] | None = None,
         progress: Progress | None = None) -> LoadSummary:
    """Load the named sources (all when None) into ``store``; one failing release does not stop the others."""
    known = registry()
    names = sources or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ImdxError(f"unknown source(s) {', '.join(unknown)}; known sources: {', '.join(known)}")
    specs = [spec for name in ["m49"] + [n for n in names if n != "m49"] for spec in known[name].releases]
    summary = LoadSummary()
    areas: Areas | None = None
    for spec in specs:
        if progress:
            progress("start", spec)
        try:
            paths, files = fetch_release(spec, mirror=settings.mirror, cache=settings.cache)
            if areas is None:
                m49_paths = paths if spec.source == "m49" else fetch_release(
                    known["m49"].releases[0], mirror=settings.mirror, cache=settings.cache)[0]
                areas = build_areas(Path(next(iter(m49_paths.values()))).parent)
            outcome = load_release(store, spec, paths, files, areas)
        except ImdxError as err:
            outcome = ReleaseOutcome(spec.source, spec.key, spec.edition, "failed", error=str(err))
        except Exception as err:  # noqa: BLE001 -- a bug: say so, keep loading the other releases
            outcome = ReleaseOutcome(spec.source, spec.key, spec.edition, "failed",
                                     error=f"unexpected {type(err).__name__}: {err} (a bug in imdx: please report it "
                                           f"with this message; the store was left unchanged)")
        summary.outcomes.append(outcome)
        if progress:
            progress(outcome.status, spec)
    return summary


def load_release(store: Store, spec: ReleaseSpec, paths, files, areas: Areas) -> ReleaseOutcome:
    record = ReleaseRecord(source=spec.source, key=spec.key, title=spec.title, edition=spec.edition,
                           published=spec.published, licence=spec.licence, files=files)
    if store.has_release(record):
        return ReleaseOutcome(spec.source, spec.key, spec.edition, "unchanged")
    report = Report()
    for f, declared in zip(files, spec.files):
        if declared.sha256 and f.sha256 != declared.sha256:
            report.add(Issue("file-changed", f"the bytes differ from the published file known to imdx "
                             f"(sha256 {declared.sha256[:12]}…, now {f.sha256[:12]}…); loaded as a new vintage",
                             severity="info", source=spec.source, file=f.name))
    ctx = LoadContext(areas=areas, report=report, source=spec.source)
    tables = spec.build(paths, ctx)
    observations = {flow: finish(flow, frame) for flow, frame in tables.items()}
    for flow, frame in observations.items():
        report.extend(checks.run(flow, frame, areas, source=spec.source, store=store))
    release_id = store.write_release(record, observations, report, areas)
    return ReleaseOutcome(spec.source, spec.key, spec.edition, "loaded",
                          n_obs=sum(len(f) for f in observations.values()), release_id=release_id, report=report)
