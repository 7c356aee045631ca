"""The limits themselves: settings as data, capped unpacking, the capped child process, the xlsx guard on
sheets the byte search cannot vouch for, and the real files all within the defaults."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import zlib

import pytest

from imdx import limits
from imdx.config import settings
from imdx.errors import ConfigError, SourceFileError
from imdx.limits import LimitError, Limits
from imdx.sources.xlsx import open_workbook, sheet_extent
from tests import bombs


def test_settings_environment_and_overrides():
    cfg = settings(env={"IMDX_MAX_CELLS": "1e6", "IMDX_MAX_MEMORY": "6G"}, limits={"max_text": "2M"})
    assert (cfg.limits.max_cells, cfg.limits.max_memory, cfg.limits.max_text) == (10**6, 6 << 30, 2 << 20)
    assert cfg.limits.max_file == Limits.max_file
    assert settings(env={}).limits.max_memory == limits.default_memory() > 1 << 30  # half the machine's
    for env, message in [({"IMDX_MAX_CELLS": "2G"}, "must be a whole number"), ({"IMDX_MAX_FILE": "lots"},
                         "must be a size such as 2G"), ({"IMDX_MAX_TEXT": "0"}, "must be 1 or more")]:
        with pytest.raises(ConfigError, match=message):
            settings(env=env)
    with pytest.raises(ConfigError, match="unknown limit 'max_colums'; the limits are max_file"):
        settings(env={}, limits={"max_colums": "3"})


def test_shares_of_the_memory_ceiling():
    shared = Limits(max_memory=12 << 30).shared_by(3)
    assert shared.per_process == 4 << 30
    expected = (r"more than the limit max_memory allows \(4.0 GiB for the whole load, 4.0 GiB for each of its "
                r"3 processes\)")
    with limits.using(shared), pytest.raises(LimitError, match=expected) as err:
        limits.check_memory("f.xlsx", "reading", 5 << 30)
    assert "IMDX_MAX_MEMORY=" in str(err.value) and err.value.file == "f.xlsx"


@pytest.mark.parametrize("compress", [bz2.compress, gzip.compress, lzma.compress])
def test_unpacking_is_exact_and_stops_at_the_limits(compress):
    data = os.urandom(200_000) + b"imdx" * 100_000
    assert limits.unpack(compress(data), "f") == data
    assert limits.unpack(compress(data) + compress(b"more") + b"\0" * 64, "f") == data + b"more"  # streams, padding
    with pytest.raises((EOFError, zlib.error, lzma.LZMAError, OSError)):
        limits.unpack(compress(data)[:-40], "f")
    with limits.using(Limits(max_unpacked=300_000)), pytest.raises(LimitError, match="max_unpacked") as err:
        limits.unpack(compress(data), "f.rda")
    assert err.value.found <= 300_001  # stopped as soon as it passed the limit
    assert limits.unpack(b"RDX2\nX\n", "f") == b"RDX2\nX\n"  # not compressed: as it is


def _grab(n: int) -> int:
    return len(bytearray(n))


def _abort() -> None:
    os.abort()


def _raise() -> None:
    raise SourceFileError("x.rda", "cannot be read as R data")


def test_a_child_process_that_needs_too_much_or_aborts_ends_alone():
    with limits.using(Limits(max_memory=256 << 20)):
        assert limits.in_child(_grab, 10 << 20, file="f", what="reading") == 10 << 20
        with pytest.raises(LimitError, match="f: the memory reading needed.*max_memory"):
            limits.in_child(_grab, 2 << 30, file="f", what="reading")
        with pytest.raises(LimitError, match="stopped, exit code -6"):
            limits.in_child(_abort, file="f", what="reading")
        with pytest.raises(SourceFileError, match="cannot be read as R data"):
            limits.in_child(_raise, file="f", what="reading")


def test_an_irregular_sheet_is_read_in_a_capped_child(tmp_path):
    """Cells without a reference: the byte search cannot say how far they reach (here 20,000 columns of the
    last row, which calamine would spread over 1,048,576 rows: 640 GiB), so calamine runs in a child."""
    cells = '<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576">' + "<c><v>1</v></c>" * 20_000 + "</row>"
    xml = bombs.sheet_xml(cells)
    assert sheet_extent(xml.encode()) is None
    path = tmp_path / "irregular.xlsx"
    bombs.write_zip(path, bombs.workbook_parts("Data", xml))
    refused = pytest.raises(LimitError, match="irregular.xlsx: the memory reading sheet 'Data' needed")
    with limits.using(Limits(max_memory=1 << 30)), open_workbook(path, "a workbook") as book, refused:
        book.rows("Data")
    small = tmp_path / "small.xlsx"  # and an irregular sheet that fits is read, the same as calamine reads it
    bombs.write_zip(small, bombs.workbook_parts("Data", bombs.sheet_xml(
        '<row r="1"><c><v>1</v></c><c t="inlineStr"><is><t>x</t></is></c></row>')))
    with open_workbook(small, "a workbook") as book:
        assert book.rows("Data") == [[1.0, "x"]]


def test_what_is_not_a_workbook_is_said_so(tmp_path):
    path = tmp_path / "table.xlsx"
    path.write_bytes(os.urandom(5000))
    with pytest.raises(SourceFileError, match="table.xlsx: cannot be read as a workbook"):
        open_workbook(path, "a workbook")


def test_every_real_file_is_within_the_defaults(mirror):
    """The published files the load reads pass the default limits, each sheet by the byte search, except a
    sheet written under a namespace prefix (OECD's annex tables: ``<x:worksheet>``, ``<x:c r=...>``), which
    the search does not vouch for: it is read by calamine in a child process whose memory is capped."""
    from imdx.sources import registry
    from imdx.sources.csvfile import check_csv

    seen = prefixed = 0
    for source in registry().values():
        for spec in source.releases:
            for f in spec.files:
                path = mirror / spec.mirror_folder / f.name
                if path.suffix == ".xlsx":
                    with open_workbook(path, "x") as book:
                        for sheet in book.sheet_names:
                            xml = book._archive.read(book._parts[sheet])
                            extent = sheet_extent(xml)
                            if extent is None:
                                assert re.search(rb"<(\w+):worksheet\b", xml[:4096]), (path, sheet)
                                prefixed += 1
                                assert book.rows(sheet), (path, sheet)  # read in the capped child
                                continue
                            book._check(sheet, xml, extent)
                elif path.suffix in (".csv", ".txt"):
                    check_csv(path, delimiter="\t" if path.suffix == ".txt" else ",",
                              header_row=5 if path.name.startswith("API_") else 1)
                elif path.suffix in (".rda", ".rds"):
                    limits.unpack(path.read_bytes(), str(path))
                seen += 1
    assert seen > 30 and prefixed <= 4  # OECD's two workbooks (a sheet of data and one of notes each)


def test_a_worker_past_its_share_gets_a_memory_error_and_the_release_says_what_to_do(tmp_path):
    """A load's workers cap their address space at their share of max_memory: an allocation past it fails
    with MemoryError (the process lives on), and the release's failure says which limit to raise."""
    import subprocess
    import sys

    from imdx.load import _failure
    from imdx.sources import registry

    probe = ("import numpy\nfrom imdx import limits\nlimits.cap_memory(200 << 20)\nsmall = numpy.ones(50 << 20, 'u1')\n"
             "try:\n    numpy.ones(1 << 30, 'u1')\nexcept MemoryError:\n    print('MemoryError', small.sum())\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False,
                          env={"PYTHONPATH": str(bombs.REPO), "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip() == f"MemoryError {50 << 20}", done.stderr[-2000:]
    spec = registry()["unhcr"].releases[1]
    with limits.using(Limits(max_memory=900 << 20).shared_by(3)):
        outcome = _failure(spec, MemoryError())
    assert outcome.status == "failed" and "demographics_v2025.12.0_2001-2025.rda" in outcome.error
    assert "max_memory (300.0 MiB of 900.0 MiB for the whole load)" in outcome.error
    assert "IMDX_MAX_MEMORY=2G" in outcome.error and "a bug" not in outcome.error
