"""Benchmark: imdx's whole load against plain pandas reading the same files.

In one run, on the files of every source's releases in the mirror (IMDX_MIRROR, default
../shared/data):

* baseline ``pandas``: ``pd.read_excel(sheet_name=None)`` (pandas' default engine, openpyxl),
  ``pd.read_csv`` / tab-separated ``read_csv``, and ``pyreadr.read_r`` for .rda/.rds: parsing only,
  nothing harmonised, checked or stored;
* baseline ``pandas+calamine``: the same with ``engine="calamine"`` (the fastest pandas reader);
* ``imdx``: ``imdx load`` into a new DuckDB file: parse, harmonise, check and store, in transactions,
  with ``IMDX_WORKERS`` worker processes (default: one per CPU), and in one process for comparison.

Prints each time (best of ``--repeat``), and the ratio imdx / baseline. Target: ratio <= 1 against
plain pandas.
"""

from __future__ import annotations

import argparse
import os
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
        pd.read_csv(path)


def time_baseline(paths: list[Path], engine: str | None) -> float:
    start = time.perf_counter()
    for path in paths:
        read_plain(path, engine)
    return time.perf_counter() - start


def time_imdx(mirror: Path, workers: int | None = None) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        start = time.perf_counter()
        with DuckDBStore(db) as store:
            summary = load(store, settings(mirror=str(mirror), db=str(db), workers=workers))
        elapsed = time.perf_counter() - start
    if summary.failed:
        raise SystemExit(f"load failed: {[(o.key, o.error) for o in summary.failed]}")
    return elapsed, sum(o.n_obs for o in summary.outcomes)


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
    plain = min(time_baseline(paths, None) for _ in range(args.repeat))
    calamine = min(time_baseline(paths, "calamine") for _ in range(args.repeat))
    runs = [time_imdx(mirror) for _ in range(args.repeat)]
    ours, n_obs = min(r[0] for r in runs), runs[0][1]
    single = min(time_imdx(mirror, workers=1)[0] for _ in range(args.repeat))
    workers = settings(mirror=str(mirror)).workers
    print(f"{'pandas (read only, default engines)':<44}{plain:8.2f} s")
    print(f"{'pandas + calamine (read only)':<44}{calamine:8.2f} s")
    print(f"{'imdx load, one process':<44}{single:8.2f} s")
    print(f"{f'imdx load, {workers} worker processes':<44}{ours:8.2f} s   {n_obs:,} observations parsed, "
          "harmonised, checked and stored")
    print(f"ratio imdx / pandas           = {ours / plain:.2f}  (target <= 1.00)")
    print(f"ratio imdx / pandas+calamine  = {ours / calamine:.2f}")


if __name__ == "__main__":
    main()
