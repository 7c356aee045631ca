"""The research library's and the registry's part of the store interface (imdx/store/base.py), through
``imdx.store.connect`` as every caller opens a store: each write is one transaction (all or nothing), a
registry change needs the version it was made against and its audit rows, ``version()`` changes with every
committed write (not with an audit row alone, so refusals empty no cache), reads from many threads see one
state while writes commit, and a store opened read-only refuses writes with a message that says what to do.
Every test runs on each backend (tests/store/conftest.py).

Small documents made here, not the real files: tests/library and tests/registry load those."""

from __future__ import annotations

import threading

import pytest

from imdx.errors import StoreError
from imdx.model.report import Issue, Report
from imdx.store import connect
from imdx.store.documents import AuditRow, LibraryImport, RecordSource, RegistryChange, StoredRecord, VersionConflict


@pytest.fixture
def target(backend):
    return backend.target()


def _records(*ids: str) -> list[StoredRecord]:
    return [StoredRecord(i, {"id": i, "title": f"On {i}"}, [("area", "KEN"), ("gcm", "10")],
                         [RecordSource("bibtex", i, "refs.bib", "ab" * 32, f"line {n}")]) for n, i in enumerate(ids)]


def _import(n: int) -> LibraryImport:
    return LibraryImport("bibtex", "refs.bib", "ab" * 32, 100, "test", n, n, 0)


def _audit(entry_id: str, action: str = "create") -> list[AuditRow]:
    return [AuditRow("tester", "iom", action, "event", entry_id)]


class _FailingReport(Report):
    """A report that cannot be read: the write fails after its records are in, before its issues are."""

    def to_frame(self):
        raise RuntimeError("the write failed half-way")


def test_a_library_import_is_one_transaction_and_changes_the_version(target):
    with connect(target) as store:
        start = store.version()
        report = Report([Issue("no-area", "refs.bib: a record names no area", "info", source="library")])
        assert store.write_library(_records("a", "b"), _import(2), report) == 1
        after = store.version()
        assert after != start
        assert [r.record_id for r in store.library_records()] == ["a", "b"]
        assert store.library_records(["b"])[0].sources[0].import_id == 1 and store.library_records([]) == []
        assert store.library_linked("area", ["KEN"])["record_id"].tolist() == ["a", "b"]
        assert store.library_link_counts("gcm").to_dict("records") == [{"target": "10", "n": 2}]
        assert store.library_issues(1)["type"].tolist() == ["no-area"]
        generation = store.library_generation()

        with pytest.raises(ValueError, match=r"\['c'\] twice"):  # the same record twice in one import
            store.write_library(_records("c", "c"), _import(2), report)
        with pytest.raises(RuntimeError, match="failed half-way"):  # after the records, before the issues
            store.write_library(_records("d"), _import(1), _FailingReport())
        assert [r.record_id for r in store.library_records()] == ["a", "b"]
        assert len(store.library_imports()) == 1 and len(store.library_issues()) == 1
        assert store.version() == after and store.library_generation() == generation


def test_registry_changes_are_versioned_and_audited_and_refusals_change_no_version(target):
    with connect(target) as store:
        store.write_registry([RegistryChange("event", "e1", "iom", {"title": "Workshop"}, [("area", "KEN")])],
                             _audit("e1"))
        first = store.version()
        [entry] = store.registry_entries("event")
        assert (entry.version, entry.links, entry.updated_by) == (1, [("area", "KEN")], "tester")

        with pytest.raises(VersionConflict, match="is at version 1"):
            store.write_registry([RegistryChange("event", "e1", "iom", {"title": "Stale"}, expected_version=0)],
                                 _audit("e1", "update"))
        with pytest.raises(ValueError, match="audited"):
            store.write_registry([RegistryChange("event", "e1", "iom", {"title": "Unaudited"}, expected_version=1)],
                                 [])
        assert store.registry_entries("event")[0].body == {"title": "Workshop"} and store.version() == first

        store.audit_registry([AuditRow("intruder", "unhcr", "update", "event", "e1", outcome="denied")])
        assert store.version() == first  # a refusal changes nothing that is answered
        store.write_registry([RegistryChange("event", "e1", "iom", {"title": "Workshop 2"}, [], expected_version=1)],
                             _audit("e1", "update"))
        assert store.version() != first
        assert store.registry_entries("event", rel="area") == []
        log = store.registry_audit("event", "e1")
        assert log[["actor", "outcome"]].values.tolist() == [["tester", "ok"], ["intruder", "denied"],
                                                            ["tester", "ok"]]
        for nul in ({"kind": "event\x00"}, {"rel": "area", "target": "KEN\x00"}, {"entry_ids": ["e1\x00"]}):
            assert store.registry_entries(**nul) == []  # a text no store can hold matches nothing
        assert store.registry_audit("event", "e1\x00").empty and store.registry_links("\x00").empty
        assert store.library_records(["a\x00"]) == [] and store.library_linked("area", ["KEN\x00"]).empty
        store.write_registry([RegistryChange("event", "e1", "iom", None, expected_version=2)], _audit("e1", "delete"))
        assert store.registry_entries("event") == [] and store.registry_links().empty


def test_readers_in_many_threads_see_each_entry_whole_while_it_is_rewritten(target):
    """An entry and its links are written together; a reader never sees the body of one version with the links
    of another (the two queries of a read run in one transaction)."""
    with connect(target) as store:
        def links(n):
            return [("tag", f"v{n}-{i}") for i in range(20)]

        store.write_registry([RegistryChange("event", "e", "iom", {"n": 0}, links(0))], _audit("e"))
        done, seen, errors = threading.Event(), [0], []

        def read():
            try:
                while not done.is_set():
                    [entry] = store.registry_entries("event", entry_ids=["e"])
                    assert sorted(entry.links) == sorted(links(entry.body["n"])), entry
                    seen[0] += 1
            except BaseException as err:  # reported below
                errors.append(err)

        readers = [threading.Thread(target=read) for _ in range(3)]
        for t in readers:
            t.start()
        try:
            for n in range(1, 25):
                store.write_registry([RegistryChange("event", "e", "iom", {"n": n}, links(n), expected_version=n)],
                                     _audit("e", "update"))
        finally:
            done.set()
            for t in readers:
                t.join()
        assert not errors, errors[0]
        assert seen[0] > 0 and store.registry_entries("event")[0].version == 25


def test_a_read_only_store_refuses_writes_and_keeps_its_version(target):
    with connect(target) as store:
        store.write_library(_records("a"), _import(1), Report())
    with connect(target, read_only=True) as store:
        assert store.is_read_only()
        version = store.version()
        with pytest.raises(StoreError, match="read_only=False"):
            store.write_registry([RegistryChange("event", "e1", "iom", {"title": "x"})], _audit("e1"))
        with pytest.raises(StoreError, match="registry-edits"):
            store.write_library(_records("b"), _import(1), Report())
        assert store.version() == version and [r.record_id for r in store.library_records()] == ["a"]
