"""Fetching from the publishers, against a local HTTP server that serves the real files of the
mirror at the official URLs (rewritten to 127.0.0.1) and can be told to fail: 500s, 404, slow
answers, truncated bodies, changed content, or not be there at all."""

from __future__ import annotations

import http.server
import io
import logging
import socket
import threading
import time
import zipfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from imdx.errors import SourceUnavailableError
from imdx.sources import m49, wdi, wpp
from imdx.sources.fetch import (
    Cache,
    DownloadError,
    Policy,
    download_to_cache,
    fetch_release,
    publisher_url,
    sha256_of,
)

FAST = Policy(retries=3, backoff=0.01, max_backoff=0.05, connect_timeout=2, read_timeout=0.5)
SPECS = [m49.SOURCE.releases[0], *wpp.SOURCE.releases, wdi.SOURCE.releases[0]]


class Publisher:
    """Serves ``<base>/<host>/<path>`` of every file of SPECS from the mirror; where several files share
    one URL (the World Bank's ``?downloadformat=csv``), a ZIP archive of them, as the publisher does.
    ``fail(path, *faults)`` queues faults, one per request: ``500``, ``404``, ``slow``, ``truncate``,
    ``changed``, ``html`` (a landing page instead of the file), ``nolength`` (no Content-Length)."""

    def __init__(self, mirror: Path):
        self.routes: dict[str, list[Path]] = {}
        self.faults: dict[str, list[str]] = {}
        self.always: dict[str, str] = {}
        self.hits: Counter = Counter()
        publisher = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                publisher.hits[self.path] += 1
                queue = publisher.faults.get(self.path) or []
                fault = queue.pop(0) if queue else publisher.always.get(self.path)
                if self.path not in publisher.routes or fault == "404":
                    self.send_error(404)
                    return
                if fault == "500":
                    self.send_error(500, "Internal Server Error")
                    return
                if fault == "slow":
                    time.sleep(2)
                body = publisher.body(self.path)
                kind = "application/zip" if len(publisher.routes[self.path]) > 1 else "application/octet-stream"
                if fault == "html":
                    body, kind = b"<!DOCTYPE html><html><body><a href='x.csv'>Download</a></body></html>", "text/html"

                if fault == "changed":
                    body = body + b"\n"  # the publisher revised the file
                self.send_response(200)
                self.send_header("Content-Type", kind)
                if fault != "nolength":  # a body whose size is not announced
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if fault == "truncate" else body)
                self.wfile.flush()
                self.close_connection = True

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        for spec in SPECS:
            for f in spec.files:
                files = self.routes.setdefault(self.path(f.url), [])
                if mirror / spec.source / f.name not in files:
                    files.append(mirror / spec.source / f.name)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def body(self, path: str) -> bytes:
        files = self.routes[path]
        if len(files) == 1:
            return files[0].read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for f in files:
                archive.write(f, f.name)
        return buffer.getvalue()

    def path(self, url: str) -> str:
        rewritten = urlsplit(publisher_url(url, "http://x"))
        return rewritten.path + (f"?{rewritten.query}" if rewritten.query else "")

    def fail(self, url: str, *faults: str) -> None:
        self.faults[self.path(url)] = list(faults)

    def count(self, url: str) -> int:
        return self.hits[self.path(url)]


@pytest.fixture()
def publisher(mirror):
    server = Publisher(mirror)
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture()
def closed_port_base():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there


SPEC = m49.SOURCE.releases[0]
CSV, XLSX = SPEC.files


def fetch(publisher, tmp_path, **kw):
    kw.setdefault("policy", FAST)
    return fetch_release(SPEC, mirror=kw.pop("mirror", None), cache=tmp_path / "cache", url_map=publisher.base, **kw)


def test_url_rewriting(monkeypatch):
    url = "https://population.un.org/wpp/assets/Excel%20Files/x.xlsx?a=1"
    assert publisher_url(url, "http://127.0.0.1:9/") == "http://127.0.0.1:9/population.un.org/wpp/assets/Excel%20Files/x.xlsx?a=1"
    assert publisher_url(url, {url: "http://elsewhere/x"}) == "http://elsewhere/x"
    assert publisher_url(url) == url
    monkeypatch.setenv("IMDX_PUBLISHER_BASE", "http://proxy:8080")
    assert publisher_url(url).startswith("http://proxy:8080/population.un.org/")


def test_download_is_verified_and_cached_by_checksum(publisher, tmp_path):
    paths, records = fetch(publisher, tmp_path)
    for f, rec in zip(SPEC.files, records):
        assert rec.sha256 == f.sha256 and rec.retrieved_from == f.url and rec.size == paths[f.name].stat().st_size
        assert (tmp_path / "cache" / "objects" / f.sha256[:2] / f.sha256).is_file()
    # the files of a release sit side by side under their published names (readers rely on it)
    assert paths[CSV.name].parent == paths[XLSX.name].parent and paths[CSV.name].name == CSV.name
    _, again = fetch(publisher, tmp_path)
    assert publisher.count(CSV.url) == 1 and publisher.count(XLSX.url) == 1  # no second download
    assert all(r.retrieved_from.startswith("cache:") and "sha256 verified" in r.retrieved_from for r in again)


