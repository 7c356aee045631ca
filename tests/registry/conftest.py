from tests.library.fixtures import library_copy, library_db, library_store, stats_copy, stats_db  # noqa: F401
