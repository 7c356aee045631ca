"""Every reader of a published file goes through the guarded readers (issue 13), so a new source gets the
limits for free: no module that reads what the load reads calls a parser that trusts the file."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the packages whose code reads publishers' files and messages
READERS = ["imdx/sources", "imdx/codes", "imdx/sdmx"]
#: the guarded readers themselves
GUARDED = {"imdx/sources/xlsx.py", "imdx/sources/csvfile.py", "imdx/sources/rfiles.py", "imdx/sources/fetch.py"}
#: calls that trust a file's sizes, and what to use instead
TRUSTING = {
    "CalamineWorkbook": "imdx.sources.xlsx.open_workbook", "read_excel": "imdx.sources.xlsx.open_workbook",
    "load_workbook": "imdx.sources.xlsx.open_workbook", "read_r": "imdx.sources.rfiles.read_r",
    "read_rda": "imdx.sources.rfiles.read_r", "read_rds": "imdx.sources.rfiles.read_r",
    "decompress": "imdx.limits.unpack", "ZipFile": "imdx.sources.xlsx or imdx.limits",
}


def _name(node: ast.AST) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found = []
    for function in [tree] + [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        calls = [n for n in ast.walk(function) if isinstance(n, ast.Call)]
        checked = any(_name(c.func) in ("check_csv", "check_text") for c in calls)
        for call in calls:
            name, owner = _name(call.func), _name(getattr(call.func, "value", ast.Name(id="")))
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name}:{call.lineno}"
            library_only = name in ("read_r", "read_rda", "read_rds") and owner not in ("pyreadr", "rdata")
            if name in TRUSTING and not library_only:
                found.append(f"{where} calls {name}: use {TRUSTING[name]}")
            elif owner in TRUSTING:  # CalamineWorkbook.from_path(...)
                found.append(f"{where} calls {owner}.{name}: use {TRUSTING[owner]}")
            if name == "read_csv" and owner in ("pd", "pandas"):
                first = call.args[0] if call.args else None
                in_memory = isinstance(first, ast.Call) and _name(first.func) == "StringIO"
                if not in_memory:  # text already read (and checked) is parsed from memory
                    found.append(f"{where} calls pandas.read_csv on a file: use imdx.sources.csvfile.read_csv")
            if name == "read_csv" and owner in ("pa_csv", "csv") and not checked:
                found.append(f"{where} parses a CSV with Arrow without imdx.sources.csvfile.check_csv first")
    return found


def test_readers_of_published_files_go_through_the_guarded_readers():
    files = [p for folder in READERS for p in (ROOT / folder).rglob("*.py")
             if str(p.relative_to(ROOT)) not in GUARDED]
    assert len(files) > 20
    found = sorted({v for p in files for v in _violations(p)})
    assert not found, "\n".join(found)


def test_the_rule_sees_a_trusting_reader(tmp_path):
    """The rule itself catches what it is meant to (a module written the way readers were before)."""
    module = tmp_path / "reader.py"
    module.write_text("import pandas as pd\nfrom python_calamine import CalamineWorkbook\n\n"
                      "def read(path):\n    CalamineWorkbook.from_path(path)\n    return pd.read_csv(path)\n")
    found = sorted(set(_violations(module)))
    assert len(found) == 2 and "open_workbook" in found[0] and "csvfile.read_csv" in found[1]
