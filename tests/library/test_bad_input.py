"""Bad and hostile files: each refused with an error that names the file and what to do, the store left exactly as
it was; documents read from the real PDFs in the mirror; limits on sizes and counts."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from imdx.errors import SourceFileError
from imdx.library.ingest import import_file
from imdx.library.model import Limits, Record
from imdx.store import connect

CTDC_PDF = "ctdc/Codebook_CTDC_global_synthetic_data_v2024.pdf"
ONS_PDF = "census_microdata/ons_2011_teaching_file_subset/Microdatateachinguserguide.pdf"


@pytest.fixture
def store(stats_copy):
    with connect(stats_copy) as s:
        yield s


def state(store) -> tuple:
    return store.library_generation(), len(store.library_imports()), len(store.library_records())


def refused(store, path, match, **kwargs):
    before = state(store)
    with pytest.raises(SourceFileError, match=match) as err:
        import_file(store, path, **kwargs)
    assert state(store) == before, "a refused import changed the store"
    assert str(path.name) in str(err.value) and "nothing was imported" in str(err.value).lower()
    return err.value


def test_malformed_bibtex_is_refused_whole_naming_the_line(store, tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text("@article{good, title = {Fine}, year = {2020}}\n\n@book{broken, title = {Never closed,\n"
                    "  year = 2019\n@misc{after, title = {Also fine}, year = 2021}\n", "utf-8")
    err = refused(store, path, "cannot be parsed")
    assert "line 3" in str(err)


def test_a_bibtex_file_without_entries_is_refused(store, tmp_path):
    path = tmp_path / "notes.bib"
    path.write_text("These are just notes, not BibTeX.", "utf-8")
    refused(store, path, "no BibTeX entry")


def test_ris_cut_off_before_its_end_is_refused(store, tmp_path):
    path = tmp_path / "refs.ris"
    path.write_text("TY  - JOUR\nTI  - One\nER  - \nTY  - RPRT\nTI  - Two, cut off\n", "utf-8")
    refused(store, path, "cut off")


def test_csl_json_that_is_not_json_or_not_items_is_refused(store, tmp_path):
    bad = tmp_path / "a.json"
    bad.write_text('[{"title": "x"', "utf-8")
    refused(store, bad, "is not JSON")
    nested = tmp_path / "deep.json"
    nested.write_text("[" * 100_000 + "]" * 100_000, "utf-8")  # a nesting bomb
    refused(store, nested, "is not JSON|not an object")
    scalars = tmp_path / "scalars.json"
    scalars.write_text("[1, 2, 3]", "utf-8")
    refused(store, scalars, "item 1 is a int")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(store, tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps([{"title": "x" * 5000}]), "utf-8")
    refused(store, path, "more than the 1,000 a library import", limits=Limits(max_file_bytes=1000))


def test_too_many_records_are_refused(store, tmp_path):
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"title": f"Study {i}"} for i in range(11)]), "utf-8")
    refused(store, path, "11 records", limits=Limits(max_records=10))


def test_huge_fields_are_cut_at_their_limit(store, tmp_path):
    path = tmp_path / "huge.json"
    path.write_text(json.dumps([{"title": "Migration " * 200_000, "abstract": "a" * 1_000_000,
                                 "author": [{"literal": "x" * 100_000}]}]), "utf-8")
    result = import_file(store, path)
    rec = Record.from_body(store.library_records(result.record_ids)[0].body)
    assert len(rec.title) <= Limits().max_field_chars + 1
    assert len(rec.abstract) <= Limits().max_abstract_chars
    assert len(rec.authors[0]["literal"]) <= 201


def test_real_pdfs_are_read_with_their_text(store, mirror):
    for name in (CTDC_PDF, ONS_PDF):
        result = import_file(store, Path(mirror) / name)
        rec = Record.from_body(store.library_records(result.record_ids)[0].body)
        assert rec.languages == ["en"], name
        assert len(rec.text) > 5000 and rec.title
    from imdx.library.service import Library

    hits = Library(store).search("synthetic data codebook")
    assert hits.total >= 1 and "CTDC" in json.dumps(hits.hits[0].display) + str(hits.hits[0].display["title"])


def test_an_encrypted_pdf_is_refused_and_one_without_a_password_is_read(store, mirror, tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(Path(mirror) / CTDC_PDF))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as fh:
        writer.write(fh)
    refused(store, locked, "encrypted with a password")
    writer = PdfWriter(clone_from=PdfReader(Path(mirror) / CTDC_PDF))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    open_ = tmp_path / "permissions-only.pdf"
    with open_.open("wb") as fh:
        writer.write(fh)
    assert import_file(store, open_).n_read == 1


def test_a_file_that_is_not_a_pdf_is_refused(store, mirror, tmp_path):
    fake = tmp_path / "report.pdf"
    fake.write_bytes((Path(mirror) / "m49" / "unsd_m49_methodology.csv").read_bytes()[:4000])
    refused(store, fake, "is not a PDF")
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes((Path(mirror) / CTDC_PDF).read_bytes()[:2000])
    with pytest.raises(SourceFileError):
        import_file(store, truncated)


def test_html_metadata_and_text(store, tmp_path):
    page = tmp_path / "article.html"
    page.write_text("""<!doctype html><html lang="fr"><head><title>ignored</title>
<meta name="citation_title" content="Les migrations de travail au Sahel">
<meta name="citation_author" content="Diallo, Aminata"><meta name="citation_author" content="Jean Martin">
<meta name="citation_publication_date" content="2019/06/01"><meta name="citation_doi" content="10.1234/SAHEL.2019">
<script>alert('x')</script></head><body><p>Les travailleurs migrants au Mali et au Niger.</p></body></html>""",
                    "utf-8")
    result = import_file(store, page)
    rec = Record.from_body(store.library_records(result.record_ids)[0].body)
    assert rec.title == "Les migrations de travail au Sahel" and rec.doi == "10.1234/sahel.2019"
    assert rec.authors == [{"family": "Diallo", "given": "Aminata"}, {"family": "Martin", "given": "Jean"}]
    assert rec.issued == "2019-06-01" and rec.languages == ["fr"] and "alert" not in rec.text
    assert set(rec.countries) == {"MLI", "NER"} or rec.countries == []  # named in the text, not the title
    assert "6" in rec.gcm  # labour migration


def test_docx_properties_and_text_and_a_zip_bomb(store, tmp_path):
    import docx

    document = docx.Document()
    document.core_properties.title = "Return and reintegration in Afghanistan"
    document.core_properties.author = "Sara Homayouni"
    document.add_paragraph("Returnees from Iran and Pakistan were interviewed in 2022.")
    path = tmp_path / "study.docx"
    document.save(path)
    rec = Record.from_body(store.library_records(import_file(store, path).record_ids)[0].body)
    assert rec.title == "Return and reintegration in Afghanistan" and rec.countries == ["AFG"]
    assert rec.authors == [{"family": "Homayouni", "given": "Sara"}] and "21" in rec.gcm
    bomb = tmp_path / "bomb.docx"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<w/>" + b" " * (300 * 2**20))
    bomb.write_bytes(buffer.getvalue())
    refused(store, bomb, "would unpack to")
    not_zip = tmp_path / "fake.docx"
    not_zip.write_text("hello", "utf-8")
    refused(store, not_zip, "not a zip archive")


def test_an_unknown_extension_says_which_formats_exist(store, tmp_path):
    path = tmp_path / "refs.xlsx"
    path.write_bytes(b"PK")
    refused(store, path, "names no format")