def test_a_loaded_release_from_the_publisher(publisher, tmp_path, mirror):
    """The whole path: load.py's load_release on files fetched over HTTP gives the same store as the mirror."""
    from imdx.codes.build import build_areas
    from imdx.load import load_release
    from imdx.store.duckdb_store import DuckDBStore

    spec = wpp.SOURCE.releases[0]
    paths, files = fetch_release(spec, mirror=None, cache=tmp_path / "cache", url_map=publisher.base, policy=FAST)
    with DuckDBStore(tmp_path / "imdx.duckdb") as store:
        outcome = load_release(store, spec, paths, files, build_areas(mirror / "m49"))
        assert outcome.status == "loaded" and not [i for i in outcome.report if i.type == "file-changed"]
        assert set(store.release_files().retrieved_from) == {f.url for f in spec.files}


def test_server_errors_are_retried_with_backoff(publisher, tmp_path):
    publisher.fail(CSV.url, "500", "500")
    _, records = fetch(publisher, tmp_path)
    assert publisher.count(CSV.url) == 3 and records[0].sha256 == CSV.sha256


def test_backoff_doubles_and_is_bounded(publisher, tmp_path):
    publisher.fail(CSV.url, *["500"] * 10)
    waits = []
    policy = Policy(retries=4, backoff=1.0, max_backoff=3.0, read_timeout=1)
    with pytest.raises(DownloadError, match="HTTP 500.*after 5 attempts"):
        download_to_cache(publisher_url(CSV.url, publisher.base), Cache(tmp_path), policy=policy, sleep=waits.append)
    assert publisher.count(CSV.url) == 5 and len(waits) == 4
    assert 0.8 <= waits[0] <= 1.2 and 1.6 <= waits[1] <= 2.4 and all(w <= 3.0 * 1.2 for w in waits)


def test_not_found_is_not_retried_and_falls_back_to_the_mirror_saying_so(publisher, tmp_path, mirror, caplog):
    publisher.fail(CSV.url, *["404"] * 5)
    with caplog.at_level(logging.WARNING, logger="imdx.fetch"):
        paths, records = fetch(publisher, tmp_path, fallback=mirror)
    assert publisher.count(CSV.url) == 1
    # both files side by side (one from the mirror, one from the publisher), as readers expect
    assert paths[CSV.name].parent == paths[XLSX.name].parent and sha256_of(paths[CSV.name]) == CSV.sha256
    assert records[0].retrieved_from.startswith(f"fallback:{mirror / 'm49' / CSV.name}")
    assert "HTTP 404" in records[0].retrieved_from
    assert "publisher unreachable" in caplog.text and "using the mirror copy" in caplog.text
    assert records[1].retrieved_from == XLSX.url  # the other file came from the publisher


def test_slow_answers_time_out_then_succeed(publisher, tmp_path):
    publisher.fail(CSV.url, "slow")
    started = time.monotonic()
    _, records = fetch(publisher, tmp_path)
    assert publisher.count(CSV.url) == 2 and records[0].sha256 == CSV.sha256
    assert time.monotonic() - started < 10


def test_truncated_bodies_are_retried_and_never_cached(publisher, tmp_path):
    publisher.fail(XLSX.url, "truncate")
    _, records = fetch(publisher, tmp_path)
    assert publisher.count(XLSX.url) == 2 and records[1].sha256 == XLSX.sha256
    publisher.always[publisher.path(CSV.url)] = "truncate"
    with pytest.raises(SourceUnavailableError, match="truncated download.*after 4 attempts"):
        fetch(publisher, tmp_path / "other")
    objects = list((tmp_path / "other" / "cache" / "objects").rglob("*")) if (tmp_path / "other").exists() else []
    assert all(sha256_of(p) == p.name for p in objects if p.is_file())  # only whole, verified files are kept
    assert not list((tmp_path / "other" / "cache" / "tmp").glob("*.part"))


