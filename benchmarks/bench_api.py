"""The REST API under load: imdx against datasette serving the same rows from SQLite.

One run, on loopback, with 64 concurrent clients (keep-alive connections), for two requests:

  (a) one country's migrant stock by origin for one year, as JSON
      imdx:      /api/v1/data/migrant_stock?destination=DEU&year=2020
      datasette: /bench/migrant_stock.json?destination=DEU&year=2020&_shape=objects&_size=max
  (b) a 10,000-row filtered CSV download
      imdx:      /api/v1/data/migrant_stock?year=2020&format=csv&page_size=10000
      datasette: /bench/migrant_stock.csv?year=2020&_size=10000

The migrant_stock rows the API serves (current values, in the API's order, with the same columns)
are exported from the store to a SQLite file with an index on (destination, year) and on (year),
which datasette serves with ``max_returned_rows`` raised to 10,000 so that both answer the same rows.
imdx runs twice: as served by default, and with its answer cache off (``--cache-mb 0``: every request
is queried and encoded). Prints requests/s and p50/p99 latency of each, and the ratios. Target: imdx at least
2x datasette's
requests/s, and p99 under 20 ms for (a).

    python benchmarks/bench_api.py --db imdx.duckdb [--workers 2] [--duration 10] [--clients 64]

Needs: datasette (pip install datasette). The load generator is in this file (asyncio, raw
HTTP/1.1 keep-alive; uvloop when installed), so nothing else needs installing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
TABLE = "migrant_stock"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def export_sqlite(db: Path, out: Path) -> int:
    """The rows /api/v1/data/migrant_stock serves, in its order, as a SQLite table; returns the row count."""
    from imdx.store.duckdb_store import DuckDBStore

    with DuckDBStore(db, read_only=True) as store:
        table = store.select(TABLE, {})
    frame = table.to_pandas()
    out.unlink(missing_ok=True)
    con = sqlite3.connect(out)
    frame.to_sql(TABLE, con, index=False, chunksize=50_000)
    con.execute(f"CREATE INDEX ix_dest_year ON {TABLE} (destination, year)")
    con.execute(f"CREATE INDEX ix_year ON {TABLE} (year)")
    con.commit()
    con.close()
    return len(frame)


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited early (code {proc.returncode}); its command: {proc.args}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def start_imdx(db: Path, port: int, workers: int, cache_mb: int = 256) -> subprocess.Popen:
    code = ("from imdx.cli.serve import serve_cmd; "
            f"serve_cmd(['--db', {str(db)!r}, '--port', '{port}', '--workers', '{workers}', "
            f"'--cache-mb', '{cache_mb}'])")
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def start_datasette(sqlite: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "datasette", "serve", str(sqlite), "--port", str(port),
                             "--setting", "max_returned_rows", "10000", "--setting", "sql_time_limit_ms", "20000",
                             "--setting", "num_sql_threads", "4", "--immutable", str(sqlite)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


# -- the load generator ---------------------------------------------------------------------------
async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
        return status, len(body)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        size = 0
        while True:
            n = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if n == 0:
                await reader.readuntil(b"\r\n")
                return status, size
            size += len(await reader.readexactly(n + 2)) - 2
    raise RuntimeError("a response with neither Content-Length nor chunked encoding")


async def _client(port: int, request: bytes, stop_at: float, budget: list[int], latencies: list[float],
                  statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at and budget[0] > 0:
            budget[0] -= 1
            t0 = time.perf_counter()
            writer.write(request)
            status, _ = await _read_response(reader)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _load(port: int, path: str, clients: int, duration: float, max_requests: int,
                encoding: str) -> dict:
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench_api\r\n"
               f"Accept: */*\r\nAccept-Encoding: {encoding}\r\n\r\n").encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    budget = [max_requests]
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, request, t0 + duration, budget, latencies, statuses)
                           for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50": pct(0.50), "p99": pct(0.99),
            "statuses": statuses}


def run_load(port: int, path: str, clients: int, duration: float, max_requests: int, encoding: str) -> dict:
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(_load(port, path, clients, min(1.0, duration / 5), clients * 4, encoding))  # warm-up (fills caches)
    gc.collect()
    gc.disable()  # time the servers, not this process's garbage collector
    try:
        return runner(_load(port, path, clients, duration, max_requests, encoding))
    finally:
        gc.enable()


def check_same_rows(imdx_port: int, ds_port: int, a: tuple[str, str], b: tuple[str, str]) -> list[str]:
    notes = []
    left = httpx.get(f"http://127.0.0.1:{imdx_port}{a[0]}", timeout=60).json()
    right = httpx.get(f"http://127.0.0.1:{ds_port}{a[1]}", timeout=60).json()
    notes.append(f"(a) rows: imdx {left['total']:,}, datasette {len(right['rows']):,}")
    same = [tuple(r[c] for c in ("destination", "origin", "sex", "age", "year", "value")) for r in right["rows"]]
    mine = [tuple(r[c] for c in ("destination", "origin", "sex", "age", "year", "value")) for r in left["data"]]
    notes.append(f"(a) same rows in the same order: {same == mine}")
    left = httpx.get(f"http://127.0.0.1:{imdx_port}{b[0]}", timeout=60).text.count("\n") - 1
    right = httpx.get(f"http://127.0.0.1:{ds_port}{b[1]}", timeout=60).text.strip().count("\n")
    notes.append(f"(b) CSV rows: imdx {left:,}, datasette {right:,}")
    return notes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("IMDX_DB", "imdx.duckdb"), help="a loaded imdx store")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per measurement")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes for imdx")
    parser.add_argument("--encoding", default="gzip", choices=["gzip", "identity"],
                        help="the Accept-Encoding the clients send (gzip: what browsers, curl --compressed, httpx "
                             "and requests send; bodies are timed to their last byte, not decompressed)")
    parser.add_argument("--country", default="DEU")
    parser.add_argument("--year", default="2020")
    args = parser.parse_args(argv)
    db = Path(args.db).resolve()
    if not db.exists():
        raise SystemExit(f"no store at {db}: load one with `IMDX_MIRROR=../shared/data imdx load --db {db}`")

    a = (f"/api/v1/data/{TABLE}?destination={args.country}&year={args.year}",
         (f"/bench/{TABLE}.json?destination={args.country}&year={args.year}&_shape=objects&_size=max"
          "&_nocount=1&_nofacet=1&_nosuggest=1"))
    b = (f"/api/v1/data/{TABLE}?year={args.year}&format=csv&page_size=10000",
         f"/bench/{TABLE}.csv?year={args.year}&_size=10000&_nocount=1&_nofacet=1")
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        n = export_sqlite(db, sqlite)
        print(f"exported {n:,} {TABLE} rows to SQLite for datasette in {time.perf_counter() - t0:.1f} s")
        imdx_port, cold_port, ds_port = free_port(), free_port(), free_port()
        servers = [start_imdx(db, imdx_port, args.workers), start_imdx(db, cold_port, args.workers, cache_mb=0),
                   start_datasette(sqlite, ds_port)]
        try:
            wait_up(f"http://127.0.0.1:{imdx_port}/api/v1", servers[0])
            wait_up(f"http://127.0.0.1:{cold_port}/api/v1", servers[1])
            wait_up(f"http://127.0.0.1:{ds_port}/-/versions.json", servers[2])
            for note in check_same_rows(imdx_port, ds_port, a, b):
                print(note)
            results = {}
            for label, (ipath, dpath) in (("(a) JSON, one country and year", a), ("(b) CSV, 10,000 rows", b)):
                for name, port, path in (("imdx", imdx_port, ipath), ("imdx-nocache", cold_port, ipath),
                                         ("datasette", ds_port, dpath)):
                    results[label, name] = run_load(port, path, args.clients, args.duration, args.max_requests,
                                                    args.encoding)
        finally:
            for server in servers:
                stop(server)
    print(f"\nload average of the machine before the run: {load[0]:.1f} (1 min), on {os.cpu_count()} CPUs")
    print(f"{args.clients} concurrent clients, {args.duration:.0f} s each, loopback, Accept-Encoding: {args.encoding}; "
          f"imdx with {args.workers} uvicorn worker(s), datasette {_version('datasette')} (one process)")
    print("imdx-nocache: the same server with its answer cache off (--cache-mb 0): every request is "
          "queried and encoded")
    print(f"{'request':34} {'server':12} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for (label, name), r in results.items():
        print(f"{label:34} {name:12} {r['requests']:9,} {r['rps']:9,.0f} {r['p50']:8.1f} {r['p99']:8.1f}  "
              f"{r['statuses']}")
    ok = True
    for label in dict.fromkeys(k[0] for k in results):
        for name in ("imdx", "imdx-nocache"):
            ratio = results[label, name]["rps"] / max(results[label, "datasette"]["rps"], 1e-9)
            print(f"{label}: {name}/datasette requests/s = {ratio:.1f}x (target >= 2x)")
            ok &= ratio >= 2
    for name in ("imdx", "imdx-nocache"):
        p99 = results["(a) JSON, one country and year", name]["p99"]
        print(f"(a) {name} p99 = {p99:.1f} ms (target < 20 ms)")
    ok &= results["(a) JSON, one country and year", "imdx"]["p99"] < 20
    return 0 if ok else 1


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main())
