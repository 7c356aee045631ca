"""The web portal: server time of a country profile, and the weight of each page type.

1. Server time of ``/country/{code}`` on the full store, for every country with data (each profile
   requested once, so each is built from the store, not served from the portal's page cache; the
   portal's per-dataflow indexes are built first, as ``imdx serve`` does at start-up, and that
   warm-up is reported on its own). The time is the server's own (``Server-Timing: app;dur=``),
   measured over HTTP against a uvicorn server on loopback; the client's wall time is shown too.
   Target: median and p95 under 100 ms.
2. Page weight of each page type: bytes of the HTML, the scripts and styles it loads and the data
   its charts fetch (the world map), raw and gzip-compressed as sent, against the budget stated in
   docs/portal.md.

    python benchmarks/bench_portal.py --db imdx.duckdb [--countries 0]   # 0: every country
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
#: budget per page type (bytes): HTML alone, and everything the page loads, compressed as sent
BUDGET = {"html_raw": 150_000, "total_gzip": 400_000}
PAGE_TYPES = {"home": "/", "country": "/country/DEU", "corridor": "/corridor/MEX/USA", "flows": "/flows",
              "explore": "/explore", "sources": "/sources", "search": "/search?q=Mexico+to+United+States"}


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