def test_changed_content_is_a_new_vintage_never_an_overwrite(publisher, tmp_path, mirror, caplog):
    from imdx.codes.build import build_areas
    from imdx.load import load_release
    from imdx.store.duckdb_store import DuckDBStore

    fetch(publisher, tmp_path)  # the known bytes are in the cache
    old = tmp_path / "cache" / "objects" / CSV.sha256[:2] / CSV.sha256
    before = old.read_bytes()
    publisher.always[publisher.path(CSV.url)] = "changed"
    with caplog.at_level(logging.WARNING, logger="imdx.fetch"):
        paths, records = fetch(publisher, tmp_path, refresh=True)
    assert "changed" in caplog.text and "new vintage" in caplog.text
    assert records[0].sha256 != CSV.sha256 and paths[CSV.name].read_bytes() == before + b"\n"
    assert old.read_bytes() == before  # the previous vintage is kept as it was
    vintages = Cache(tmp_path / "cache").vintages("m49", CSV.name)
    assert [v["sha256"] for v in vintages] == [CSV.sha256, records[0].sha256]
    with DuckDBStore(tmp_path / "imdx.duckdb") as store:
        outcome = load_release(store, SPEC, paths, records, build_areas(mirror / "m49"))
    changed = [i for i in outcome.report if i.type == "file-changed"]
    assert outcome.status == "loaded" and [i.file for i in changed] == [CSV.name]


def test_first_download_that_differs_from_the_known_checksum(publisher, tmp_path):
    publisher.always[publisher.path(CSV.url)] = "changed"
    _, records = fetch(publisher, tmp_path)
    assert records[0].sha256 != CSV.sha256 and records[0].retrieved_from == CSV.url
    # asking again does not return the known checksum's bytes (there are none): it downloads again
    _, again = fetch(publisher, tmp_path)
    assert again[0].sha256 == records[0].sha256 and publisher.count(CSV.url) == 2


def test_unreachable_publisher_falls_back_to_the_mirror(closed_port_base, tmp_path, mirror, caplog):
    with caplog.at_level(logging.WARNING, logger="imdx.fetch"):
        _, records = fetch_release(SPEC, mirror=None, cache=tmp_path / "cache", url_map=closed_port_base,
                                   policy=replace(FAST, retries=1), fallback=mirror)
    assert all(r.retrieved_from.startswith("fallback:") and "ConnectError" in r.retrieved_from for r in records)
    assert [r.sha256 for r in records] == [f.sha256 for f in SPEC.files]
    assert caplog.text.count("publisher unreachable") == 2


def test_unreachable_publisher_uses_the_fallback_setting(closed_port_base, tmp_path, mirror, monkeypatch):
    monkeypatch.setenv("IMDX_FALLBACK_MIRROR", str(mirror))
    _, records = fetch_release(SPEC, mirror=None, cache=tmp_path / "cache", url_map=closed_port_base,
                               policy=replace(FAST, retries=0))
    assert all(r.retrieved_from.startswith(f"fallback:{mirror}") for r in records)


def test_unreachable_publisher_without_any_copy_is_a_clear_error(closed_port_base, tmp_path, monkeypatch):
    monkeypatch.delenv("IMDX_FALLBACK_MIRROR", raising=False)
    with pytest.raises(SourceUnavailableError) as err:
        fetch_release(SPEC, mirror=None, cache=tmp_path / "cache", url_map=closed_port_base,
                      policy=replace(FAST, retries=1))
    message = str(err.value)
    assert CSV.url in message and "after 2 attempts" in message and "IMDX_MIRROR" in message


def test_unreachable_publisher_falls_back_to_the_last_cached_vintage(publisher, closed_port_base, tmp_path,
                                                                      monkeypatch, caplog):
    monkeypatch.delenv("IMDX_FALLBACK_MIRROR", raising=False)
    fetch(publisher, tmp_path)
    with caplog.at_level(logging.WARNING, logger="imdx.fetch"):
        _, records = fetch_release(SPEC, mirror=None, cache=tmp_path / "cache", url_map=closed_port_base,
                                   policy=replace(FAST, retries=0), refresh=True)
    assert all(r.retrieved_from.startswith("fallback:cache:") for r in records)
    assert [r.sha256 for r in records] == [f.sha256 for f in SPEC.files] and "cached vintage" in caplog.text


def test_a_mirror_that_has_the_file_is_used_first(publisher, tmp_path, mirror):
    _, records = fetch(publisher, tmp_path, mirror=mirror)
    assert sum(publisher.hits.values()) == 0
    assert [r.retrieved_from for r in records] == [str(mirror / "m49" / f.name) for f in SPEC.files]


