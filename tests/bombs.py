"""Hostile files made in a test's tmp folder (never committed), and `imdx load` run on them with its peak
memory measured."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# -- xlsx ------------------------------------------------------------------------------------
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_RNS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_PKG = "http://schemas.openxmlformats.org/package/2006"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def workbook_parts(sheet: str, sheet_xml: str, shared: str = "<sst/>") -> dict[str, bytes]:
    """The parts of a one-sheet xlsx workbook."""
    ct = (f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{_PKG}/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
          'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
          'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml"'
          ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    rels = (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}/relationships"><Relationship '
            f'Id="rId1" Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    book = (f'<?xml version="1.0" encoding="UTF-8"?><workbook {_NS} {_RNS}><sheets><sheet name="{sheet}" '
            'sheetId="1" r:id="rId1"/></sheets></workbook>')
    book_rels = (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}/relationships">'
                 f'<Relationship Id="rId1" Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/>'
                 f'<Relationship Id="rId2" Type="{_DOC}/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    return {"[Content_Types].xml": ct.encode(), "_rels/.rels": rels.encode(), "xl/workbook.xml": book.encode(),
            "xl/_rels/workbook.xml.rels": book_rels.encode(), "xl/worksheets/sheet1.xml": sheet_xml.encode(),
            "xl/sharedStrings.xml": shared.encode()}


def sheet_xml(cells: str, dimension: str = "A1") -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}><dimension ref="{dimension}"/><sheetData>' \
           f'{cells}</sheetData></worksheet>'


def write_zip(path: Path, parts: dict[str, bytes], big: tuple[str, bytes, bytes, int] | None = None) -> None:
    """A zip archive of ``parts``, deflated, plus one ``big`` member (name, head, block, repeat): ``head``
    then ``block`` repeated; the block is compressed once and its compressed form repeated (each copy
    ends with a full flush, so it decodes alone), so a 1 GiB member takes a second to make."""
    entries, out = [], bytearray()

    def add(name: str, raw: bytes, crc: int, size: int) -> None:
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(raw), size, len(name), 0)
        entries.append((name, crc, len(raw), size, len(out)))
        out.extend(header + name.encode() + raw)

    for name, data in parts.items():
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        add(name, c.compress(data) + c.flush(), zlib.crc32(data), len(data))
    if big is not None:
        name, head, block, repeat = big
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
        segment = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
        tail = b"</t></si></sst>"
        last = c.compress(tail) + c.flush()
        crc = zlib.crc32(head)
        for _ in range(repeat):
            crc = zlib.crc32(block, crc)
        crc = zlib.crc32(tail, crc)
        add(name, first + segment * repeat + last, crc, len(head) + len(block) * repeat + len(tail))
    start = len(out)
    for name, crc, packed, size, offset in entries:
        out.extend(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, packed, size, len(name),
                               0, 0, 0, 0, 0, offset) + name.encode())
    out.extend(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(out) - start, start, 0))
    path.write_bytes(bytes(out))


def xlsx_with_huge_string(path: Path, sheet: str, gib: int = 1) -> None:
    """A workbook of ~1 MB whose one cell is a string of ``gib`` GiB (its shared string)."""
    parts = workbook_parts(sheet, sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'))
    del parts["xl/sharedStrings.xml"]
    head = f'<sst {_NS} count="1" uniqueCount="1"><si><t>'.encode()
    write_zip(path, parts, ("xl/sharedStrings.xml", head, b"A" * (16 << 20), 64 * gib))


def xlsx_reaching_xfd1048576(path: Path, sheet: str) -> None:
    """A workbook of two cells, A1 and XFD1048576: its used range is the whole of Excel's grid."""
    cells = ('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
             '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    shared = f'<sst {_NS} count="1" uniqueCount="1"><si><t>x</t></si></sst>'
    write_zip(path, workbook_parts(sheet, sheet_xml(cells, "A1:XFD1048576"), shared))


# -- R data ----------------------------------------------------------------------------------
def _r_head() -> bytes:
    """The start of an .rda (XDR, version 2) whose first object is a numeric vector of 2^29 items."""
    return (b"RDX2\nX\n" + struct.pack(">3i", 2, 0x040300, 0x020300)
            + struct.pack(">i", 1026) + struct.pack(">i", 1) + struct.pack(">i", 9) + b"\x00\x00\x00\x01x"
            + struct.pack(">ii", 14, 1 << 29))


def rda_bzip2_bomb(path: Path, gib: int = 4) -> None:
    """An .rda of about 13 KB (bzip2, as R's save(compress="bzip2") writes) that unpacks to ``gib`` GiB."""
    zeros = bz2.compress(b"\x00" * (64 << 20), 9)  # one stream: 64 MiB in about 80 bytes
    path.write_bytes(bz2.compress(_r_head()) + zeros * (16 * gib))


def rda_gzip_bomb(path: Path, gib: int = 5) -> None:
    """An .rds of about 5 MB (gzip, as saveRDS writes by default) that unpacks to ``gib`` GiB."""
    zeros = gzip.compress(b"\x00" * (64 << 20), 9, mtime=0)  # one member: 64 MiB in 64 KB
    path.write_bytes(gzip.compress(_r_head(), mtime=0) + zeros * (16 * gib))


# -- CSV -------------------------------------------------------------------------------------
def csv_of_a_million_columns(path: Path, first: list[str], rows: int = 1, columns: int = 1_000_000) -> None:
    """A CSV whose header names ``columns`` columns (``first``, then c<i>), with ``rows`` rows of 1s."""
    with open(path, "w") as fh:
        fh.write(",".join(first + [f"c{i}" for i in range(columns - len(first))]) + "\n")
        fh.writelines(",".join(["1990", "Germany"] + ["1"] * (columns - 2)) + "\n" for _ in range(rows))


# -- the mirror and the measured load --------------------------------------------------------
def mirror_with(tmp_path: Path, mirror: Path, folder: str, bombs: dict[str, callable]) -> Path:
    """A mirror folder: links to the real files of ``m49`` and ``folder``, except ``bombs`` ({name inside
    the folder: function(path)}), made here."""
    root = tmp_path / "mirror"
    root.mkdir()
    (root / "m49").symlink_to(mirror / "m49", target_is_directory=True)
    for real in (mirror / folder).rglob("*"):
        name = real.relative_to(mirror / folder).as_posix()
        if real.is_file() and name not in bombs:
            (root / folder / name).parent.mkdir(parents=True, exist_ok=True)
            (root / folder / name).symlink_to(real)
    for name, make in bombs.items():
        (root / folder / name).parent.mkdir(parents=True, exist_ok=True)
        make(root / folder / name)
    return root


_MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[2:], capture_output=True, text=True, timeout=600)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
json.dump({"code": done.returncode, "out": done.stdout, "err": done.stderr, "peak": peak}, open(sys.argv[1], "w"))
"""


def measured(tmp_path: Path, *args: str, env: dict | None = None) -> dict:
    """``python -m imdx.cli ARGS`` in a fresh process; its exit code, output and peak resident memory in
    bytes (of the process and every worker it started, from the kernel's accounting)."""
    result = tmp_path / f"measured-{len(list(tmp_path.glob('measured-*')))}.json"
    environment = {**os.environ, "PYTHONPATH": str(REPO), "IMDX_CACHE": str(tmp_path / "cache"), **(env or {})}
    environment.pop("IMDX_MIRROR", None)
    subprocess.run([sys.executable, "-c", _MEASURE, str(result), sys.executable, "-m", "imdx.cli", *args],
                   env=environment, check=True, timeout=660)
    return json.loads(result.read_text())
