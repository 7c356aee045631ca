"""The boundaries of docs/architecture.md, checked on the source: the store is the only SQL boundary,
data enters by one door, format code stays apart from HTTP, and the CLI's modules do not import each
other. Each failure names the file and line, and what to do instead."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "imdx"

#: modules that only imdx/store/ may import
BACKENDS = ("imdx.store.duckdb_store", "imdx.store.postgres", "imdx.store.labels", "imdx.store.library_tables",
            "imdx.store.pg_schema", "imdx.store.pg_write", "imdx.store.pg_documents", "imdx.store.pg_copy",
            "imdx.store.pg_index", "duckdb", "psycopg", "psycopg_pool")
#: applications with a database of their own (not the store's tables), which may use a driver directly
OWN_DATABASES = {
    "imdx/cases/": "the case database: its own DuckDB file and keys (docs/cases.md); its releases enter the "
                   "store through imdx.ingest like any other data",
    "imdx/census/": "microdata tabulation runs its own DuckDB or Spark over the census files",
}
#: names of the store's tables and of the DuckDB backend's internals, as they would appear in SQL or code
STORE_TABLES = re.compile(r"\b(coded_[a-z_]+|obs_[a-z]+_[a-z_]+|release_dataflow|release_file|area_alias|"
                          r"dataflow_definition|RANKED_RELEASES)\b|\b(?i:FROM|JOIN|INTO|UPDATE)\s+(release|label|area|"
                          r"issue)\b")
LEAKS = re.compile(r"\.(with_cursor|current_sql|con)\b\s*[.(]")


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        yield rel, ast.parse(path.read_text("utf-8"), rel)


def imported(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def strings(tree: ast.AST):
    """String constants that are not docstrings."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


def _own_database(rel: str) -> bool:
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in OWN_DATABASES)


def test_only_the_store_imports_a_backend():
    found = [f"{rel}:{line} imports {name}" for rel, tree in modules()
             if not rel.startswith("imdx/store/") and not _own_database(rel)
             for line, name in imported(tree) if name in BACKENDS or name.split(".")[0] in BACKENDS]
    assert not found, ("outside imdx/store/, read and write through the Store interface (imdx.store.connect, "
                       "imdx/store/base.py), never a backend or a driver:\n" + "\n".join(found))


def test_no_sql_against_the_store_tables_outside_the_store():
    found = []
    for rel, tree in modules():
        if rel.startswith("imdx/store/") or _own_database(rel):
            continue
        text = (ROOT / rel).read_text("utf-8").splitlines()
        found += [f"{rel}:{line}: {value[:80]!r}" for line, value in strings(tree) if STORE_TABLES.search(value)]
        found += [f"{rel}:{i}: {t.strip()[:80]}" for i, t in enumerate(text, 1) if LEAKS.search(t)
                  and not t.lstrip().startswith("#")]
    assert not found, ("the store's tables are the store's: ask the Store interface (add a method to "
                       "imdx/store/base.py and every backend if none fits):\n" + "\n".join(found))


def test_one_door_for_data():
    found = [f"{rel}:{node.lineno}" for rel, tree in modules()
             if not rel.startswith("imdx/store/") and rel != "imdx/ingest.py"
             for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr == "write_release" and isinstance(node.ctx, ast.Load)]
    assert not found, "data enters the store through imdx.ingest.ingest only:\n" + "\n".join(found)


def test_sdmx_is_format_code_only():
    found = [f"{rel}:{line} imports {name}" for rel, tree in modules() if rel.startswith("imdx/sdmx/")
             for line, name in imported(tree)
             if name.split(".")[0] in ("fastapi", "starlette", "uvicorn") or name.startswith(("imdx.api", "imdx.load",
                                                                                                  "imdx.ingest"))]
    assert not found, ("imdx/sdmx holds structure, reader and writers; routes go in imdx/api, loading in "
                       "imdx/sources:\n" + "\n".join(found))


def test_command_modules_do_not_import_each_other():
    shared = {"imdx.cli", "imdx.cli.common", "imdx.cli.group", "imdx.cli.commands"}
    found = [f"{rel}:{line} imports {name}" for rel, tree in modules()
             if rel.startswith("imdx/cli/") and rel not in ("imdx/cli/commands.py", "imdx/cli/__init__.py")
             for line, name in imported(tree)
             if name.startswith("imdx.cli.") and name.rsplit(".", 1)[0] not in shared and name not in shared
             and not name.startswith(("imdx.cli.common.", "imdx.cli.group."))]
    assert not found, "command modules share code through imdx/cli/common.py only:\n" + "\n".join(found)


def test_the_portal_reader_does_not_import_the_pages():
    tree = ast.parse((PACKAGE / "portal" / "data.py").read_text("utf-8"))
    found = [name for _, name in imported(tree) if name.startswith("imdx.portal")]
    assert not found, f"imdx/portal/data.py is read by the pages; it must not import them: {found}"


def test_the_checks_catch_a_planted_leak(tmp_path):
    """The patterns above find what they are meant to find (else the tests prove nothing)."""
    planted = ast.parse('import duckdb\nfrom imdx.store.duckdb_store import DuckDBStore\n'
                        'x = "SELECT * FROM coded_migrant_stock o JOIN release r USING (release_id)"\n'
                        'store.write_release(a, b, c, d)\n')
    assert {n for _, n in imported(planted)} & set(BACKENDS)
    assert any(STORE_TABLES.search(v) for _, v in strings(planted))
    assert LEAKS.search("rows = store.con.execute('SELECT 1')") and LEAKS.search("reader.current_sql('x')")
    assert any(isinstance(n, ast.Attribute) and n.attr == "write_release" for n in ast.walk(planted))
