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
2x datasette's requests/s, and p99 under 20 ms for (a).

  (c) the cache-defeating mix (``--mix``): every request asks for another dataflow, country and year, drawn
      without repetition from the (country, year) pairs stored for six dataflows (migrant stock by
      destination, refugees and asylum decisions by country of asylum, bilateral migration, remittances
      and net migration by area: about 73,000 different requests), at 200 and 500 clients, against the
      default server (its caches never hit: no request repeats) and datasette serving the same tables from
      SQLite, each with an index on (country, year). Target: imdx at least 10x datasette's requests/s and
      p99 under 100 ms at 200 clients. Each server's CPU time per request answered (all its processes, from
      psutil) is printed beside: on a shared machine far steadier than requests/s.
  (d) memory under the mix (``--soak 300``): the mix at 200 clients for 5 minutes against the default
      server, its resident memory (all its processes) sampled every second and printed every 30 s; target:
      bounded (the last minute within the memory at the start plus what ``imdx serve`` is configured to keep:
      --cache-mb 256 of answers, twice that of query results, --current-mb 512, per worker) and flat (the last
      minute within 5% of the most it held from the second minute to two minutes before the end).
  (e) country profiles under the mix (with ``--mix``): ``/country/{code}``, another country each request (every
      country in turn), at 200 clients against the same server: requests/s and p99 (target: p99 under 100 ms;
      no baseline serves these pages).

    python benchmarks/bench_api.py --db imdx.duckdb [--workers 2] [--duration 10] [--clients 64]
    python benchmarks/bench_api.py --db imdx.duckdb --mix [--mix-clients 200,500] [--soak 300]

Needs: datasette and psutil (pip install datasette psutil). The load generator is in this file (asyncio, raw
HTTP/1.1 keep-alive; uvloop when installed), so nothing else needs installing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
TABLE = "migrant_stock"
#: the cache-defeating mix: dataflow -> its country dimension (each request: another dataflow, country, year)
MIX = {"migrant_stock": "destination", "refugees": "asylum", "asylum_decisions": "asylum",
       "bilateral_migration": "destination", "remittances": "area", "net_migration": "area"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def export_sqlite(db: Path, out: Path, tables: list[str]) -> dict[str, list[tuple[str, int]]]:
    """The rows /api/v1/data/{table} serves, in its order, as SQLite tables (indexed on their country dimension
    and year, and on year); returns the (country, year) pairs stored for each table."""
    from imdx.store import connect

    out.unlink(missing_ok=True)
    con = sqlite3.connect(out)
    pairs = {}
    with connect(db, read_only=True) as store:
        for table in tables:
            frame = store.select(table, {}).to_pandas()
            frame.to_sql(table, con, index=False, chunksize=50_000)
            dim = MIX.get(table, "destination")
            con.execute(f"CREATE INDEX ix_{table}_dim_year ON {table} ({dim}, year)")
            con.execute(f"CREATE INDEX ix_{table}_year ON {table} (year)")
            pairs[table] = sorted(set(zip(frame[dim].astype(str), frame["year"].astype(int))))
            del frame
    con.commit()
    con.close()
    return pairs


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


async def _client(port: int, paths: Iterator[str], head: bytes, stop_at: float, budget: list[int],
                  latencies: list[float], statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at and budget[0] > 0:
            path = next(paths, None)
            if path is None:
                return
            budget[0] -= 1
            t0 = time.perf_counter()
            writer.write(b"GET " + path.encode() + head)
            status, _ = await _read_response(reader)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _load(port: int, paths: Iterator[str], clients: int, duration: float, max_requests: int,
                encoding: str) -> dict:
    head = (f" HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench_api\r\n"
            f"Accept: */*\r\nAccept-Encoding: {encoding}\r\n\r\n").encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    budget = [max_requests]
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, paths, head, t0 + duration, budget, latencies, statuses)
                           for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50": pct(0.50), "p99": pct(0.99),
            "statuses": statuses}


def _runner():
    try:
        import uvloop

        return uvloop.run
    except ImportError:
        return asyncio.run


