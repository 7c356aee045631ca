"""Time and peak memory of each case-database release on 250,000 generated records.

    python benchmarks/bench_case_releases.py [--records 250000] [--seed 0] [--no-database]

Each release (k-anonymised microdata with its verification, DP aggregate tables, synthetic
microdata with its utility and disclosure-risk reports) is computed with the parameters the default
dataset policy gives (k = 11 over the policy's quasi-identifiers and every identifying field released)
and its files written, in a child process of its own so its peak memory is its own. Target (issues 6
and 12): under 5 s each. (Approving a release computes it twice: once for the DPO's preview, once to
publish what was previewed.) Then the same records are put in a case database and each release is
previewed and approved as a DPO does it (reading the records, computing, checksums, writing the
files, charging the ledger, signing a checkpoint): each of the two steps is timed against the same
target.
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
    parser.add_argument("--no-database", dest="database", action="store_false",
                        help="time the computations only, not preview and approval through a case database")
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
    if args.database:
        failed |= _through_database(records)
    return 1 if failed else 0


def _through_database(records) -> bool:
    """Preview and approve each kind through a case database holding ``records``; True if one is too slow."""
    import uuid

    import pandas as pd

    from imdx.cases.crypto import new_key
    from imdx.cases.releases import publish
    from imdx.cases.schema import RECORD_FIELDS
    from imdx.cases.service import CaseService

    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        svc = CaseService.from_env({"IMDX_CASES_DB": f"{tmp}/cases.duckdb", "IMDX_CASES_KEYS": new_key(),
                                    "IMDX_CASES_AUDIT_KEY": new_key(), "IMDX_CASES_FINGERPRINT_KEY": new_key(),
                                    "IMDX_CASES_ARGON2_COST": "1,8192"})
        svc.bootstrap("admin", "benchmark-password", "Platform")
        admin = svc.principal(svc.login("admin", "benchmark-password").access_token)
        svc.add_organisation(admin, "Org")
        svc.add_user(admin, "dpo", "benchmark-password", "Org", "data_protection_officer")
        rows = records.assign(organisation="Org", case_id=[uuid.uuid4().hex for _ in range(len(records))],
                              submission_id="benchmark", created_at=pd.Timestamp.now())
        with svc.store.transaction():
            svc.store.insert_frame("cases", rows[["case_id", "submission_id", "created_at",
                                                  *[f for f in RECORD_FIELDS if f in rows.columns]]])
        dpo = svc.principal(svc.login("dpo", "benchmark-password").access_token)
        print(f"\n{'through the case database':40} {'preview s':>9} {'approve s':>10}  target")
        for kind, params in (("k-anonymised", {}), ("dp-aggregates", {"epsilon": 1.0}),
                             ("synthetic", {"epsilon": 1.0})):
            release_id = publish.request_release(svc, dpo, kind, params)
            t0 = time.perf_counter()
            preview = publish.preview_release(svc, dpo, release_id)
            t1 = time.perf_counter()
            publish.approve_release(svc, dpo, release_id, preview["preview_digest"])
            t2 = time.perf_counter()
            ok = max(t1 - t0, t2 - t1) < TARGET_SECONDS
            failed |= not ok
            print(f"{kind:40} {t1 - t0:9.2f} {t2 - t1:10.2f}  {'ok' if ok else 'SLOWER THAN 5 s'}")
        svc.close()
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
