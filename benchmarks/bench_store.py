"""The two store backends side by side: a whole load and the API benchmark's query mix, DuckDB against
PostgreSQL, in one run.

For each backend, in rounds (DuckDB, PostgreSQL, DuckDB, ...; ``--repeat``) so that a busy spell of a
shared machine hits both alike:

* the load: ``imdx load`` of every source of the mirror (IMDX_MIRROR, default ../shared/data) into a new
  DuckDB file / a new PostgreSQL database, with the default worker processes;
* the query mix of ``bench_api.py``: (a) one country's migrant stock by origin for one year, as JSON,
  (b) a 10,000-row CSV, with ``--clients`` concurrent keep-alive clients, served twice by ``imdx serve
  --cache-mb 0`` (every request computed and encoded): "from the store" with ``--current-mb 0`` (every
  request queries the store, so the store is what is timed), and "as served" with the default
  ``--current-mb 512`` (current values answered from the copy each worker keeps in memory).

Prints each figure and the ratio PostgreSQL / DuckDB. Targets: the load within 2x of DuckDB's, the API
answers as imdx serve gives them (requests/s) within 1.5x; "from the store" shows the store alone (what a
query by edition or date costs, or one of a dataflow past the memory budget), with no target. With the
server started for the run, also the CPU seconds each load took (the loading process, its workers and, for
PostgreSQL, the server's processes): on a shared machine the wall times depend on what else runs, the CPU
seconds much less.

    python benchmarks/bench_store.py [--pg postgresql://...] [--repeat 2] [--duration 10] [--clients 16]

Without ``--pg`` (or IMDX_TEST_PG) a throwaway PostgreSQL server is started for the run (tests/pgserver.py),
with the settings docs/deploy.md suggests for a shared server (durable: fsync and synchronous commits on, as
DuckDB's commits are); the settings of the server used are printed.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_api import TABLE, free_port, run_load, stop, wait_up  # noqa: E402

from imdx.config import settings  # noqa: E402
from imdx.load import load  # noqa: E402
from imdx.store import connect  # noqa: E402


def new_database(server: str) -> str:
    import psycopg

    name = f"imdx_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def drop_database(server: str, url: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')


def server_settings(server: str) -> str:
    import psycopg

    names = ["server_version", "fsync", "synchronous_commit", "wal_level", "shared_buffers", "maintenance_work_mem",
             "max_wal_size", "work_mem"]
    with psycopg.connect(server, autocommit=True) as con:
        return ", ".join(f"{n}={con.execute(f'SHOW {n}').fetchone()[0]}" for n in names)


def cpu_seconds(server_pid: int | None) -> float:
    """CPU seconds used so far by this process and its children (the load's workers), and by the PostgreSQL
    server started for the run (its postmaster, the processes it has reaped and those still running)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    if server_pid is None:
        return total
    tick = os.sysconf("SC_CLK_TCK")

    def fields(pid) -> list[str]:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()

    ticks = sum(int(v) for v in fields(server_pid)[11:15])  # utime, stime, cutime, cstime
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            found = fields(pid)
        except OSError:
            continue
        if int(found[1]) == server_pid:
            ticks += int(found[11]) + int(found[12])
    return total + ticks / tick


def time_load(target, mirror: Path, server_pid: int | None = None) -> tuple[float, float, int]:
    """Wall seconds and CPU seconds (:func:`cpu_seconds`) of a whole load, and the observations loaded."""
    cpu, start = cpu_seconds(server_pid), time.perf_counter()
    with connect(target) as store:
        summary = load(store, settings(mirror=str(mirror), db=str(target)))
    elapsed = time.perf_counter() - start
    if summary.failed:
        raise SystemExit(f"the load into {target} failed: {[(o.key, o.error) for o in summary.failed]}")
    return elapsed, cpu_seconds(server_pid) - cpu, sum(o.n_obs for o in summary.outcomes)


def start_serving(target, port: int, workers: int, current_mb: int) -> subprocess.Popen:
    """``imdx serve`` without its answer cache, keeping ``current_mb`` of current values per worker."""
    code = ("from imdx.cli.serve import serve_cmd; "
            f"serve_cmd(['--db', {str(target)!r}, '--port', '{port}', '--workers', '{workers}', '--cache-mb', '0', "
            f"'--current-mb', '{current_mb}'])")
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def time_queries(target, paths: list[str], clients: int, duration: float, workers: int,
                 current_mb: int) -> list[dict]:
    port = free_port()
    server = start_serving(target, port, workers, current_mb)
    try:
        wait_up(f"http://127.0.0.1:{port}/api/v1", server, timeout=180)
        return [run_load(port, itertools.repeat(path), clients, duration, 200_000, "gzip") for path in paths]
    finally:
        stop(server)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("IMDX_TEST_PG"),
                        help="a PostgreSQL server the benchmark may create databases on (default: start one)")
    parser.add_argument("--mirror", default=os.environ.get("IMDX_MIRROR", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--repeat", type=int, default=2, help="rounds of each contender")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per query measurement")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args(argv)
    mirror = Path(args.mirror)
    paths = [f"/api/v1/data/{TABLE}?destination=DEU&year=2020",
             f"/api/v1/data/{TABLE}?year=2020&format=csv&page_size=10000"]
    labels = [f"{q} {how}" for how in ("from the store", "as served") for q in
              ("(a) JSON, one country and year,", "(b) CSV, 10,000 rows,")]

    started = None
    server = args.pg
    if server is None:
        sys.path.insert(0, str(REPO))
        from tests import pgserver

        started = Path(tempfile.mkdtemp(prefix="imdx-bench-pg-"))
        server = pgserver.start(started, pgserver.DURABLE_SETTINGS)
    print(f"PostgreSQL server: {server_settings(server)}", flush=True)
    loads: dict[str, list[float]] = {"duckdb": [], "postgres": []}
    cpus: dict[str, list[float]] = {"duckdb": [], "postgres": []}
    server_pid = None  # the server's CPU is counted when it runs here, started for the run
    if started is not None:
        server_pid = int((started / "data" / "postmaster.pid").read_text().split()[0])
    answers: dict[str, list[list[dict]]] = {"duckdb": [], "postgres": []}
    load_avg = os.getloadavg()
    n_obs = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(args.repeat):
                for backend in ("duckdb", "postgres"):
                    target = Path(tmp) / f"bench{round_}.duckdb" if backend == "duckdb" else new_database(server)
                    seconds, cpu, n_obs = time_load(target, mirror, server_pid if backend == "postgres" else None)
                    loads[backend].append(seconds)
                    cpus[backend].append(cpu)
                    print(f"round {round_ + 1}: {backend} load {seconds:.1f} s, CPU {cpu:.1f} s "
                          f"({n_obs:,} observations)", flush=True)
                    answers[backend].append(  # every request queries the store; then as imdx serve runs by default
                        time_queries(target, paths, args.clients, args.duration, args.workers, 0)
                        + time_queries(target, paths, args.clients, args.duration, args.workers, 512))
                    for label, r in zip(labels, answers[backend][-1]):
                        print(f"round {round_ + 1}: {backend} {label}: {r['rps']:,.0f} req/s, p50 {r['p50']:.1f} ms, "
                              f"p99 {r['p99']:.1f} ms, {r['statuses']}", flush=True)
                    if backend == "postgres":
                        drop_database(server, str(target))
    finally:
        if started is not None:
            pgserver.stop(started)

    print(f"\nload average of the machine before the run: {load_avg[0]:.1f} (1 min), on {os.cpu_count()} CPUs; "
          f"best of {args.repeat} round(s)")
    best = {b: min(v) for b, v in loads.items()}
    ratio = best["postgres"] / best["duckdb"]
    print(f"load of {n_obs:,} observations: DuckDB {best['duckdb']:.1f} s, PostgreSQL {best['postgres']:.1f} s, "
          f"ratio {ratio:.2f}x (target <= 2x)")
    ok = ratio <= 2
    if server_pid is not None:  # what a busy machine distorts least: the CPU time the load took, all processes
        cpu = {b: min(v) for b, v in cpus.items()}
        print(f"CPU seconds of the load (the loading process, its workers, and the PostgreSQL server's processes): "
              f"DuckDB {cpu['duckdb']:.1f} s, PostgreSQL {cpu['postgres']:.1f} s, ratio "
              f"{cpu['postgres'] / cpu['duckdb']:.2f}x")
    for i, label in enumerate(labels):
        d = max(r[i]["rps"] for r in answers["duckdb"])
        p = max(r[i]["rps"] for r in answers["postgres"])
        slower = d / max(p, 1e-9)
        served = "as served" in label  # the API as imdx serve answers it; from the store: what an edition or a
        # date, or a dataflow past the memory budget, costs (no target: the store's own speed)
        print(f"{label} (no answer cache), {args.clients} clients: DuckDB {d:,.0f} req/s, PostgreSQL {p:,.0f} req/s, "
              f"DuckDB/PostgreSQL {slower:.2f}x" + (" (target <= 1.5x)" if served else " (the store alone)"))
        ok &= slower <= 1.5 or not served
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
