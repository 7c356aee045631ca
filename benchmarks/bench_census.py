"""A standard census table over 100 million synthetic person records: imdx against the limit.

The table is IMILA's core one: persons by place of birth (native, foreign), country of birth, sex
and five-year age group, weighted, with the unweighted base, with every margin. The data are
synthetic persons fitted to the UCI Adult file (``imdx census synth``), as Parquet part files in
``--dir`` (default under the system's temp folder; generated once and reused, never in the repository).

Contenders, each in its own process (so that its peak memory is its own), on the same files:

* ``imdx``: :func:`imdx.census.tabulate` on DuckDB (2 threads, memory limit 3 GB): staging check,
  one-pass cube, code mapping, margins; what ``imdx census tabulate --dry-run`` computes;
* ``duckdb``: the hand-written DuckDB query an expert would write for the same cells (a GROUP BY on
  the files, then CUBE over the small result): the limit;
* ``floor``: DuckDB's bare GROUP BY of the raw columns (no age groups, no margins: not the same cells,
  the least any engine could do);
* ``pandas``: the same with pandas (read the columns, group, margins), while ``--pandas-max-rows``
  allows;
* ``spark``: imdx on Spark local mode, with 1 and 2 cores and several input partition sizes.

Every contender's cells are compared with imdx's (records and weight units, cell by cell). Printed:
seconds (best and median of ``--rounds``), peak resident memory, the ratio raw DuckDB / imdx (the
target is >= 0.8) and the load average: the machine may be shared, so the figures are indicative.

Run: ``python benchmarks/bench_census.py [--rows 100000000] [--dir DIR] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DIMS = ["nativity", "birthplace", "sex", "age"]
RAW_SQL = """
WITH cells AS (
  SELECT nativity, birthplace, sex, least(age - age % 5, 85) AS low, count(*) AS records, sum(weight) AS weight_units
  FROM read_parquet('{glob}') GROUP BY ALL),
labelled AS (
  SELECT nativity, birthplace, sex, records, weight_units,
         CASE WHEN low IS NULL THEN '_U' WHEN low = 85 THEN 'Y_GE85' ELSE 'Y' || low || 'T' || (low + 4) END AS age
  FROM cells)
SELECT coalesce(nativity, '_T') AS nativity, coalesce(birthplace, '_T') AS birthplace, coalesce(sex, '_T') AS sex,
       coalesce(age, '_T') AS age, sum(records)::BIGINT AS records, sum(weight_units)::BIGINT AS weight_units
