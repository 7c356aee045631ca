"""docs/cases.md stays complete: every command, route and setting of the case database is in it."""

from __future__ import annotations

import re
from pathlib import Path

import click

from imdx.cases.routes import PREFIX, cases_router
from imdx.cases.settings import SETTINGS
from imdx.cli.cases import cases

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cases.md").read_text("utf-8")


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    out = []
    for name, command in group.commands.items():
        out += _commands(command, f"{prefix}{name} ") if isinstance(command, click.Group) else [f"{prefix}{name}"]
    return out


def test_every_command_is_documented():
    listed = DOC[DOC.index("## Commands and routes"):]
    words = set(re.findall(r"[a-z][a-z-]+", listed))
    missing = [c for c in _commands(cases) if not set(c.split()) <= words]
    assert not missing, f"add to docs/cases.md: {missing}"


def test_every_route_and_setting_is_documented(service):
    routes = [r.path.removeprefix(PREFIX) for r in cases_router(service).routes if r.include_in_schema]
    simplified = [re.sub(r"\{[^}]+\}", "{}", r) for r in routes]
    doc = re.sub(r"\{[^}]+\}", "{}", DOC).replace("\\|", "|")
    missing = [r for r in simplified if r not in doc]
    assert not missing, f"add these routes to docs/cases.md: {missing}"
    assert not [s.env for s in SETTINGS if s.env not in DOC]
