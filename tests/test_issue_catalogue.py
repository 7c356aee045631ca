"""Every issue type the code names is in the catalogue (imdx/model/issues.py), found in the source (so that
a new type fails here, not at run time in the middle of a load), and an unknown type is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imdx.model.issues import ISSUE_TYPES
from imdx.model.report import Issue

ROOT = Path(__file__).resolve().parents[1]
#: the ways the code makes an issue: Issue("type", ...), Issue(type="type"), ctx.issue("type"), and the
#: helpers that take the type first (flag(mask, "type"), fail("type"), add("type"))
NAMED = re.compile(r'(?:Issue\(\s*(?:type=)?|\.issue\(|\bflag\([^,()]+,\s*|\bfail\(|\badd\()\s*'
                   r'"([a-z][a-z0-9]*(?:-[a-z0-9]+)+)"')


def test_every_type_named_in_the_code_is_in_the_catalogue():
    named = {(m.group(1), path.relative_to(ROOT).as_posix()) for path in (ROOT / "imdx").rglob("*.py")
             for m in NAMED.finditer(path.read_text("utf-8"))}
    assert len(named) > 40
    missing = sorted((slug, where) for slug, where in named if slug not in ISSUE_TYPES)
    assert not missing, f"add these issue types to imdx/model/issues.py (meaning, what to do): {missing}"


def test_an_unknown_type_is_refused():
    with pytest.raises(ValueError, match="not in the catalogue imdx/model/issues.py"):
        Issue("no-such-kind-of-problem", "x")
    assert Issue("unmapped-area", "x").type == "unmapped-area"
