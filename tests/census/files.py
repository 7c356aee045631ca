"""Person files made in a test's tmp folder from the real ones: a real file with one line changed, and
the ONS teaching file written as fixed width with a DDI code book (no real fixed-width file in the
mirror has a place of birth; the IPUMS examples do not)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ONS = "ons_2011_teaching_file_subset/2011-census-microdata-small.csv"

#: the fixed-width layout: name, width, numeric, value labels
LAYOUT = [("PERSON", 7, True, {}), ("REGION", 9, False, {}), ("SEX", 1, True, {"1": "Male", "2": "Female"}),
          ("AGE", 1, True, {str(i): f"band {i}" for i in range(1, 9)}),
          ("COB", 2, True, {"1": "UK", "2": "Non UK", "-9": "No code required"})]
COLUMNS = {"PERSON": "Person ID", "REGION": "Region", "SEX": "Sex", "AGE": "Age", "COB": "Country of Birth"}

FIXED_MAPPING = """
id = "ons_fixed"
title = "ONS 2011 teaching file written as fixed width"
country = "GBR"
year = 2011
format = "fixed"
[nativity]
column = "COB"
codes = { "1" = "NAT", "2" = "FOR", "-9" = "_Z" }
[sex]
column = "SEX"
codes = { "1" = "M", "2" = "F" }
[age]
column = "AGE"
[age.bands]
"1" = "Y0T15"
"2" = "Y16T24"
"3" = "Y25T34"
"4" = "Y35T44"
"5" = "Y45T54"
"6" = "Y55T64"
"7" = "Y65T74"
"8" = "Y_GE75"
[region]
column = "REGION"
"""


def with_line(source: Path, target: Path, line: int, edit) -> Path:
    """A copy of ``source`` whose 1-based ``line`` is ``edit(text)``."""
    lines = source.read_bytes().split(b"\n")
    lines[line - 1] = edit(lines[line - 1].decode()).encode()
    target.write_bytes(b"\n".join(lines))
    return target


def ddi(variables) -> str:
    out, pos = [], 1
    for name, width, numeric, labels in variables:
        cats = "".join(f"<catgry><catValu>{k}</catValu><labl>{v}</labl></catgry>" for k, v in labels.items())
        kind = "numeric" if numeric else "character"
        out.append(f'<var ID="{name}" name="{name}" dcml="0"><location StartPos="{pos}" EndPos="{pos + width - 1}" '
                   f'width="{width}"/><labl>{name}</labl>{cats}<varFormat type="{kind}"/></var>')
        pos += width
    return ('<?xml version="1.0" encoding="UTF-8"?><codeBook xmlns="ddi:codebook:2_5" version="2.5"><fileDscr>'
            '<fileTxt><fileType charset="ISO-8859-1"/><format>fixed length fields</format></fileTxt></fileDscr>'
            f"<dataDscr>{''.join(out)}</dataDscr></codeBook>")


def ons_fixed(microdata: Path, folder: Path) -> tuple[Path, Path]:
    """The ONS subset as ``ons.dat`` (fixed width) with ``ons.xml`` (its DDI code book) and ``ons.toml``."""
    frame = pd.read_csv(microdata / ONS, dtype=str)
    text = pd.Series([""] * len(frame))
    for name, width, numeric, _ in LAYOUT:
        column = frame[COLUMNS[name]]
        text += column.str.rjust(width) if numeric else column.str.ljust(width)
    folder.mkdir(parents=True, exist_ok=True)
    dat = folder / "ons.dat"
    dat.write_text("\n".join(text) + "\n", encoding="latin-1")
    (folder / "ons.xml").write_text(ddi(LAYOUT), encoding="utf-8")
    toml = folder / "ons.toml"
    toml.write_text(FIXED_MAPPING, encoding="utf-8")
    return dat, toml
