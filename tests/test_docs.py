"""Docs that must stay complete: every dataflow and every command is documented."""

from __future__ import annotations

from pathlib import Path

from imdx.cli import main
from imdx.model.dataflows import DATAFLOWS

ROOT = Path(__file__).resolve().parents[1]


def test_every_dataflow_is_documented():
    text = (ROOT / "docs" / "dataflows.md").read_text("utf-8")
    missing = [f for f in DATAFLOWS if f"## `{f}`" not in text]
    assert not missing, f"add these dataflows to docs/dataflows.md: {missing}"


def test_every_command_is_in_the_readme():
    text = (ROOT / "README.md").read_text("utf-8")
    missing = [name for name in main.commands if f"imdx {name}" not in text]
    assert not missing, f"document these commands in README.md: {missing}"


def test_readme_quick_start_has_the_two_commands_ci_runs():
    readme = (ROOT / "README.md").read_text("utf-8")
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "make run" in readme and "make test" in readme and "make test" in ci


def test_architecture_covers_every_package():
    text = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    packages = sorted(p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "imdx").glob("*/__init__.py"))
    missing = [p for p in packages if f"`{p}/`" not in text]
    assert not missing, f"describe these packages in docs/architecture.md (table 'The packages'): {missing}"