def run_load(port: int, paths: Iterator[str], clients: int, duration: float, max_requests: int, encoding: str,
             warm: bool = True) -> dict:
    """Requests for ``paths`` (one path after another, shared by the clients) from ``clients`` keep-alive
    connections for ``duration`` seconds; after a short warm-up (which, for one fixed path, fills the caches)."""
    runner = _runner()
    if warm:
        runner(_load(port, paths, clients, min(1.0, duration / 5), clients * 4, encoding))
    gc.collect()
    gc.disable()  # time the servers, not this process's garbage collector
    try:
        return runner(_load(port, paths, clients, duration, max_requests, encoding))
    finally:
        gc.enable()


# -- the server's memory ---------------------------------------------------------------------------
class Rss:
    """The resident memory of a server and its worker processes, sampled every ``every`` seconds in a thread."""

    def __init__(self, pid: int, every: float = 1.0):
        import psutil

        self.root, self.every = psutil.Process(pid), every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> int:
        import psutil

        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def cpu(self) -> float:
        """CPU seconds (user + system) the server and its workers have used so far: divided by the requests
        answered, far less noisy than requests/s on a shared machine."""
        import psutil

        total = 0.0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.wait(self.every):
            self.samples.append((time.monotonic() - t0, self.now()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


# -- the runs --------------------------------------------------------------------------------------
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


def mix_paths(pairs: dict[str, list[tuple[str, int]]], seed: int = 13) -> list[tuple[str, str]]:
    """(imdx path, datasette path) for every (dataflow, country, year) of the mix, shuffled so that consecutive
    requests ask for another dataflow, country and year."""
    out = []
    for table, items in pairs.items():
        dim = MIX[table]
        for code, year in items:
            out.append((f"/api/v1/data/{table}?{dim}={code}&year={year}",
                        f"/bench/{table}.json?{dim}={code}&year={year}&_shape=objects&_size=max&_nocount=1"
                        "&_nofacet=1&_nosuggest=1"))
    random.Random(seed).shuffle(out)
    return out


def check_mix_rows(imdx_port: int, ds_port: int, paths: list[tuple[str, str]]) -> str:
    """Whether imdx and datasette answer the same values for the first requests of the mix."""
    same = 0
    for ipath, dpath in paths[:30]:
        left = httpx.get(f"http://127.0.0.1:{imdx_port}{ipath}&page_size=10000", timeout=60).json()["data"]
        right = httpx.get(f"http://127.0.0.1:{ds_port}{dpath}", timeout=60).json()["rows"]
        same += [r["value"] for r in left] == [r["value"] for r in right]
    return f"(c) the same values in the same order from both servers: {same} of 30 sampled requests"


def run_mix(db: Path, sqlite: Path, pairs, args) -> tuple[dict, bool]:
    paths = mix_paths(pairs)
    print(f"(c) the mix: {len(paths):,} different requests over {len(pairs)} dataflows")
    imdx_port, ds_port = free_port(), free_port()
    servers = [start_imdx(db, imdx_port, args.workers), start_datasette(sqlite, ds_port)]
    results: dict = {}
    try:
        wait_up(f"http://127.0.0.1:{imdx_port}/api/v1", servers[0])
        wait_up(f"http://127.0.0.1:{ds_port}/-/versions.json", servers[1])
        print(check_mix_rows(imdx_port, ds_port, paths[-30:]))
        # both servers warmed by the mix taken from its end, which the runs below (from its start) do not reach
        # (a fresh imdx worker answers slowly for its first seconds: see docs/api.md, Speed)
        for port, side in ((imdx_port, 0), (ds_port, 1)):
            run_load(port, (p[side] for p in reversed(paths[:-30])), 200, args.warmup, 10**9, args.encoding,
                     warm=False)
        at = {0: 0, 1: 0}  # where each server's next run starts in the mix: no request repeats one made before
        for clients in args.mix_clients:
            for name, port, side in (("imdx", imdx_port, 0), ("datasette", ds_port, 1)):
                with Rss(servers[side].pid) as rss:
                    before, cpu, mine = rss.now(), rss.cpu(), time.process_time()
                    stream = (p[side] for p in paths[at[side]:])
                    r = run_load(port, stream, clients, args.duration, args.max_requests, args.encoding, warm=False)
                    at[side] += r["requests"] + clients
                    r["cpu"] = (rss.cpu() - cpu) / max(r["requests"], 1) * 1000
                    r["client_cpu"] = (time.process_time() - mine) / max(r["requests"], 1) * 1000
                r["rss"] = (before, max([s for _, s in rss.samples] or [before]), rss.now())
                results[clients, name] = r
        profiles = run_profiles(imdx_port, servers[0].pid, pairs, args)
        soak = run_soak(imdx_port, servers[0].pid, paths, args) if args.soak else None
    finally:
        for server in servers:
            stop(server)
    print(f"\n(c) the cache-defeating mix, {args.duration:.0f} s per run; imdx with {args.workers} worker(s) and its "
          "default caches (256 MB of answers per worker: no request repeats, so none is answered from them)")
    print("CPU ms/req: the server's CPU time (all its processes) per request answered; the load generator's is "
          "the last column")
    print(f"{'clients':>7} {'server':10} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} "
          f"{'RSS start→peak→end':>28}  statuses  {'client CPU ms/req':>17}")
    ok = True
    for (clients, name), r in results.items():
        print(f"{clients:7} {name:10} {r['requests']:9,} {r['rps']:9,.0f} {r['p50']:8.1f} {r['p99']:8.1f} "
              f"{r['cpu']:10.3f} {_mb(r['rss'][0]):>8}→{_mb(r['rss'][1]):>8}→{_mb(r['rss'][2]):>8}  {r['statuses']}  "
              f"{r['client_cpu']:17.3f}")
    for clients in args.mix_clients:
        ratio = results[clients, "imdx"]["rps"] / max(results[clients, "datasette"]["rps"], 1e-9)
        p99 = results[clients, "imdx"]["p99"]
        cpu = results[clients, "datasette"]["cpu"] / max(results[clients, "imdx"]["cpu"], 1e-9)
        print(f"(c) {clients} clients: imdx/datasette requests/s = {ratio:.1f}x (target >= 10x), server CPU per "
              f"request {cpu:.1f}x less; imdx p99 {p99:.0f} ms" + (" (target < 100 ms)" if clients == 200 else ""))
        ok &= ratio >= 10 and (clients != 200 or p99 < 100)
    r = profiles
    print(f"(e) country profiles, another country each request, 200 clients: {r['requests']:,} requests, "
          f"{r['rps']:,.0f} req/s, p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms (target < 100 ms), RSS "
          f"{_mb(r['rss'][0])}→{_mb(r['rss'][1])}→{_mb(r['rss'][2])}, {r['statuses']}")
    ok &= r["p99"] < 100
    if soak is not None:
        ok &= soak
    return results, ok


def run_profiles(port: int, pid: int, pairs, args) -> dict:
    """(e): /country/{code} for every country of the mix in turn, at 200 clients, for ``args.duration`` seconds."""
    countries = sorted({code for code, _ in pairs["migrant_stock"] if len(code) == 3 and code.isalpha()})
    stream = (f"/country/{code}" for code in itertools.cycle(countries))
    with Rss(pid) as rss:
        before = rss.now()
        r = run_load(port, stream, 200, args.duration, args.max_requests, args.encoding, warm=False)
    r["rss"] = (before, max([s for _, s in rss.samples] or [before]), rss.now())
    return r


def run_soak(port: int, pid: int, paths: list[tuple[str, str]], args) -> bool:
    """The mix at 200 clients for ``args.soak`` seconds; the server's memory printed every 30 s."""
    print(f"(d) the mix at 200 clients for {args.soak:.0f} s; the server's resident memory (all its processes):")
    stream = (p[0] for p in itertools.cycle(paths))
    with Rss(pid) as rss:
        start, cpu = rss.now(), rss.cpu()
        r = run_load(port, stream, 200, args.soak, 10**9, args.encoding, warm=False)
        cpu = (rss.cpu() - cpu) / max(r["requests"], 1) * 1000
    marks = [s for s in rss.samples if int(s[0]) % 30 == 0] or rss.samples
    print("    " + ", ".join(f"{t:.0f} s: {_mb(m)}" for t, m in marks))
    first = max([m for t, m in rss.samples if t <= 60] or [start])
    last = max([m for t, m in rss.samples if t >= args.soak - 60] or [start])
    # the configured memory, per worker: answers (256 MB) + query results (512 MB) + current values (512 MB)
    bound = args.workers * (256 + 512 + 512) * 2**20
    bounded = last <= start + bound
    # flat: the last minute no higher than what the minutes before the last two reached (+5%: sampling)
    before = max([m for t, m in rss.samples if 60 <= t <= args.soak - 120] or [first])
    flat = bounded and last <= before * 1.05
    late = [m for t, m in rss.samples if t >= args.soak - 120]
    print(f"(d) {r['requests']:,} requests, {r['rps']:,.0f} req/s, p99 {r['p99']:.0f} ms, server CPU {cpu:.3f} "
          f"ms/request, {r['statuses']}; memory at start {_mb(start)}, first minute max {_mb(first)}, from the "
          f"second minute to two before the end max {_mb(before)}, last minute max {_mb(last)}: "
          f"{'within' if bounded else 'PAST'} the start + the configured memory ({_mb(bound)}), "
          f"{'flat' if flat else 'NOT flat'} (target: the last minute within 5% of the max before it); over the last "
          f"two minutes it moved by {_mb(late[-1] - late[0]) if late else 'n/a'}")
    return flat


def run_fixed(db: Path, sqlite: Path, args) -> bool:
    a = (f"/api/v1/data/{TABLE}?destination={args.country}&year={args.year}",
         (f"/bench/{TABLE}.json?destination={args.country}&year={args.year}&_shape=objects&_size=max"
          "&_nocount=1&_nofacet=1&_nosuggest=1"))
    b = (f"/api/v1/data/{TABLE}?year={args.year}&format=csv&page_size=10000",
         f"/bench/{TABLE}.csv?year={args.year}&_size=10000&_nocount=1&_nofacet=1")
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
                results[label, name] = run_load(port, itertools.repeat(path), args.clients, args.duration,
                                                args.max_requests, args.encoding)
    finally:
        for server in servers:
            stop(server)
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
    return ok and results["(a) JSON, one country and year", "imdx"]["p99"] < 20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("IMDX_DB", "imdx.duckdb"), help="a loaded imdx store")
    parser.add_argument("--clients", type=int, default=64, help="clients for (a) and (b)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per measurement")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes for imdx")
    parser.add_argument("--encoding", default="gzip", choices=["gzip", "identity"],
                        help="the Accept-Encoding the clients send (gzip: what browsers, curl --compressed, httpx "
                             "and requests send; bodies are timed to their last byte, not decompressed)")
    parser.add_argument("--country", default="DEU")
    parser.add_argument("--year", default="2020")
    parser.add_argument("--mix", action="store_true", help="run (c), the cache-defeating mix, instead of (a) and (b)")
    parser.add_argument("--mix-clients", default="200,500", type=lambda v: [int(x) for x in v.split(",")],
                        help="client counts for (c)")
    parser.add_argument("--soak", type=float, default=0, help="with --mix: also run (d) for this many seconds")
    parser.add_argument("--warmup", type=float, default=20, help="with --mix: seconds of the mix each server answers "
                        "before the runs (requests the runs do not repeat)")
    args = parser.parse_args(argv)
    db = Path(args.db).resolve()
    if not db.exists():
        raise SystemExit(f"no store at {db}: load one with `IMDX_MIRROR=../shared/data imdx load --db {db}`")
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        pairs = export_sqlite(db, sqlite, list(MIX) if args.mix else [TABLE])
        print(f"exported {', '.join(pairs)} to SQLite for datasette in {time.perf_counter() - t0:.1f} s")
        if args.mix:
            _, ok = run_mix(db, sqlite, pairs, args)
        else:
            ok = run_fixed(db, sqlite, args)
    after = os.getloadavg()
    print(f"load average of the machine: {load[0]:.1f} before the run, {after[0]:.1f} after (1 min), on "
          f"{os.cpu_count()} CPUs; the load generator (this process, one thread) shares them")
    return 0 if ok else 1


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main())
