"""`make lint` passes: ruff's rule set (pycodestyle, pyflakes, bugbear, pyupgrade, complexity, import order)
on the whole code, and mypy on the store, queries, loading and the API (pyproject.toml has both settings)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_lint_passes():
    assert shutil.which("make"), "make is missing: apt-get install -y make"
    result = subprocess.run(["make", "-s", "lint", f"PYTHON={sys.executable}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
