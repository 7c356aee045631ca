"""The web portal: server time of a country profile and of the flows page, and the weight of each page type.

1. Server time of ``/country/{code}`` on the full store, for every country with data (each profile
   requested once, so each is built from the store, not served from the portal's page cache; the
   portal's per-dataflow indexes are built first, as ``imdx serve`` does at start-up, and that
   warm-up is reported on its own). The time is the server's own (``Server-Timing: app;dur=``),
   measured over HTTP against a uvicorn server on loopback; the client's wall time is shown too.
   Target: median and p95 under 100 ms.
2. Server time of ``/flows`` for every sex, period and grouping (regions, SDG regions, subregions, the
   largest countries) and the methods with complete inputs, each combination requested once (never from
   the page cache). Needs a store with estimates (``imdx estimate flows --all``). Target: p95 under
   200 ms. Baselines, in the same run and in a process of their own: the flows page as it was, which read
   every current row of ``estimated_flows`` (every method, period and sex) into pandas and summed the one
   asked for to regions on each request (its time, or its failure, and peak memory); and a leaner sum on
   request, of the one method, period and sex asked for (its time, and the ratio to the new page).
3. Page weight of each page type: bytes of the HTML, the scripts and styles it loads and the data
   its charts fetch (the world map), raw and gzip-compressed as sent, against the budget stated in
   docs/portal.md.

    python benchmarks/bench_portal.py --db imdx.duckdb [--countries 0] [--no-baseline] [--old-page]   # 0: all
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 100.0
FLOWS_TARGET_MS = 200.0
#: budget per page type (bytes): HTML alone, and everything the page loads, compressed as sent
BUDGET = {"html_raw": 150_000, "total_gzip": 400_000}
PAGE_TYPES = {"home": "/", "country": "/country/DEU", "corridor": "/corridor/MEX/USA", "flows": "/flows",
              "chart": "/chart", "explore": "/explore", "sources": "/sources",
              "search": "/search?q=Mexico+to+United+States&all=1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(db: Path):
    import uvicorn
    from fastapi import FastAPI
    from starlette.middleware.gzip import GZipMiddleware

    from imdx.portal import portal_router
    from imdx.portal.router import reader_for, warm
    from imdx.store.duckdb_store import DuckDBStore

    store = DuckDBStore(db, read_only=True)
    app = FastAPI()
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.include_router(portal_router(lambda: store))
    t0 = time.perf_counter()
    warm(reader_for(store))
    warmup = time.perf_counter() - t0
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}", store, warmup


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def profile_times(client: httpx.Client, store, limit: int) -> dict:
    codes = [r[0] for r in store.con.execute(
        "SELECT code FROM area WHERE kind = 'country' AND code IN (SELECT DISTINCT destination FROM obs_migrant_stock) "
        "AND code <> 'DEU' ORDER BY code").fetchall()]
    if limit:
        codes = codes[:limit]
    server, wall, slowest = [], [], []
    for code in codes:
        t = time.perf_counter()
        r = client.get(f"/country/{code}")
        wall.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (code, r.status_code)
        server.append(float(r.headers["server-timing"].split("dur=")[1]))
        slowest.append((server[-1], code))
    return {"n": len(codes), "server": server, "wall": wall, "slowest": sorted(slowest, reverse=True)[:3]}


def flows_times(client: httpx.Client, store) -> dict:
    """Every combination of sex, period, grouping and complete method, each requested once."""
    from imdx.portal import flows
    from imdx.portal.router import reader_for

    first = client.get("/flows")
    assert first.status_code == 200, first.status_code
    stored = [e for e in flows.catalogue(reader_for(store)) if not e.incomplete]
    combos = sorted({(e.sex, e.year, level, e.method) for e in stored for level in flows.LEVELS})
    server, slowest = [float(first.headers["server-timing"].split("dur=")[1])], []
    for sex, year, level, method in combos:
        r = client.get("/flows", params={"sex": sex, "year": year, "level": level, "method": method})
        assert r.status_code == 200 and "data-world-total" in r.text, (sex, year, level, method, r.status_code)
        server.append(float(r.headers["server-timing"].split("dur=")[1]))
        slowest.append((server[-1], f"{sex} {year} {level} {method}"))
    return {"n": len(server), "server": server, "slowest": sorted(slowest, reverse=True)[:3]}


_BASELINE = """
import resource, sys, time
from imdx.store.duckdb_store import DuckDBStore
store = DuckDBStore(sys.argv[1], read_only=True)
areas = store.areas().frame
region = areas["region"].where(areas["region"].notna() & (areas["region"] != ""), areas.index.to_series())
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def summed(frame):
    part = frame.assign(o=frame["origin"].map(region), d=frame["destination"].map(region))
    return part[part["o"] != part["d"]].groupby(["o", "d"])["value"].sum()

t, old = time.perf_counter(), "not run (--old-page runs it: it needs several GB)"
try:  # the old page: every current row of every method, period and sex, then the one asked for
    if sys.argv[2] == "old":
        frame = store.select("estimated_flows", {}).to_pandas()
        part = frame[(frame["year"] == frame["year"].max()) & (frame["method"] == "demographic_accounting_closed")]
        summed(part)
        old = f"{time.perf_counter() - t:.2f} s"
