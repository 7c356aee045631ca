"""The research library and the coordination registry on PostgreSQL answer as on DuckDB: the same real imports
(IOM's 734 evaluations and the glossary, the registry seed) into a store of each backend holding the same
releases, then the same records with their provenance, imports, issues, searches, entries, links, audit, gaps
and 3W round trip. (tests/store/test_documents.py holds the interface's own rules on both backends.)"""

from __future__ import annotations

import shutil

import pytest

from imdx.library.service import Library
from imdx.registry.access import operator
from imdx.registry.gaps import matrix
from imdx.registry.seed import seed_all
from imdx.registry.threew import export_3w, import_3w
from imdx.store import connect
from tests.conftest import load_small
from tests.registry.test_http import cases  # noqa: F401 -- the case database's accounts the registry signs in with

#: queries of every kind the search answers: words, a glossary term, a phrase, a prefix, an exclusion, a typo
QUERIES = ["migration", "undocumented migrants", '"return and reintegration"', "traffick*", "labour -Asia",
           "remitances", ""]


@pytest.fixture(scope="module")
def stores(small_store, mirror, areas, pg_database, tmp_path_factory):
    """(DuckDB, PostgreSQL): the small store's releases, then the library's and the registry's real imports."""
    folder = tmp_path_factory.mktemp("library-both")
    duck_path = folder / "imdx.duckdb"
    shutil.copy(small_store, duck_path)
    pg_url = pg_database()
    with connect(pg_url) as store:
        load_small(store, mirror, folder / "cache", areas)
    opened = []
    for target in (duck_path, pg_url):
        store = connect(target)
        results = Library(store).add_from_mirror(mirror, actor="test")
        assert [r.status for r in results] == ["imported", "imported"]
        seed_all(store, mirror, actor="test")
        opened.append(store)
    yield opened
    for store in opened:
        store.close()


def _records(store) -> list:
    return [(r.record_id, r.body, sorted(r.links),
             [(s.source, s.source_key, s.file, s.sha256, s.location, s.import_id) for s in r.sources])
            for r in store.library_records()]


def test_the_same_records_imports_and_issues(stores):
    duck, pg = stores
    records = _records(duck)
    assert len(records) == 734 and records == _records(pg)
    assert duck.library_records(["no-such-id"]) == pg.library_records(["no-such-id"]) == []
    for rel in ("area", "gcm", "theme"):
        a, b = duck.library_link_counts(rel), pg.library_link_counts(rel)
        assert a.astype({"n": "int64"}).equals(b.astype({"n": "int64"})) and len(a), rel
    assert duck.library_linked("area", ["KEN", "UGA"]).values.tolist() == \
        pg.library_linked("area", ["KEN", "UGA"]).values.tolist() != []
    kept = ["import_id", "format", "file", "sha256", "size", "actor", "n_read", "n_new", "n_merged"]
    assert duck.library_imports()[kept].values.tolist() == pg.library_imports()[kept].values.tolist()
    issues = duck.library_issues()
    assert len(issues) and issues.fillna("").values.tolist() == pg.library_issues().fillna("").values.tolist()
    assert duck.library_generation() == pg.library_generation()


def test_the_same_search_answers(stores):
    duck, pg = (Library(s) for s in stores)
    for q in QUERIES:
        a, b = duck.search(q, size=20), pg.search(q, size=20)
        assert a.total == b.total > 0 and [h.id for h in a.hits] == [h.id for h in b.hits], q
        assert a.facets == b.facets and a.expansions == b.expansions, q
    assert duck.about_area("KEN")[0] == pg.about_area("KEN")[0] > 0


def _entries(store) -> list:
    return [(e.kind, e.entry_id, e.owner, e.body, e.links, e.version, e.updated_by) for e in store.registry_entries()]


def test_the_same_registry_entries_links_audit_and_gaps(stores):
    duck, pg = stores
    entries = _entries(duck)
    assert len(entries) > 900 and entries == _entries(pg)
    assert duck.registry_links().values.tolist() == pg.registry_links().values.tolist()
    funded = [e.entry_id for e in duck.registry_entries("activity", rel="donor", target="government-of-japan")]
    assert len(funded) == 28 and funded == [e.entry_id for e in pg.registry_entries(
        "activity", rel="donor", target="government-of-japan")]
    kept = ["actor", "action", "kind", "entry_id", "outcome"]
    assert duck.registry_audit(limit=50)[kept].values.tolist() == pg.registry_audit(limit=50)[kept].values.tolist()
    cells = [matrix(s, ["KEN", "DEU"]) for s in stores]
    assert len(cells[0]) == 46 and cells[0] == cells[1]


def test_a_3w_import_round_trips_on_both(stores, tmp_path):
    from tests.registry.test_registry import THREE_W

    path = tmp_path / "kenya-3w.csv"
    path.write_bytes(THREE_W.encode())
    versions = []
    for store in stores:
        before = store.version()
        result = import_3w(store, path, operator("cli:test"), owner="iom")
        assert (result.rows, result.activities, result.organisations) == (3, 3, 1)
        assert export_3w(store, result.table).encode() == path.read_bytes()
        assert store.version() != before
        versions.append([e.version for e in store.registry_entries("activity", entry_ids=["3w-kenya-3w-3"])])
    assert versions[0] == versions[1] == [1]


def test_two_servers_edit_one_registry(stores, cases):  # noqa: F811 -- the fixture imported above
    """Two servers on one PostgreSQL registry (each its own store, as two machines behind a proxy would have):
    a change made through one is answered by the other at once, and the same stale version sent to both at once
    is taken by one and refused (409) by the other, never both."""
    import concurrent.futures

    import httpx

    from imdx.api.app import create_app
    from tests.registry.test_http import serve, token

    servers = [serve(create_app(stores[1].url, portal=False, sdmx=False, cases=cases, registry_edits=True))
               for _ in range(2)]
    try:
        a, b = (httpx.Client(base_url=url, timeout=60) for _, _, url in servers)
        path = "/api/v1/registry/entries/activity/eval-9992310969aa2f428bc8aba29f865cf3"
        entry = a.get(path).json()
        assert b.get(path).json() == entry  # both have answered (and keep) the entry
        iom = token(a, "iom_user")
        body = {k: v for k, v in entry.items() if k != "links"} | {"description": "changed through a"}
        changed = a.put(path, json=body, headers=iom | {"If-Match": f'"{entry["version"]}"'})
        assert changed.status_code == 200, changed.text
        seen = b.get(path).json()
        assert (seen["version"], seen["description"]) == (entry["version"] + 1, "changed through a")

        stale = {"If-Match": f'"{seen["version"]}"'}
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda pair: pair[0].put(path, json=body | {"description": pair[1]},
                                                             headers=iom | stale), [(a, "from a"), (b, "from b")]))
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        won = next(r for r in answers if r.status_code == 200).json()
        now = a.get(path).json()
        assert now == b.get(path).json() and {k: v for k, v in now.items() if k != "links"} == won
        assert won["version"] == seen["version"] + 1
    finally:
        for server, thread, _ in servers:
            server.should_exit = True
            thread.join(timeout=10)
