"""UN DESA's footnotes are read from the workbooks' notes sheets and stored with their release, so that a
value's marks ("* 33") can be shown with their text."""

from __future__ import annotations

from imdx.model.notes import marks
from imdx.sources.undesa_ims.notes import read_notes

W2020 = "undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx"
W2019 = "undesa_pd_2019_migrant_stock_total_dataset.xlsx"
W2015 = "UN_MigrantStockByOriginAndDestination_2015_Table16only.xlsx"


def test_marks_are_read_without_brackets():
    assert marks("* 33") == ["*", "33"]
    assert marks("(17) blank") == ["17"] and marks("(c)") == ["c"] and marks("13") == ["13"]
    assert marks("0: zero or not reported") == [] and marks(None) == [] and marks("blank") == []


def test_the_notes_sheets_of_the_three_editions(mirror):
    folder = mirror / "undesa_ims"
    n2020 = read_notes(folder / W2020, "Notes")
    assert set(n2020) == {"*"} | {str(i) for i in range(1, 42)}
    assert n2020["33"].startswith("For statistical purposes, the foreign-born population includes persons born in "
                                  "Puerto Rico, Guam")
    n2019 = read_notes(folder / W2019, "NOTES")
    assert {"*", "a", "g", "1", "25"} <= set(n2019) and n2019["19"] == "Including Crimea."
    n2015 = read_notes(folder / W2015, "NOTES")
    assert {"a", "1"} <= set(n2015) and len(n2015) > 20
    assert read_notes(folder / W2015, "No such sheet") == {}


def test_the_notes_are_stored_with_their_release(full_store):
    from imdx.store.duckdb_store import DuckDBStore

    with DuckDBStore(full_store, read_only=True) as store:
        notes = store.notes()
        releases = store.releases().set_index("release_id")
        keys = {releases.at[r, "key"] for r in set(notes["release_id"])}
        assert keys == {"ims2020-destination", "ims2019-total", "ims2015-origin-destination"}
        usa = store.select("migrant_stock_share", {"destination": ["USA"], "sex": ["_T"], "year": [2020]},
                           edition="2020")
        note, release = usa["note"][0].as_py(), usa["release_id"][0].as_py()
        texts = {m: t for r, m, t in zip(notes["release_id"], notes["mark"], notes["text"]) if r == release}
        assert marks(note) == ["*", "33"] and all(m in texts for m in marks(note))
