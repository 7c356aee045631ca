"""Loading: fetch → read → harmonise → check → store, one release at a time, each all or nothing.

The store is written through :func:`imdx.ingest.ingest` (the one door for data); here the releases
are prepared (finished and checked, :func:`prepare`) before they reach it.

The loading process fetches every release first and builds the areas. Reading, harmonising and
checking a release (:func:`prepare`) needs nothing but its files and a copy of the areas, so up to
``settings.workers`` processes do it at the same time, the biggest releases first; the loading
process writes the prepared releases into the store one at a time, in the sources' order, as they
come back. With one worker everything happens in the loading process.

The sources' order matters only for the areas: the first release to register an area's name, an
alias or an income group wins. A prepared release that registers nothing another source could (it
adds no area and no income group, only aliases of its source's ``own_alias_systems``) is written as
soon as it is ready, ahead of other sources' releases still being prepared: the store ends the same.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Self

import pandas as pd

from imdx import checks, limits
from imdx.codes.areas import AreaChanges, Areas
from imdx.codes.build import build_areas
from imdx.config import Settings
from imdx.errors import ImdxError
from imdx.ingest import ingest
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


@dataclass
class Prepared:
    """A release read, harmonised and checked, ready to be written."""

    observations: dict[str, pd.DataFrame]
    report: Report
    areas: AreaChanges | None = None  # what the build added to its own copy of the areas
    notes: dict[str, str] = field(default_factory=dict)  # the release's footnotes as published


#: ``progress(event, spec)``: "fetch" when a release's files are being fetched, "start" when its turn to be
#: written has come, then its outcome's status ("loaded", "unchanged" or "failed")
Progress = Callable[[str, ReleaseSpec], None]


def load(store: Store, settings: Settings, sources: list[str] | None = None,
         progress: Progress | None = None) -> LoadSummary:
    """Load the named sources (all when None) into ``store``; one failing release does not stop the others.
    The readers keep to ``settings.limits``, ``max_memory`` shared by this process and its workers."""
    with limits.using(settings.limits.shared_by(settings.workers + 1 if settings.workers > 1 else 1)):
        return _load(store, settings, sources, progress)


def _load(store: Store, settings: Settings, sources: list[str] | None, progress: Progress | None) -> LoadSummary:
    known = registry()
    names = sources or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ImdxError(f"unknown source(s) {', '.join(unknown)}; known sources: {', '.join(known)}")
    specs = [spec for name in ["m49"] + [n for n in names if n != "m49"] for spec in known[name].releases]
    summary = LoadSummary()
    areas: Areas | None = None
    work: list[tuple[ReleaseSpec, ReleaseRecord | ReleaseOutcome, dict[str, Path]]] = []
    for spec in specs:
        if progress:
            progress("fetch", spec)
        try:
            paths, files = fetch_release(spec, mirror=settings.mirror, cache=settings.cache)
            if areas is None:
                m49_paths = paths if spec.source == "m49" else fetch_release(
                    known["m49"].releases[0], mirror=settings.mirror, cache=settings.cache)[0]
                areas = build_areas(Path(next(iter(m49_paths.values()))).parent)
            record = ReleaseRecord(source=spec.source, key=spec.key, title=spec.title, edition=spec.edition,
                                   published=spec.published, licence=spec.licence, files=files)
            work.append((spec, _outcome(spec, "unchanged") if store.has_release(record) else record, paths))
        except Exception as err:  # noqa: BLE001 -- reported as the release's failure
            work.append((spec, _failure(spec, err), {}))
    if areas is None:  # not even the areas could be fetched: every release failed
        summary.outcomes = [job for _, job, _ in work if isinstance(job, ReleaseOutcome)]
        return summary
    todo = [(spec, job, paths) for spec, job, paths in work if isinstance(job, ReleaseRecord)]
    owners = {system: name for name, source in known.items() for system in source.own_alias_systems}
    outcomes: dict[int, ReleaseOutcome] = {}
    with _Preparer(settings.workers, len(todo), areas) as preparer, _sharing_cpus(store):
        longest = sorted(todo, key=lambda t: -_work(t[2]))[:preparer.workers]
        for spec, record, paths in longest + [t for t in todo if t not in longest]:
            preparer.submit(spec, paths, record.files)  # the longest first, they set the pace; then in write order
        waiting = list(range(len(work)))  # in the sources' order: the first to register an area's name or group wins
        while waiting:
            i = _next_to_write(work, waiting, preparer, owners, areas)
            if i is None:  # the next in order is still being prepared, and nothing may overtake it yet
                preparer.wait()
                continue
            waiting.remove(i)
            spec, job, _ = work[i]
            if progress:
                progress("start", spec)
            if isinstance(job, ReleaseRecord):
                try:
                    prepared = preparer.result(spec)
                    _check_owners(spec, prepared, owners)
                    store.share_cpus(preparer.busy)  # all the CPUs for the last writes, when the workers are done
                    job = write_release(store, spec, job, prepared, areas)
                except Exception as err:  # noqa: BLE001 -- reported as the release's failure
                    job = _failure(spec, err)
            outcomes[i] = job
            if progress:
                progress(job.status, spec)
    summary.outcomes = [outcomes[i] for i in range(len(work))]
    return summary


def _next_to_write(work, waiting: list[int], preparer: _Preparer, owners: dict[str, str], areas: Areas) -> int | None:
    """The release to write now: of the prepared ones that may be written now (the next in the sources'
    order, and those that may overtake it: :func:`_independent`, and the first of their source still
    waiting), the one with the most observations (what follows it is written while the store indexes it);
    else the next in order again, to be prepared here if no worker has started it, or None: wait for a
    worker."""
    spec, job, _ = work[waiting[0]]
    if not isinstance(job, ReleaseRecord):
        return waiting[0]
    head = preparer.ready(spec)
    ready = [] if head is None else [(_size(head), 0, waiting[0])]
    for n, i in enumerate(waiting[1:], start=1):
        spec, job, _ = work[i]
        if isinstance(job, ReleaseRecord) and all(work[k][0].source != spec.source for k in waiting[:n]):
            prepared = preparer.ready(spec)
            if prepared is not None and _independent(spec, prepared, owners, areas):
                ready.append((_size(prepared), -n, i))
    if ready:
        return max(ready)[2]  # the largest; of equals, the first in order
    return None if preparer.running(work[waiting[0]][0]) else waiting[0]


def _size(prepared: Prepared) -> int:
    return sum(len(frame) for frame in prepared.observations.values())


def _independent(spec: ReleaseSpec, prepared: Prepared, owners: dict[str, str], areas: Areas) -> bool:
    """Whether writing the release before other sources' releases stores what the sources' order would:
    it adds no area and no income group, only aliases of systems its own source alone registers."""
    changes = prepared.areas
    if changes is None or len(changes.areas) or any(owners.get(system) != spec.source
                                                     for _, system, _ in changes.aliases):
        return False
    income = changes.wb_income
    return bool((areas.frame["wb_income"].reindex(income.index) == income).all())


def _check_owners(spec: ReleaseSpec, prepared: Prepared, owners: dict[str, str]) -> None:
    """Refuse a release that registers aliases of a system another source owns (a bug in imdx): it would
    break what :func:`_independent` relies on."""
    changes = prepared.areas
    for _, system, _ in changes.aliases if changes is not None else ():
        if owners.get(system, spec.source) != spec.source:
            raise ImdxError(f"{spec.source} {spec.key} registers aliases of the system {system!r}, which only "
                            f"the source {owners[system]} may register (its own_alias_systems); a bug in imdx: "
                            "please report it with this message. Nothing of this release was stored.")


def load_release(store: Store, spec: ReleaseSpec, paths, files, areas: Areas) -> ReleaseOutcome:
    """Prepare and write one release here, in this process."""
    record = ReleaseRecord(source=spec.source, key=spec.key, title=spec.title, edition=spec.edition,
                           published=spec.published, licence=spec.licence, files=files)
    if store.has_release(record):
        return _outcome(spec, "unchanged")
    return write_release(store, spec, record, prepare(spec, paths, files, areas), areas)


def prepare(spec: ReleaseSpec, paths: dict[str, Path], files, areas: Areas) -> Prepared:
    """Read, harmonise and check one release (``areas`` learn the source's names and codes)."""
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
        report.extend(checks.run(flow, frame, areas, source=spec.source))
    return Prepared(observations, report, notes=dict(ctx.notes))


def write_release(store: Store, spec: ReleaseSpec, record: ReleaseRecord, prepared: Prepared,
                  areas: Areas) -> ReleaseOutcome:
    if prepared.areas is not None:
        areas.apply(prepared.areas)
    if prepared.notes:
        record = replace(record, notes=prepared.notes)
    release_id = ingest(store, record, prepared.observations, report=prepared.report, areas=areas, checked=True)
    return ReleaseOutcome(spec.source, spec.key, spec.edition, "loaded",
                          n_obs=sum(len(f) for f in prepared.observations.values()), release_id=release_id,
                          report=prepared.report)


def _outcome(spec: ReleaseSpec, status: str, error: str | None = None) -> ReleaseOutcome:
    return ReleaseOutcome(spec.source, spec.key, spec.edition, status, error=error)


def _failure(spec: ReleaseSpec, err: Exception) -> ReleaseOutcome:
    files = ", ".join(f.name for f in spec.files)
    if isinstance(err, ImdxError):
        return _outcome(spec, "failed", str(err))
    if isinstance(err, MemoryError):
        now = limits.current()
        more = f"{-(-now.max_memory * 2 // limits.GiB)}G"
        return _outcome(spec, "failed", f"reading {files} took more memory than this process's share of the limit "
                        f"max_memory ({limits.size(now.per_process)} of {limits.size(now.max_memory)} for the whole "
                        f"load); if the files are genuine, raise it (IMDX_MAX_MEMORY={more}, or `imdx load --limit "
                        f"max_memory={more}`) or load with fewer workers (IMDX_WORKERS). Nothing of this release "
                        "was stored.")
    if isinstance(err, BrokenProcessPool):
        return _outcome(spec, "failed", f"the process preparing this release ({files}) stopped (out of memory?); "
                        "nothing of it was stored. Load again with IMDX_WORKERS=1 to see the error here.")
    message = str(err)[:500] + ("…" if len(str(err)) > 500 else "")
    return _outcome(spec, "failed", f"unexpected {type(err).__name__} while reading {files}: {message} (a bug in "
                    "imdx: please report it with this message; the store was left unchanged)")


@contextmanager
def _sharing_cpus(store: Store):
    """While the load lasts the store is told how many CPUs the workers take (it may use fewer threads)."""
    try:
        yield
    finally:
        store.share_cpus(0)


#: how many times its size a file's work counts: R data is compressed (bzip2, ~30×) and read whole, where
#: a workbook's unused sheets are skipped
_WORK_PER_BYTE = {".rda": 10, ".rds": 10}


def _work(paths: dict[str, Path]) -> int:
    """A release's expected work in preparing, to start the longest first."""
    return sum(Path(p).stat().st_size * _WORK_PER_BYTE.get(Path(p).suffix.lower(), 1) for p in paths.values())


#: Linux forks the workers: they start at once, and a script that loads need not guard its top level
#: with ``if __name__ == "__main__"``. A worker touches nothing of the store's. Elsewhere they are spawned.
_CONTEXT = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


class _Preparer:
    """Prepares releases in worker processes (or here, with one worker or one release).

    Each worker is given one release at a time, the next one in the order they were queued as soon as it
    is free, so a release no worker has started yet is still here, and the loading process prepares it
    itself rather than wait.

    Wherever it runs, a release is prepared on its own copy of the areas as they were before the load
    (what it adds comes back as :class:`AreaChanges`, applied when the release is written: in the sources'
    order, unless :func:`_independent`), so the store is the same whichever process prepared what."""

    def __init__(self, workers: int, n_releases: int, areas: Areas | None):
        self.areas = areas.copy() if areas is not None else None
        self.workers, self.pool = min(workers, n_releases), None
        if self.workers > 1:  # each worker receives the areas once (forked: without copying)
            self.pool = ProcessPoolExecutor(self.workers, mp_context=_CONTEXT, initializer=_start_worker,
                                            initargs=(self.areas, os.getpid(), limits.current()))
        self.lock = threading.Lock()
        #: releases no worker has started: spec, paths, files
        self.queued: dict[tuple[str, str], tuple[ReleaseSpec, dict[str, Path], list]] = {}
        self.futures: dict[tuple[str, str], Future] = {}  # releases given to a worker
        self.busy = 0  # workers preparing a release
        self.closed = False

    def submit(self, spec: ReleaseSpec, paths: dict[str, Path], files) -> None:
        with self.lock:
            self.queued[(spec.source, spec.key)] = (spec, paths, files)
        self._give()

    def _give(self, done: Future | None = None) -> None:
        """Give queued releases to the free workers (called again whenever a worker finishes one)."""
        given = []
        with self.lock:
            self.busy -= done is not None
            while self.pool is not None and not self.closed and self.queued and self.busy < self.workers:
                key, (spec, paths, files) = next(iter(self.queued.items()))
                del self.queued[key]
                self.busy += 1
                self.futures[key] = self.pool.submit(_prepare_elsewhere, spec.source, spec.key, paths, files)
                given.append(self.futures[key])
        for future in given:  # outside the lock: a future already done calls back at once
            future.add_done_callback(self._give)

    def running(self, spec: ReleaseSpec) -> bool:
        """Whether a worker is preparing the release now."""
        with self.lock:
            future = self.futures.get((spec.source, spec.key))
        return future is not None and not future.done()

    def ready(self, spec: ReleaseSpec) -> Prepared | None:
        """The release a worker has prepared, without waiting; None while it is not (or failed)."""
        with self.lock:
            future = self.futures.get((spec.source, spec.key))
        if future is None or not future.done() or future.exception() is not None:
            return None
        return future.result()

    def wait(self) -> None:
        """Until one more worker finishes a release."""
        with self.lock:
            running = [f for f in self.futures.values() if not f.done()]
        wait(running, return_when=FIRST_COMPLETED)

    def result(self, spec: ReleaseSpec) -> Prepared:
        """The prepared release; one that no worker has started yet is prepared here rather than waited for."""
        key = (spec.source, spec.key)
        with self.lock:
            inputs, future = self.queued.pop(key, None), self.futures.pop(key, None)
        if future is not None:
            return future.result()
        if inputs is None or self.areas is None:
            raise ImdxError(f"{spec.source} {spec.key} was never queued to be prepared: a bug in imdx")
        return _prepare_apart(*inputs, self.areas.copy())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        with self.lock:
            self.closed = True
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _prepare_apart(spec: ReleaseSpec, paths, files, areas: Areas) -> Prepared:
    """:func:`prepare` on a copy of the areas, with what it added to them."""
    start = areas.revision
    prepared = prepare(spec, paths, files, areas)
    prepared.areas = areas.changes_since(start)
    return prepared


_BASE_AREAS: Areas | None = None  # in a worker process: the areas as they were before the load


def _start_worker(areas: Areas | None, parent: int, limits_in_force: limits.Limits) -> None:
    """Keep the areas as they were before the load and the limits, cap this process's memory at its share
    of ``max_memory`` (past it an allocation fails with MemoryError, which fails the release only), and
    end with the loading process, even one killed with SIGKILL (else the worker would wait for work
    forever, holding its memory)."""
    global _BASE_AREAS
    _BASE_AREAS = areas
    limits.activate(limits_in_force)
    limits.cap_memory(limits_in_force.per_process)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the kernel ends us with the parent
    else:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the loading process ended before we could ask
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _prepare_elsewhere(source: str, key: str, paths, files) -> Prepared:
    """:func:`prepare` in a worker process, on a copy of the areas it received: the release is found by
    name, as its ``build`` may be a closure, which cannot be sent."""
    if _BASE_AREAS is None:
        raise ImdxError("a worker process started without the areas: a bug in imdx")
    areas = _BASE_AREAS.copy()
    return _prepare_apart(next(s for s in registry()[source].releases if s.key == key), paths, files, areas)
