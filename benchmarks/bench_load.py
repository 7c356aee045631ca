"""Benchmark: imdx's whole load against plain pandas reading the same files.

In one run, on the files of every source's releases in the mirror (IMDX_MIRROR, default
../shared/data; the UN DESA 2024 and by-age files, UN DESA flows, OECD IMO, GLOTIP, IOM gdidata and RPW
included, each decoded as published):

* baseline ``pandas``: ``pd.read_excel(sheet_name=None)`` (pandas' default engine, openpyxl),
  ``pd.read_csv`` / tab-separated ``read_csv``, and ``pyreadr.read_r`` for .rda/.rds: parsing only,
  nothing harmonised, checked or stored;
* baseline ``pandas+calamine``: the same with ``engine="calamine"`` (the fastest pandas reader);
* ``imdx``: ``imdx load`` into a new DuckDB file: parse, harmonise, check and store, in transactions,
  with ``IMDX_WORKERS`` worker processes (default: one per CPU), and in one process for comparison.

``--by-source`` instead loads once in one process and prints, per source, the CPU seconds of reading and
harmonising (the source's build), of ``finish`` (the model's column order and types), of the checks and of
the store's write, beside the CPU seconds pandas takes to read that source's files: where the load's cost
is, against the baseline, source by source (``--profile DIR`` also writes a cProfile of each source's
build to DIR/<source>.pstats, timed in CPU seconds).

The contenders run in rounds (pandas, imdx, calamine, imdx in one process; ``--repeat`` rounds), so
that a busy spell of a shared machine hits them alike. Prints each best time, the ratio imdx / baseline
of the best times and of each round. Target: ratio <= 1 against plain pandas.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyreadr

from imdx.config import settings
from imdx.load import load
from imdx.sources import registry
from imdx.store.duckdb_store import DuckDBStore


def files(mirror: Path) -> list[Path]:
    seen = []
    for source in registry().values():
        for spec in source.releases:
            for f in spec.files:
                path = mirror / spec.mirror_folder / f.name
                if path not in seen:
                    seen.append(path)
    return seen


#: files that are not UTF-8 (read as published: the baseline must decode them too)
ENCODINGS = {"UN_MigrantStockByAge_2015.csv": "cp1252", "UN_MigrantStockByAge_2017.csv": "latin-1"}
#: CSVs whose first line is a title, not a header
NO_HEADER = {"UN_MigrantStockByAge_2015.csv"}


def read_plain(path: Path, engine: str | None) -> None:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        pd.read_excel(path, sheet_name=None, header=None, engine=engine or "openpyxl")
    elif suffix in (".rda", ".rds"):
        pyreadr.read_r(str(path))
    elif suffix == ".txt":
        pd.read_csv(path, sep="\t")
    elif path.name.startswith("API_"):
        pd.read_csv(path, skiprows=4)
    else:
        pd.read_csv(path, encoding=ENCODINGS.get(path.name, "utf-8"),
                    header=None if path.name in NO_HEADER else "infer")


def cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads) and of its finished child processes (the
    load's workers): on a shared machine, what a contender cost, whatever the others were doing."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_baseline(paths: list[Path], engine: str | None) -> tuple[float, float]:
    start, cpu = time.perf_counter(), cpu_seconds()
    for path in paths:
        read_plain(path, engine)
    return time.perf_counter() - start, cpu_seconds() - cpu


def time_imdx(mirror: Path, workers: int | None = None) -> tuple[float, int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        start, cpu = time.perf_counter(), cpu_seconds()
        with DuckDBStore(db) as store:
            summary = load(store, settings(mirror=str(mirror), db=str(db), workers=workers))
        elapsed, used = time.perf_counter() - start, cpu_seconds() - cpu
    if summary.failed:
        raise SystemExit(f"load failed: {[(o.key, o.error) for o in summary.failed]}")
    return elapsed, sum(o.n_obs for o in summary.outcomes), used


def by_source(mirror: Path, profile: Path | None = None) -> None:
    """One load in one process, its CPU seconds split per source and step, beside pandas reading that source's
    files (each file counted once, in the first source that reads it)."""
    import collections
    import cProfile
    import dataclasses

    import imdx.load as loading
    from imdx import checks

    spent: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    current = {"source": ""}

    def timed(function, step):
        def run(*args, **kw):
            start = cpu_seconds()
            try:
                return function(*args, **kw)
            finally:
                spent[current["source"]][step] += cpu_seconds() - start
        return run

    prepare, build_profiles = loading.prepare, {}

    def prepare_timed(spec, *args, **kw):
        current["source"] = spec.source
        build = spec.build
        if profile is not None:
            profiler = build_profiles.setdefault(spec.source, cProfile.Profile(time.process_time))
            spec = dataclasses.replace(spec, build=lambda *a, **k: profiler.runcall(build, *a, **k))
        start = cpu_seconds()
        try:
            return prepare(spec, *args, **kw)
        finally:
            spent[current["source"]]["prepare"] += cpu_seconds() - start

    originals = (loading.prepare, loading.finish, checks.run, loading.ingest)
    loading.prepare, loading.finish = prepare_timed, timed(loading.finish, "finish")
    checks.run, loading.ingest = timed(checks.run, "checks"), timed(loading.ingest, "write")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.duckdb"
            start = cpu_seconds()
            with DuckDBStore(db) as store:
                summary = load(store, settings(mirror=str(mirror), db=str(db), workers=1))
            total = cpu_seconds() - start
    finally:
        loading.prepare, loading.finish, checks.run, loading.ingest = originals
    if summary.failed:
        raise SystemExit(f"load failed: {[(o.key, o.error) for o in summary.failed]}")
    seen: set[Path] = set()
    print(f"{'source':<14}{'read+harmonise':>15}{'finish':>8}{'checks':>8}{'write':>8}{'imdx':>8}{'pandas':>8}")
    sums = collections.Counter()
    for name, source in registry().items():
        paths = [mirror / spec.mirror_folder / f.name for spec in source.releases for f in spec.files]
        paths = [p for p in dict.fromkeys(paths) if p not in seen]
        seen.update(paths)
        plain = time_baseline(paths, None)[1]
        c = spent.get(name, collections.Counter())
        build = c["prepare"] - c["finish"] - c["checks"]
        row = {"build": build, "finish": c["finish"], "checks": c["checks"], "write": c["write"],
               "imdx": c["prepare"] + c["write"], "pandas": plain}
        sums.update(row)
        print(f"{name:<14}" + "".join(f"{row[k]:{15 if k == 'build' else 8}.2f}" for k in row))
    print(f"{'all':<14}" + "".join(f"{sums[k]:{15 if k == 'build' else 8}.2f}" for k in
                                  ("build", "finish", "checks", "write", "imdx", "pandas")))
    print(f"whole load, CPU seconds: {total:.1f} (the rest: opening the store, the areas, fetching and hashing the "
          f"files); ratio to pandas {total / sums['pandas']:.2f}")
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        for name, profiler in build_profiles.items():
            profiler.dump_stats(profile / f"{name}.pstats")
        print(f"profiles of each source's build: {profile}/<source>.pstats (python -m pstats)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--mirror", default=os.environ.get("IMDX_MIRROR") or
                        str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--by-source", action="store_true", help="one load, its CPU split per source and step")
    parser.add_argument("--profile", type=Path, help="with --by-source: write a cProfile of each source's build here")
    args = parser.parse_args()
    mirror = Path(args.mirror)
    if args.by_source:
        by_source(mirror, args.profile)
        return
    paths = files(mirror)
    size = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{len(paths)} files, {size:.1f} MB, from {mirror}")
    workers = settings(mirror=str(mirror)).workers
    runs, cpu = [], []  # one round of every contender at a time, so that a busy spell hits them alike
    for _ in range(args.repeat):
        plain, plain_cpu = time_baseline(paths, None)
        ours, n_obs, ours_cpu = time_imdx(mirror)
        calamine, calamine_cpu = time_baseline(paths, "calamine")
        single, _, single_cpu = time_imdx(mirror, workers=1)
        runs.append((plain, ours, calamine, single))
        cpu.append((plain_cpu, ours_cpu, calamine_cpu, single_cpu))
    plain, ours, calamine, single = (min(r[i] for r in runs) for i in range(4))
    plain_cpu, ours_cpu, calamine_cpu, single_cpu = (min(r[i] for r in cpu) for i in range(4))
    paired = sorted(r[1] / r[0] for r in runs)
    print(f"{'pandas (read only, default engines)':<44}{plain:8.2f} s")
    print(f"{'pandas + calamine (read only)':<44}{calamine:8.2f} s")
    print(f"{'imdx load, one process':<44}{single:8.2f} s")
    print(f"{f'imdx load, {workers} worker processes':<44}{ours:8.2f} s   {n_obs:,} observations parsed, "
          "harmonised, checked and stored")
    print(f"ratio imdx / pandas           = {ours / plain:.2f}  (target <= 1.00; best time against best time)")
    print(f"  round by round              = {', '.join(f'{r:.2f}' for r in paired)}  "
          f"(median {paired[len(paired) // 2]:.2f})")
    print(f"ratio imdx / pandas+calamine  = {ours / calamine:.2f}")
    print(f"CPU seconds (best round): pandas {plain_cpu:.1f}, pandas+calamine {calamine_cpu:.1f}, imdx one process "
          f"{single_cpu:.1f}, imdx {workers} workers {ours_cpu:.1f}; ratio imdx one process / pandas = "
          f"{single_cpu / plain_cpu:.2f} (what each cost, however busy the machine)")


if __name__ == "__main__":
    main()
