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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--mirror", default=os.environ.get("IMDX_MIRROR") or
                        str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args()
    mirror = Path(args.mirror)
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
