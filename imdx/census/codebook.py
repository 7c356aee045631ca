"""Code books: what a file's columns are and which codes they may hold.

:func:`read_ddi` reads a DDI-Codebook 2.5 XML file as IPUMS writes them beside every extract: for
each variable its position in a fixed-width record (``<location StartPos EndPos width>``), implied
decimals (``dcml``), whether it is numeric, its label and its value labels (``<catgry>``). Stata and
SPSS files carry their own value labels, which :mod:`imdx.census.read` turns into the same
:class:`Codebook`. A value outside a variable's listed codes is reported (``code-not-in-codebook``).

The XML is parsed without entities, DTDs or network access, and a code book larger than
``max_bytes`` is refused (a hostile file cannot make the parser expand or fetch anything).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from imdx.census.errors import MicrodataError

MAX_DDI_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Variable:
    name: str
    label: str = ""
    start: int | None = None  # 1-based first position in a fixed-width record
    end: int | None = None  # 1-based last position
    decimals: int = 0  # implied decimals
    numeric: bool = True
    #: value labels, keyed as :func:`imdx.census.mapping.text_key` keys values ("01" is "1" when numeric)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return (self.end or 0) - (self.start or 1) + 1


@dataclass(frozen=True)
class Codebook:
    file: str
    variables: dict[str, Variable]
    charset: str = "utf-8"
    fixed_width: bool = False

    def get(self, name: str) -> Variable | None:
        return self.variables.get(name)

    @property
    def names(self) -> list[str]:
        return list(self.variables)


def code_key(value: str, numeric: bool) -> str:
    text = value.strip()
    if numeric and text.lstrip("-").isdigit():
        return str(int(text))
    return text


def read_ddi(path: Path, *, max_bytes: int = MAX_DDI_BYTES) -> Codebook:
    from lxml import etree

    size = path.stat().st_size
    if size > max_bytes:
        raise MicrodataError(path.name, f"the code book is {size:,} bytes, more than the limit of {max_bytes:,}",
                             hint="A DDI code book is normally a few MB; raise the limit only for a file you trust.")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(path.read_bytes(), parser)
    except etree.XMLSyntaxError as err:
        raise MicrodataError(path.name, f"is not well-formed XML ({err})", row=err.lineno,
                             expected="a DDI 2.5 code book (the .xml IPUMS gives with each extract)") from None
    if etree.QName(root).localname != "codeBook":
        raise MicrodataError(path.name, f"its root element is <{etree.QName(root).localname}>",
                             expected="a DDI code book (<codeBook>)")
    file_type = root.find(".//{*}fileDscr/{*}fileTxt/{*}fileType")
    charset = (file_type.get("charset") if file_type is not None else None) or "utf-8"
    fmt = root.findtext(".//{*}fileDscr/{*}fileTxt/{*}format") or ""
    variables: dict[str, Variable] = {}
    for var in root.iter("{*}var"):
        name = var.get("name") or var.get("ID")
        if not name:
            continue
        loc = var.find("{*}location")
        vformat = var.find("{*}varFormat")
        numeric = vformat is None or vformat.get("type", "numeric") == "numeric"
        labels = {code_key(c.findtext("{*}catValu") or "", numeric): (c.findtext("{*}labl") or "").strip()
                  for c in var.findall("{*}catgry")}
        try:
            start = int(loc.get("StartPos")) if loc is not None else None
            end = int(loc.get("EndPos")) if loc is not None else None
            decimals = int(var.get("dcml") or 0)
        except (TypeError, ValueError):
            raise MicrodataError(path.name, f"variable {name} has a location or dcml that is not a whole number",
                                 row=var.sourceline) from None
        if start is not None and (start < 1 or end < start):
            raise MicrodataError(path.name, f"variable {name} has StartPos {start}, EndPos {end}", row=var.sourceline)
        variables[name] = Variable(name, (var.findtext("{*}labl") or "").strip(), start, end, decimals, numeric,
                                   labels)
    if not variables:
        raise MicrodataError(path.name, "lists no variables (<var>)", expected="a DDI code book of a data extract")
    return Codebook(path.name, variables, charset, fixed_width="fixed" in fmt.lower())
