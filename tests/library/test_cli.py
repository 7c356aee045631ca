"""`imdx library ...` and `imdx registry ...` as a user types them (the click commands the console script runs)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from imdx.cli import main


def run(*args, input=None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    return result.exit_code, result.output


def test_library_commands(stats_copy, tmp_path, monkeypatch, mirror):
    monkeypatch.setenv("IMDX_MIRROR", str(mirror))
    code, out = run("library", "add", "--from-mirror", "--db", stats_copy)
    assert code == 0 and "734" in out and "glossary" in out
    code, out = run("library", "search", "irregular", "migration", "--country", "Libya", "--format", "json",
                    "--db", stats_copy)
    found = json.loads(out)
    assert code == 0 and found["total"] >= 1 and all("LBY" in h["countries"] for h in found["hits"])
    assert found["expansions"][0]["matched"] == "irregular migration"
    code, out = run("library", "show", found["hits"][0]["id"], "--format", "bibtex", "--db", stats_copy)
    assert code == 0 and out.startswith("@techreport{")
    code, out = run("library", "show", "no-such-record", "--db", stats_copy)
    assert code == 2 and "no record" in out
    target = tmp_path / "out.json"
    code, _ = run("library", "export", "remittances", "--output", target, "--db", stats_copy)
    assert code == 0 and len(json.loads(target.read_text())) == 16
    bad = tmp_path / "bad.bib"
    bad.write_text("@article{x, title = {never closed", "utf-8")
    code, out = run("library", "add", bad, "--db", stats_copy)
    assert code == 1 and "error:" in out and "nothing was imported" in out
    code, out = run("library", "imports", "--db", stats_copy)
    assert code == 0 and "734" in out and "bad.bib" not in out


def test_registry_commands(library_copy, tmp_path, monkeypatch, mirror):
    from tests.registry.test_registry import THREE_W

    monkeypatch.setenv("IMDX_MIRROR", str(mirror))
    code, out = run("registry", "seed", "--db", library_copy)
    assert code == 0 and "23" in out and "734" in out
    code, out = run("registry", "gaps", "Kenya", "Germany", "--gcm", "19", "--format", "json", "--db", library_copy)
    cells = json.loads(out)
    assert code == 0 and [c["country"] for c in cells] == ["KEN", "DEU"]
    path = tmp_path / "w.csv"
    path.write_bytes(THREE_W.encode())
    code, out = run("registry", "import-3w", path, "--organisation", "iom", "--db", library_copy)
    assert code == 0 and "3 activities" in out
    exported = tmp_path / "back.csv"
    code, _ = run("registry", "export-3w", "--table", "w", "--output", exported, "--db", library_copy)
    assert code == 0 and exported.read_bytes() == path.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(THREE_W.replace("KEN", "KENYA-X").encode())
    code, out = run("registry", "import-3w", bad, "--organisation", "iom", "--db", library_copy)
    assert code == 1 and "unknown-country" in out
    event = json.dumps({"title": "Data week", "date": "2025-05-01", "organisers": ["iom"], "country": "Kenya"})
    code, out = run("registry", "put", "event", "data-week", "-", "--db", library_copy, input=event)
    assert code == 0 and "version 1" in out
    code, out = run("registry", "put", "event", "data-week", "-", "--db", library_copy, input=event)
    assert code == 2 and "send its version" in out
    code, out = run("registry", "show", "event", "data-week", "--db", library_copy)
    assert json.loads(out)["country"] == "KEN"
    code, out = run("registry", "audit", "--kind", "event", "--db", library_copy)
    assert code == 0 and "data-w" in out and "create" in out
