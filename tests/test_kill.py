"""A load killed with SIGKILL part-way leaves a store that opens and holds exactly what it held before,
and no worker process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from imdx.config import settings
from imdx.load import load
from imdx.store.duckdb_store import DuckDBStore


def _contents(path) -> dict:
    with DuckDBStore(path, read_only=True) as store:
        con = store.con
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        return {t: con.execute(f"SELECT count(*), coalesce(sum(hash(COLUMNS(*))), 0) FROM {t}").fetchall()
                for t in tables}


def _assert_before_plus_whole_releases(db, before, fraction):
    """Each release is all or nothing: the store holds what it held before, plus only releases that
    landed whole (every observation their record counts, no observation of an unknown release)."""
    after = _contents(db)
    with DuckDBStore(db, read_only=True) as store:
        con = store.con
        new = [r[0] for r in con.execute("SELECT release_id FROM release WHERE release_id > ?",
                                         [before["release"][0][0]]).fetchall()]
        if not new:
            assert after == before, f"store changed after SIGKILL at {fraction:.0%} of the load"
            return
        for release_id in new:
            for flow, n_obs in con.execute("SELECT dataflow, n_obs FROM release_dataflow WHERE release_id = ?",
                                           [release_id]).fetchall():
                stored = con.execute(f"SELECT count(*) FROM obs_{flow} WHERE release_id = ?", [release_id]).fetchone()
                assert stored[0] == n_obs, f"release {release_id} {flow} is partial after SIGKILL"
        for table in (t for t in after if t.startswith("obs_")):
            orphans = con.execute(f"SELECT count(*) FROM {table} WHERE release_id NOT IN "
                                  "(SELECT release_id FROM release)").fetchone()[0]
            assert orphans == 0, f"{table} holds observations of a release that was never committed"
            kept = con.execute(f"SELECT count(*), coalesce(sum(hash(COLUMNS(*))), 0) FROM {table} "
                               "WHERE release_id <= ?", [before["release"][0][0]]).fetchall()
            assert kept == before[table], f"{table}: what was there before changed"


def _loaders(db) -> list[int]:
    """The processes whose command line names ``db``: a load and its forked workers."""
    found = []
    for proc in os.listdir("/proc"):
        try:
            if proc.isdigit() and str(db).encode() in Path(f"/proc/{proc}/cmdline").read_bytes():
                found.append(int(proc))
        except OSError:  # it ended meanwhile
            pass
    return found


def _assert_ended(pids: set[int], db) -> None:
    deadline = time.monotonic() + 10
    while pids & set(_loaders(db)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pids & set(_loaders(db)), "worker processes outlived the killed load"


def test_sigkill_during_load_leaves_store_unchanged(tmp_path, mirror):
    db = tmp_path / "store.duckdb"
    with DuckDBStore(db) as store:
        load(store, settings(mirror=str(mirror)), ["wpp"])
    before = _contents(db)
    assert before["obs_births"][0][0] > 20_000

    # time a full load of the biggest source into a scratch copy, then kill a real load half-way
    scratch = tmp_path / "scratch.duckdb"
    cmd = [sys.executable, "-m", "imdx.cli.__main__", "load", "unhcr", "--db"]
    env = {**os.environ, "IMDX_MIRROR": str(mirror), "IMDX_WORKERS": "2"}
    start = time.perf_counter()
    subprocess.run(cmd + [str(scratch)], env=env, check=True, capture_output=True)
    full = time.perf_counter() - start

    killed, workers_seen = 0, 0
    for fraction in (0.5, 0.8, 0.3):
        if killed == 2:
            break
        proc = subprocess.Popen(cmd + [str(db)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full * fraction)
        if proc.poll() is None:
            workers = set(_loaders(db)) - {proc.pid}  # none before the load forks them, or after it is done
            workers_seen += len(workers)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed += 1
            _assert_ended(workers, db)
            _assert_before_plus_whole_releases(db, before, fraction)
        else:  # the load finished before the kill: it must have landed whole; start again from `before`
            with DuckDBStore(db) as store:
                assert "unhcr" in set(store.releases().source)
            break
    assert killed >= 1, "no load was still running when the kill came; the test proved nothing"
    assert workers_seen, "no kill came while workers were running; the test proved nothing about them"
