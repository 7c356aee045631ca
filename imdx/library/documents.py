"""Documents themselves: PDF (pypdf), HTML (lxml) and DOCX (python-docx), their text extracted and their
metadata read (the document's own properties, HTML ``citation_*`` and Dublin Core tags, a DOI in the
first pages), then cleaned like any other record.

A file that is not what its name says, a PDF locked with a password, a DOCX whose archive would unpack
beyond the limits: each raises :class:`~imdx.errors.SourceFileError` saying so, and nothing is imported.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from imdx.errors import SourceFileError
from imdx.library import clean
from imdx.library.formats import Entry, _sha, finish, read_bytes
from imdx.library.model import Limits, Record
from imdx.model.report import Issue, Report
from imdx.store.documents import RecordSource

KINDS = {".pdf": "pdf", ".html": "html", ".htm": "html", ".xhtml": "html", ".docx": "docx"}
_HINT = "Import the document itself (not a link or a renamed file); nothing was imported."


def read_document(path: Path, limits: Limits, report: Report) -> list[Entry]:
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise SourceFileError(str(path), f"has the extension {path.suffix or '(none)'!r}, not a document imdx reads",
                              expected="a .pdf, .html or .docx file", hint=_HINT)
    data = read_bytes(path, limits)
    record = {"pdf": _pdf, "html": _html, "docx": _docx}[kind](path, data, limits, report)
    record.type = record.type or "document"
    if not record.title:
        record.title = path.stem.replace("_", " ").replace("-", " ")
        report.add(Issue("title-from-file-name", f"{path.name} does not give its title; the file name was used",
                         "info", source="library", file=path.name))
    record.text = clean.body_text(record.text, limits.max_text_chars)
    if not record.doi and record.text:
        record.doi = clean.doi(record.text[:20_000])
    if not record.languages and record.text:
        detected = clean.detect_language(record.text[:5000])
        record.languages = [detected] if detected else []
    if not (record.text or "").strip():
        report.add(Issue("no-text", f"{path.name}: no text could be extracted (a scanned document?); only its "
                         "metadata is searchable", "warning", source="library", file=path.name))
    record = finish(record, limits, kind)
    return [Entry(record, RecordSource(kind, path.name, path.name, _sha(data), None))]


# -- PDF -------------------------------------------------------------------------------------------
def _pdf(path: Path, data: bytes, limits: Limits, report: Report) -> Record:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    head = data[:1024]
    if b"%PDF-" not in head:
        raise SourceFileError(str(path), f"is not a PDF (it starts with {data[:16]!r})",
                              expected="'%PDF-' at the start", hint=_HINT)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise SourceFileError(str(path), "is encrypted with a password", hint="Save an unlocked copy (or ask its "
                                  "publisher for one) and import that; nothing was imported.")
        info = reader.metadata or {}
        n_pages = len(reader.pages)
        texts, total = [], 0
        for page in reader.pages[: limits.max_pages]:
            chunk = page.extract_text() or ""
            texts.append(chunk)
            total += len(chunk)
            if total >= limits.max_text_chars:
                break
    except SourceFileError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError) as err:
        raise SourceFileError(str(path), f"cannot be read as a PDF ({str(err)[:200]})", hint=_HINT) from None
    except Exception as err:
        if type(err).__module__.startswith(("pypdf", "cryptography")):
            raise SourceFileError(str(path), f"cannot be read as a PDF ({type(err).__name__}: {str(err)[:200]})",
                                  hint=_HINT) from None
        raise
    if n_pages > limits.max_pages:
        report.add(Issue("document-truncated", f"{path.name} has {n_pages} pages; the text of the first "
                         f"{limits.max_pages} was read", "info", source="library", file=path.name))
    text = "\n\n".join(texts)
    title = _meta(info, "/Title")
    if title and re.fullmatch(r"(microsoft word - )?[\w .-]+\.(docx?|pdf|indd)", title, re.IGNORECASE):
        title = None  # the file name the authoring tool wrote, not a title
    created = _meta(info, "/CreationDate")
    return Record(id="", type="document", title=title or _first_line(text),
                  authors=clean.people(_meta(info, "/Author")), issued=_pdf_date(created), text=text,
                  keywords=clean.split_list(_meta(info, "/Keywords")), extra={"pages": n_pages})


def _meta(info, key: str) -> str | None:
    try:
        value = info.get(key)
    except Exception:  # noqa: BLE001 - a broken indirect object in the info dictionary
        return None
    return clean.text(value, 1000)


def _pdf_date(value: str | None) -> str | None:
    m = re.match(r"D?:?(\d{4})(\d{2})?(\d{2})?", value or "")
    return clean.date("-".join(p for p in m.groups() if p)) if m else None


def _first_line(text: str) -> str | None:
    for line in text.splitlines():
        line = line.strip()
        if 10 <= len(line) <= 300 and sum(c.isalpha() for c in line) > len(line) / 2:
            return line
    return None


# -- HTML ------------------------------------------------------------------------------------------
def _html(path: Path, data: bytes, limits: Limits, report: Report) -> Record:
    import lxml.etree
    import lxml.html

    if b"<" not in data[:4096]:
        raise SourceFileError(str(path), "is not HTML (no markup in its first 4 KB)", hint=_HINT)
    try:
        parser = lxml.html.HTMLParser(no_network=True, huge_tree=False, remove_comments=True)
        root = lxml.html.document_fromstring(data, parser=parser)
    except (lxml.etree.ParserError, ValueError) as err:
        raise SourceFileError(str(path), f"cannot be read as HTML ({str(err)[:200]})", hint=_HINT) from None
    meta: dict[str, list[str]] = {}
    for tag in root.iter("meta"):
        key = (tag.get("name") or tag.get("property") or "").strip().lower()
        if key and tag.get("content"):
            meta.setdefault(key, []).append(tag.get("content"))

    def first(*keys):
        return next((meta[k][0] for k in keys if k in meta), None)

    for bad in root.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()
    body = root.find("body")
    text = (body if body is not None else root).text_content()
    title = first("citation_title", "dc.title", "og:title") or root.findtext(".//title")
    authors = meta.get("citation_author") or meta.get("dc.creator") or ([a] if (a := first("author")) else [])
    return Record(id="", type="webpage" if not meta.get("citation_title") else "article-journal", title=title,
                  authors=[p for a in authors for p in clean.people(a)],
                  issued=clean.date(first("citation_publication_date", "citation_date", "dc.date",
                                          "article:published_time")),
                  doi=clean.doi(first("citation_doi", "dc.identifier")),
                  languages=clean.language(first("citation_language", "dc.language") or root.get("lang")),
                  abstract=first("citation_abstract", "dc.description", "description", "og:description"),
                  publisher=first("citation_publisher", "dc.publisher", "og:site_name"),
                  container_title=first("citation_journal_title"), text=text,
                  keywords=clean.split_list(first("citation_keywords", "keywords")))


# -- DOCX ------------------------------------------------------------------------------------------
def _docx(path: Path, data: bytes, limits: Limits, report: Report) -> Record:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unpacked = sum(i.file_size for i in archive.infolist())
        names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise SourceFileError(str(path), "is not a DOCX file (not a zip archive)", hint=_HINT) from None
    if "word/document.xml" not in names:
        raise SourceFileError(str(path), "is a zip archive without word/document.xml, not a DOCX file", hint=_HINT)
    if unpacked > 4 * limits.max_file_bytes:
        raise SourceFileError(str(path), f"would unpack to {unpacked:,} bytes, more than 4 × the "
                              f"{limits.max_file_bytes:,}-byte file limit", hint="Raise IMDX_LIBRARY_MAX_FILE_BYTES "
                              "if the document is genuine; nothing was imported.")
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 - python-docx raises KeyError, ValueError, lxml errors on broken parts
        raise SourceFileError(str(path), f"cannot be read as DOCX ({type(err).__name__}: {str(err)[:200]})",
                              hint=_HINT) from None
    props = document.core_properties
    parts, total = [], 0
    for paragraph in document.paragraphs:
        parts.append(paragraph.text)
        total += len(paragraph.text)
        if total > limits.max_text_chars:
            break
    text = "\n".join(parts)
    title = clean.text(props.title) or next((p.text for p in document.paragraphs
                                             if p.style is not None and p.style.name in ("Title", "Heading 1")
                                             and p.text.strip()), None)
    return Record(id="", type="document", title=title or _first_line(text), authors=clean.people(props.author),
                  issued=props.created.date().isoformat() if props.created else None,
                  languages=clean.language(props.language), abstract=clean.text(props.subject) or None,
                  keywords=clean.split_list(props.keywords), text=text)