FROM labelled GROUP BY CUBE (nativity, birthplace, sex, age)
"""


def mirror() -> Path:
    return Path(os.environ.get("IMDX_MIRROR") or ROOT.parent / "shared" / "data")


def areas():
    from imdx.codes.build import build_areas

    return build_areas(mirror() / "m49")


def table():
    from imdx.census.tables import Table

    return Table("birthplace_sex_age", "Persons by place and country of birth, sex and five-year age group",
                 ("nativity", "birthplace", "sex", "age"))


# -- the contenders (each runs in a child process: `--worker NAME`) ---------------------------------
def run_imdx(folder: Path, out: Path, options: dict) -> None:
    from imdx.census.mapping import load_mapping
    from imdx.census.tabulate import tabulate

    a, mapping = areas(), load_mapping(str(folder / "_imdx_mapping.toml"))
    engine = options.get("engine", "duckdb")
    opts = {"threads": 2, "memory_limit": "3GB"} if engine == "duckdb" else options.get("spark", {})
    if engine == "spark":
        from imdx.census.spark_engine import SparkEngine

        start = time.perf_counter()
        runner = SparkEngine(**opts)
        options["startup"] = time.perf_counter() - start
    else:
        from imdx.census.duckdb_engine import DuckDBEngine

        runner = DuckDBEngine(**opts)
    start = time.perf_counter()
    tab = tabulate(folder, mapping, a, engine=runner, tables=[table()], min_cell=0)
    seconds = time.perf_counter() - start
    if engine == "spark":
        options["partitions"] = runner.spark.read.parquet(*tab.files.paths).rdd.getNumPartitions()
    runner.close()
    cells = tab.cells[tab.cells[["region", "citizenship", "year_of_arrival"]].eq("_T").all(axis=1)][
        DIMS + ["records", "weight_units"]]
    cells.to_parquet(out)
    report(seconds, extra=options)


def run_duckdb(folder: Path, out: Path, options: dict) -> None:
    import duckdb

    con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB"})
    start = time.perf_counter()
    cells = con.sql(RAW_SQL.format(glob=str(folder / "*.parquet"))).df()
    seconds = time.perf_counter() - start
    cells.to_parquet(out)
    report(seconds)


def run_floor(folder: Path, out: Path, options: dict) -> None:
    """The bare scan: a GROUP BY of the raw columns, no age groups, no margins (not the same cells: a floor)."""
    import duckdb

    con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB"})
    start = time.perf_counter()
    con.sql(f"SELECT nativity, birthplace, sex, age, count(*), sum(weight) FROM read_parquet('{folder / '*.parquet'}') "
            "GROUP BY ALL").fetchall()
    report(time.perf_counter() - start)


def run_pandas(folder: Path, out: Path, options: dict) -> None:
    from itertools import combinations

    import numpy as np
    import pandas as pd

    start = time.perf_counter()
    frame = pd.read_parquet(sorted(folder.glob("*.parquet")),
                            columns=["nativity", "birthplace", "sex", "age", "weight"])
    age = frame["age"].to_numpy(dtype="float64", na_value=np.nan)
    low = np.where(np.isnan(age), -1, np.minimum(age - age % 5, 85)).astype(np.int16)
    labels = {lo: (f"Y{lo}T{lo + 4}" if lo < 85 else "Y_GE85") for lo in range(0, 90, 5)} | {-1: "_U"}
    frame["age"] = pd.Categorical.from_codes(pd.Index(sorted(labels)).get_indexer(low), categories=[
        labels[k] for k in sorted(labels)])
    cells = frame.groupby(DIMS, observed=True).agg(records=("weight", "size"), weight_units=("weight", "sum"))
    cells = cells.reset_index().astype({d: str for d in DIMS})
    parts = []
    for k in range(len(DIMS) + 1):
        for kept in combinations(DIMS, k):
            summed = cells.groupby(list(kept))[["records", "weight_units"]].sum().reset_index() if kept else \
                cells[["records", "weight_units"]].sum().to_frame().T
            for d in DIMS:
                if d not in kept:
                    summed[d] = "_T"
            parts.append(summed[DIMS + ["records", "weight_units"]])
    result = pd.concat(parts, ignore_index=True)
    seconds = time.perf_counter() - start
    result.to_parquet(out)
    report(seconds)


def peak_rss_mib() -> float:
    """This process's peak resident memory. Linux keeps ru_maxrss across exec (a child would report its
    parent's size), so the peak of the process's own address space, VmHWM, is read instead."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(seconds: float, extra: dict | None = None) -> None:
    print(json.dumps({"seconds": seconds, "rss_mib": peak_rss_mib(), **(extra or {})}))


WORKERS = {"imdx": run_imdx, "duckdb": run_duckdb, "floor": run_floor, "pandas": run_pandas}


# -- the driver ----------------------------------------------------------------------------------
def child(name: str, folder: Path, out: Path, options: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--dir", str(folder), "--out", str(out),
           "--options", json.dumps(options or {})]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def same_cells(a: Path, b: Path) -> bool:
    import pandas as pd

    x = pd.read_parquet(a).astype({d: str for d in DIMS}).sort_values(DIMS).reset_index(drop=True)
    y = pd.read_parquet(b).astype({d: str for d in DIMS}).sort_values(DIMS).reset_index(drop=True)
    x[["records", "weight_units"]] = x[["records", "weight_units"]].astype("int64")
    y[["records", "weight_units"]] = y[["records", "weight_units"]].astype("int64")
    return x.shape == y.shape and x.equals(y)


def available_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


