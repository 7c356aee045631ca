"""Time and peak memory of each case-database release on 250,000 generated records.

    python benchmarks/bench_case_releases.py [--records 250000] [--seed 0]

Each release (k-anonymised microdata with its verification, DP aggregate tables, synthetic
microdata with its utility and disclosure-risk reports) is computed with the parameters the default
dataset policy gives (k = 11 over the policy's quasi-identifiers and every identifying field released)
and its files written, in a child process of its own so its peak memory is its own. Target (issues 6
and 12): under 5 s each. (Approving a release computes it twice: once for the DPO's preview, once to
publish what was previewed.)
Baseline: the same count tables without any protection (pandas ``groupby``), i.e. what the
protection costs over publishing raw counts.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 5.0


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _run(name, records, out_dir, queue):
    from imdx.cases.policy import ReleasePolicy, effective_parameters
    from imdx.cases.releases.publish import csv_bytes, run_release
    from imdx.cases.releases.randomness import new_secret

    start_rss = _rss_mib()
    t0 = time.perf_counter()
    if name == "baseline: raw counts (no protection)":
        tables = [records.groupby(["country_of_exploitation", "year_of_registration"], dropna=False).size(),
                  records.groupby(["gender", "age_band"], dropna=False).size()]
        for i, t in enumerate(tables):
            t.to_csv(Path(out_dir) / f"raw{i}.csv")
    else:
        kind, params = {"k-anonymised (k=11)": ("k-anonymised", {"k": 11}),
                        "DP aggregates (Laplace, eps=1)": ("dp-aggregates", {"epsilon": 1.0}),
                        "synthetic (eps=1)": ("synthetic", {"epsilon": 1.0})}[name]
        params = effective_parameters(kind, params, ReleasePolicy())
        files, _, _, _ = run_release(kind, records, params, new_secret())
        for fname, frame in files.items():
            (Path(out_dir) / fname).write_bytes(csv_bytes(frame))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((name, seconds, peak, peak - start_rss))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from imdx.cases.generator import generate_cases

    t0 = time.perf_counter()
    records = generate_cases(args.records, seed=args.seed, identifying=False)
    print(f"generated {len(records):,} records in {time.perf_counter() - t0:.2f} s "
          f"(process RSS {_rss_mib():.0f} MiB); {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    names = ["baseline: raw counts (no protection)", "k-anonymised (k=11)", "DP aggregates (Laplace, eps=1)",
             "synthetic (eps=1)"]
    ctx = mp.get_context("fork")
    failed = False
    print(f"{'release':40} {'seconds':>8} {'peak RSS MiB':>13} {'above start':>12}  target")
    with tempfile.TemporaryDirectory() as out_dir:
        for name in names:
            queue = ctx.Queue()
            child = ctx.Process(target=_run, args=(name, records, out_dir, queue))
            child.start()
            result = queue.get()
            child.join()
            _, seconds, peak, growth = result
            ok = seconds < TARGET_SECONDS
            failed |= not ok and not name.startswith("baseline")
            print(f"{name:40} {seconds:8.2f} {peak:13.0f} {growth:12.0f}  "
                  f"{'-' if name.startswith('baseline') else ('ok' if ok else 'SLOWER THAN 5 s')}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