def test_mirror_command_fills_a_folder_imdx_mirror_reads(publisher, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from imdx.cli.mirror import mirror_cmd

    monkeypatch.setenv("IMDX_PUBLISHER_BASE", publisher.base)
    monkeypatch.setenv("IMDX_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("IMDX_FALLBACK_MIRROR", raising=False)
    publisher.fail(CSV.url, "500")
    result = CliRunner().invoke(mirror_cmd, [str(tmp_path / "mirror"), "m49", "--retries", "2"])
    assert result.exit_code == 0, result.output
    for f in SPEC.files:
        assert sha256_of(tmp_path / "mirror" / "m49" / f.name) == f.sha256
    _, records = fetch_release(SPEC, mirror=tmp_path / "mirror", cache=tmp_path / "cache2")
    assert all(r.retrieved_from.startswith(str(tmp_path / "mirror")) for r in records)
    publisher.always[publisher.path(XLSX.url)] = "404"
    stale = CliRunner().invoke(mirror_cmd, [str(tmp_path / "mirror2"), "m49", "--retries", "0"])
    assert stale.exit_code == 0 and "fallback" in stale.output  # the cached vintage, said so
    monkeypatch.setenv("IMDX_CACHE", str(tmp_path / "empty-cache"))
    failed = CliRunner().invoke(mirror_cmd, [str(tmp_path / "mirror3"), "m49", "--retries", "0"])
    assert failed.exit_code == 1 and "could not be fetched" in failed.output


def test_mirror_command_rejects_unknown_sources(tmp_path):
    from click.testing import CliRunner

    from imdx.cli.mirror import mirror_cmd

    result = CliRunner().invoke(mirror_cmd, [str(tmp_path), "nope"])
    assert result.exit_code != 0 and "unknown source" in str(result.exception)


def test_a_zip_answer_gives_the_files_packed_in_it(publisher, tmp_path):
    """The World Bank answers ``?downloadformat=csv`` with a ZIP of the data and metadata CSVs."""
    spec = wdi.SOURCE.releases[0]
    paths, records = fetch_release(spec, mirror=None, cache=tmp_path / "cache", url_map=publisher.base, policy=FAST)
    assert [r.sha256 for r in records] == [f.sha256 for f in spec.files]
    assert publisher.count(spec.files[0].url) == 1  # one download for both files
    assert all("member" in r.retrieved_from and "ZIP" in r.retrieved_from for r in records)
    assert paths[spec.files[0].name].name == spec.files[0].name


def test_a_landing_page_is_not_the_file(publisher, tmp_path, mirror, caplog):
    publisher.fail(CSV.url, "html", "html")
    with caplog.at_level(logging.WARNING, logger="imdx.fetch"):
        _, records = fetch(publisher, tmp_path, fallback=mirror)
    assert publisher.count(CSV.url) == 1 and records[0].sha256 == CSV.sha256
    assert "web page" in records[0].retrieved_from and records[0].retrieved_from.startswith("fallback:")


def test_imdx_load_from_the_publishers(publisher, tmp_path, monkeypatch):
    """`imdx load wpp` without a mirror: m49 and WPP fetched from the (local) publishers, recorded so."""
    from imdx.config import settings
    from imdx.load import load
    from imdx.store.duckdb_store import DuckDBStore

    monkeypatch.setenv("IMDX_PUBLISHER_BASE", publisher.base)
    monkeypatch.delenv("IMDX_MIRROR", raising=False)
    monkeypatch.delenv("IMDX_FALLBACK_MIRROR", raising=False)
    with DuckDBStore(tmp_path / "imdx.duckdb") as store:
        summary = load(store, settings(env={}, cache=str(tmp_path / "cache")), ["wpp"])
        assert [o.status for o in summary.outcomes] == ["loaded", "loaded"], [o.error for o in summary.outcomes]
        files = store.release_files()
        assert len(files) == len(SPEC.files) + len(wpp.SOURCE.releases[0].files)
        assert all(f.startswith("https://") for f in files.retrieved_from)


@pytest.mark.parametrize("fault", [None, "nolength"])
def test_a_download_past_the_size_limit_is_stopped_and_not_kept(publisher, tmp_path, fault):
    """Refused at once when the publisher announces the size, else as soon as the bytes pass the limit;
    nothing of it stays in the cache, and no fallback hides it."""
    from imdx import limits

    if fault:
        publisher.fail(XLSX.url, fault)
    with limits.using(limits.Limits(max_file=100_000)), pytest.raises(limits.LimitError) as err:
        fetch(publisher, tmp_path)
    assert XLSX.name in str(err.value) and "max_file" in str(err.value) and "IMDX_MAX_FILE=" in str(err.value)
    assert ("Content-Length" in str(err.value)) == (fault is None)
    assert not list((tmp_path / "cache" / "tmp").glob("*.part"))
    assert not (tmp_path / "cache" / "objects" / XLSX.sha256[:2] / XLSX.sha256).exists()


def test_a_zip_member_past_the_limits_is_refused(publisher, tmp_path):
    from imdx import limits

    spec = wdi.SOURCE.releases[0]
    with limits.using(limits.Limits(max_unpacked=10_000)), pytest.raises(limits.LimitError) as err:
        fetch_release(spec, mirror=None, cache=tmp_path / "cache", url_map=publisher.base, policy=FAST)
    assert "member" in str(err.value) and "ZIP archive" in str(err.value) and "max_unpacked" in str(err.value)