def ensure_data(folder: Path, rows: int, partitions: int) -> float:
    stamp = folder / "_rows.txt"
    if stamp.exists() and stamp.read_text().strip() == str(rows):
        return 0.0
    if folder.exists():
        shutil.rmtree(folder)
    from imdx.census.mapping import load_mapping
    from imdx.census.synthetic import fit, generate

    start = time.perf_counter()
    model = fit(mirror() / "census_microdata" / "uci_adult" / "adult.data", load_mapping("uci_adult"), areas())
    generate(model, rows, folder, partitions=partitions, seed=2024,
             progress=lambda done, total: print(f"\r  generating {done:,}/{total:,}", end="", file=sys.stderr))
    print(file=sys.stderr)
    stamp.write_text(str(rows))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="folder of the synthetic files (kept for reuse)")
    parser.add_argument("--partitions", type=int, default=None, help="Parquet part files (default: 5M rows each)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pandas-max-rows", type=int, default=None,
                        help="run pandas up to this many rows (default: while ~90 bytes a row fit in half the "
                             "memory available now; pandas took 8.2 GB for 100 million rows)")
    parser.add_argument("--spark", default="2:default,2:64m,2:16m,1:default",
                        help="Spark runs as cores:maxPartitionBytes, comma-separated ('' for none)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        WORKERS[args.worker](args.dir, args.out, json.loads(args.options))
        return
    folder = args.dir or Path(tempfile.gettempdir()) / f"imdx-census-bench-{args.rows}"
    made = ensure_data(folder, args.rows, args.partitions or max(1, args.rows // 5_000_000))
    size = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    parts = len(list(folder.glob("*.parquet")))
    print(f"{args.rows:,} synthetic persons in {parts} Parquet files, {size / 2**20:,.0f} MiB"
          + (f" (generated in {made:.1f} s)" if made else " (reused)") + f"; load average {os.getloadavg()[0]:.1f}")
    results = Path(tempfile.mkdtemp(prefix="imdx-census-bench-results-"))
    try:
        compare(args, folder, results)
    finally:
        shutil.rmtree(results, ignore_errors=True)


def compare(args, folder: Path, results: Path) -> None:
    times: dict[str, list[float]] = {}
    memory: dict[str, float] = {}
    pandas_rows = args.pandas_max_rows if args.pandas_max_rows is not None else available_bytes() // 2 // 90
    names = ["imdx", "duckdb", "floor"] + (["pandas"] if args.rows <= pandas_rows else [])
    if "pandas" not in names:
        print(f"  pandas left out: {args.rows:,} rows need about {args.rows * 90 / 2**30:.1f} GiB, more than half the "
              "memory available now (--pandas-max-rows overrides)")
    for round_ in range(args.rounds):
        for name in names:
            if name == "pandas" and round_ > 0:
                continue  # one pandas run: it is not close
            got = child(name, folder, results / f"{name}.parquet")
            times.setdefault(name, []).append(got["seconds"])
            memory[name] = max(memory.get(name, 0.0), got["rss_mib"])
            print(f"  round {round_ + 1}: {name:7s} {got['seconds']:7.2f} s, peak memory {got['rss_mib']:7.0f} MiB")
    equal = {name: same_cells(results / "imdx.parquet", results / f"{name}.parquet")
             for name in names if name not in ("imdx", "floor")}
    spark_rows = []
    for spec in filter(None, args.spark.split(",")):
        cores, part = spec.split(":")
        conf = {} if part == "default" else {"spark.sql.files.maxPartitionBytes": part}
        got = child("imdx", folder, results / f"spark-{cores}-{part}.parquet",
                    {"engine": "spark", "spark": {"master": f"local[{cores}]", "shuffle_partitions": 8,
                                                  "driver_memory": "2g", "conf": conf}})
        ok = same_cells(results / "imdx.parquet", results / f"spark-{cores}-{part}.parquet")
        spark_rows.append((cores, part, got, ok))
        print(f"  spark local[{cores}], maxPartitionBytes {part}: {got['partitions']} input partitions, "
              f"{got['seconds']:.1f} s (+{got['startup']:.1f} s to start), "
              f"Python driver peak {got['rss_mib']:.0f} MiB, "
              f"cells equal to DuckDB's: {ok}")
    print(f"\nStandard table (nativity x country of birth x sex x five-year age, weighted + base, all margins) over "
          f"{args.rows:,} persons; load average now {os.getloadavg()[0]:.1f} (2-core machine, shared)")
    print(f"{'contender':28s} {'best s':>8s} {'median s':>9s} {'peak MiB':>9s}  same cells as imdx")
    for name in names:
        label = {"imdx": "imdx (DuckDB engine)", "duckdb": "hand-written DuckDB", "floor": "DuckDB bare GROUP BY",
                 "pandas": "pandas"}[name]
        same = {"imdx": "-", "floor": "(raw groups, no margins)"}.get(name) or equal[name]
        print(f"{label:28s} {min(times[name]):8.2f} {statistics.median(times[name]):9.2f} {memory[name]:9.0f}  {same}")
    for cores, part, got, ok in spark_rows:
        print(f"{'imdx (Spark local[' + cores + '], ' + part + ')':28s} {got['seconds']:8.2f} {'':9s} "
              f"{got['rss_mib']:9.0f}  {ok}   ({got['partitions']} partitions; JVM start {got['startup']:.1f} s)")
    ratio = min(times["duckdb"]) / min(times["imdx"])
    print(f"\nimdx runs at {ratio:.2f}x the speed of the hand-written DuckDB query (target >= 0.8); imdx peak memory "
          f"{memory['imdx']:.0f} MiB (target < 4096)")
    if not all(equal.values()) or not all(ok for *_, ok in spark_rows):
        raise SystemExit("some contender's cells differ from imdx's")


if __name__ == "__main__":
    main()
