"""Country profiles under a crowd: this tree's ``imdx serve`` against a baseline tree (by default ``main``, the code
before this work) serving the same store, in the same run.

For each server (each started fresh, ``--workers`` processes):

  (1) first visits: ``/country/{code}`` for every country once, one request at a time: the server's CPU time per page
      (user + system of all its processes, from psutil, divided by the pages answered), when nothing of the page was
      kept before (the per-store-version indexes only, built at start-up);
  (2) the crowd: ``/country/{code}``, another country each request (every country in turn), from ``--clients``
      keep-alive connections for ``--duration`` seconds: requests/s, p50 and p99 latency, CPU per page, statuses,
      the server's resident memory. With ``--cache-mb 0`` no page is kept (every request renders its page); by
      default (256) this tree keeps rendered pages in its answer cache, so a country seen before is answered from it.

    python benchmarks/bench_pages.py --db imdx.duckdb [--baseline main] [--clients 200] [--duration 15]

A closed loop of N clients waits N / (requests per second) per request on average (Little's law): p99 under 100 ms
at 200 clients needs more than 2,000 pages/s. The load generator runs on the same CPUs as the servers; on a shared
machine, the CPU per page is the steadier figure. Needs psutil.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bench_api import Rss, _mb, free_port, run_load, stop, wait_up  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def start(tree: Path, db: Path, port: int, workers: int, cache_mb: int) -> subprocess.Popen:
    """``imdx serve`` with the code of ``tree``."""
    code = ("from imdx.cli.serve import serve_cmd; "
            f"serve_cmd(['--db', {str(db)!r}, '--port', '{port}', '--workers', '{workers}', '--cache-mb', "
            f"'{cache_mb}'])")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.Popen([sys.executable, "-c", code], cwd=tree, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def cpu_seconds(pid: int) -> float:
    """CPU seconds the server and its workers have used so far (bench_api's measure)."""
    return Rss(pid).cpu()


def countries(db: Path) -> list[str]:
    from imdx.store import connect

    with connect(db, read_only=True) as store:
        areas = store.areas()
        return sorted(areas.frame.loc[areas.frame["kind"] == "country", "code"])


def measure(name: str, tree: Path, db: Path, codes: list[str], args, cache_mb: int) -> dict:
    port = free_port()
    server = start(tree, db, port, args.workers, cache_mb)
    try:
        wait_up(f"http://127.0.0.1:{port}/api/v1", server, timeout=300)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            before, ok = cpu_seconds(server.pid), 0
            for code in codes:
                ok += client.get(f"/country/{code}", headers={"accept-encoding": args.encoding}).status_code == 200
            first = (cpu_seconds(server.pid) - before) / max(ok, 1)
        stream = (f"/country/{code}" for code in itertools.cycle(codes))
        with Rss(server.pid) as rss:
            start_rss, before = rss.now(), cpu_seconds(server.pid)
            r = run_load(port, stream, args.clients, args.duration, 10**9, args.encoding, warm=False)
            used = cpu_seconds(server.pid) - before
        r.update(name=name, cache_mb=cache_mb, first_ms=first * 1000, first_ok=ok,
                 crowd_ms=used * 1000 / max(r["requests"], 1),
                 rss=(start_rss, max([s for _, s in rss.samples] or [start_rss]), rss.now()))
        return r
    finally:
        stop(server)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a loaded store (DuckDB file)")
    parser.add_argument("--baseline", default="main", help="the git revision to compare with (default: main)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--encoding", default="gzip")
    args = parser.parse_args(argv)
    codes = countries(args.db)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        runs = [measure(f"baseline ({args.baseline})", base, args.db, codes, args, 256),
                measure("this tree", REPO, args.db, codes, args, 0),
                measure("this tree", REPO, args.db, codes, args, 256)]
    print(f"/country/{{code}} over {len(codes)} countries; {args.workers} worker(s), {args.clients} clients, "
          f"{args.duration:.0f} s each, Accept-Encoding: {args.encoding}; load generator on the same CPUs")
    print(f"{'server':18} {'cache-mb':>8} {'first visit':>11} {'crowd req/s':>11} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU/page':>9} {'RSS start→peak→end':>28}  statuses")
    for r in runs:
        print(f"{r['name']:18} {r['cache_mb']:8} {r['first_ms']:9.1f}ms {r['rps']:11,.0f} {r['p50']:8.0f} "
              f"{r['p99']:8.0f} {r['crowd_ms']:7.1f}ms {_mb(r['rss'][0]):>8}→{_mb(r['rss'][1]):>8}→"
              f"{_mb(r['rss'][2]):>8}  {r['statuses']}")
    base, cold, kept = runs
    print(f"first visit CPU per page: {base['first_ms'] / max(cold['first_ms'], 1e-9):.1f}x less than the baseline; "
          f"crowd, no page kept: {base['crowd_ms'] / max(cold['crowd_ms'], 1e-9):.1f}x less CPU per page, "
          f"{cold['rps'] / max(base['rps'], 1e-9):.1f}x the requests/s; p99 {cold['p99']:.0f} ms (baseline "
          f"{base['p99']:.0f} ms; target < 100 ms)")
    return 0 if cold["p99"] < 100 else 1


if __name__ == "__main__":
    sys.exit(main())