except Exception as err:
    old = f"failed after {time.perf_counter() - t:.2f} s ({type(err).__name__}: {str(err)[:60]})"
old_peak = peak()
t = time.perf_counter()  # on request, only the method, period and sex asked for, summed in pandas
year = max(store.distinct("estimated_flows", "year"))
frame = store.select("estimated_flows", {"method": ["demographic_accounting_closed"], "sex": ["_T"],
                                         "year": [year]}).to_pandas()
summed(frame)
print(f"{old}|{old_peak:.0f}|{time.perf_counter() - t:.3f}|{len(frame)}")
"""


def flows_baseline(db: Path, old_page: bool) -> tuple[str, float, float, int]:
    """The old flows page's work for one request, and a leaner on-request sum, in a fresh process: (old page's
    time or failure, its peak MiB, the on-request sum's seconds, the rows it summed)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _BASELINE, str(db), "old" if old_page else "-"], capture_output=True,
                         text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    old, peak, seconds, rows = out.stdout.strip().splitlines()[-1].split("|")
    return old, float(peak), float(seconds), int(rows)


def page_weight(client: httpx.Client) -> dict:
    out = {}
    for name, url in PAGE_TYPES.items():
        html = client.get(url).content
        assets = (re.findall(rb'<script[^>]+src="([^"]+)"', html)
                  + re.findall(rb'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', html))
        if b'id="spec-map"' in html:
            assets.append(b"/static/vendor/countries-110m.json")
        parts = {"html": html}
        for a in assets:
            parts[a.decode()] = client.get(a.decode()).content
        raw = sum(len(v) for v in parts.values())
        gz = sum(len(gzip.compress(v, 6)) for v in parts.values())
        out[name] = {"html_raw": len(html), "html_gzip": len(gzip.compress(html, 6)), "total_raw": raw,
                     "total_gzip": gz, "files": len(parts)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("imdx.duckdb"))
    parser.add_argument("--countries", type=int, default=0, help="how many countries (0: all)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the flows page's baselines")
    parser.add_argument("--old-page", action="store_true",
                        help="also run the old flows page as a baseline (it reads 3.8 M rows: several GB)")
    args = parser.parse_args(argv)
    server, base, store, warmup = start(args.db)
    ok = True
    with httpx.Client(base_url=base, timeout=120) as client:
        t = profile_times(client, store, args.countries)
        med, p95, worst = statistics.median(t["server"]), pct(t["server"], 0.95), max(t["server"])
        print(f"country profile, server time over {t['n']} countries (each built once, after a {warmup:.1f} s "
              f"index warm-up): median {med:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms "
              f"(client wall: median {statistics.median(t['wall']):.1f} ms, p95 {pct(t['wall'], 0.95):.1f} ms); "
              f"target < {TARGET_MS:.0f} ms: {'OK' if p95 < TARGET_MS else 'MISSED'}; slowest: "
              + ", ".join(f"{c} {ms:.0f} ms" for ms, c in t["slowest"])
              + f"; machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        ok &= p95 < TARGET_MS
        from imdx.portal.router import reader_for

        if reader_for(store).has("estimated_region_flows"):
            f = flows_times(client, store)
            fmed, fp95, fmax = statistics.median(f["server"]), pct(f["server"], 0.95), max(f["server"])
            print(f"flows page, server time over {f['n']} combinations of sex, period, grouping and method (each "
                  f"once, the first request included): median {fmed:.1f} ms, p95 {fp95:.1f} ms, max {fmax:.1f} ms; "
                  f"target < {FLOWS_TARGET_MS:.0f} ms: {'OK' if fp95 < FLOWS_TARGET_MS else 'MISSED'}; slowest: "
                  + ", ".join(f"{c} {ms:.0f} ms" for ms, c in f["slowest"]))
            ok &= fp95 < FLOWS_TARGET_MS
            if not args.no_baseline:
                old, peak, seconds, rows = flows_baseline(args.db, args.old_page)
                print(f"  baseline 1, the old page (every current row of estimated_flows read into pandas on each "
                      f"request): {old}" + (f", peak {peak:,.0f} MiB in its own process" if args.old_page else ""))
                print(f"  baseline 2, a sum on request (the {rows:,} country flows of the one method, period and sex "
                      f"through Store.select, summed in pandas): {seconds * 1000:,.0f} ms; ratio "
                      f"{seconds * 1000 / fmed:,.1f}x the new median")
        else:
            print("flows page: the store holds no regional sums of estimates (run `imdx estimate flows --all`); "
                  "not measured")
        weights = page_weight(client)
    print(f"\npage weight (budget: HTML <= {BUDGET['html_raw'] // 1000} kB raw; everything a page loads "
          f"<= {BUDGET['total_gzip'] // 1000} kB gzip)")
    print(f"{'page':10} {'HTML raw':>10} {'HTML gz':>9} {'all raw':>10} {'all gz':>9} {'files':>6}  budget")
    for name, w in weights.items():
        within = w["html_raw"] <= BUDGET["html_raw"] and w["total_gzip"] <= BUDGET["total_gzip"]
        ok &= within
        print(f"{name:10} {w['html_raw']:>10,} {w['html_gzip']:>9,} {w['total_raw']:>10,} {w['total_gzip']:>9,} "
              f"{w['files']:>6}  {'OK' if within else 'OVER'}")
    server.should_exit = True
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
