"""Reading an SDMX message through ``sdmx`` (sdmx1) into one table (:class:`Parsed`): a column per
dimension (SDMX ids), ``OBS_VALUE`` and a column per attribute, with what is known of its structure
(agency, dataflow, version, name, code names, the time dimension, when it was prepared).

SDMX-ML 2.1 (generic and structure-specific) and SDMX-JSON are read by sdmx1; SDMX-CSV 2.0 with a
structure too; SDMX-CSV without one (and SDMX-CSV 1.0, which sdmx1 does not read) by its header.
A message without observations raises :class:`SdmxMessageError` quoting the publisher's footer; a
structure message raises :class:`StructureOnly`.

Limits (:mod:`imdx.limits`): the message's size, and the memory sdmx1 will take to read it (about 20
times an XML or JSON message's bytes) before it is parsed; an SDMX-CSV message is checked as any CSV
file (:func:`imdx.sources.csvfile.check_text`); an XML message with a document type declaration
(entities, which can expand a few bytes a billionfold or read local files) is refused.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from imdx import limits
from imdx.errors import SourceFileError
from imdx.sources.csvfile import check_text

TIME_DIMENSIONS = {"TIME_PERIOD", "TIME", "PERIOD"}
#: about what sdmx1 takes in memory per byte of an SDMX-ML or SDMX-JSON message (measured: 17 on a
#: 37 MB generic message of 330,000 observations)
BYTES_PER_MESSAGE_BYTE = 20


class SdmxMessageError(SourceFileError):
    """An SDMX message that cannot be loaded (no data, no structure, unreadable)."""


@dataclass
class Parsed:
    """An SDMX data message reduced to one table: a column per dimension (SDMX ids), ``OBS_VALUE``
    and a column per attribute, with what is known of its structure."""

    agency: str
    flow: str
    version: str
    name: str
    dims: list[str]
    time_dim: str | None
    attrs: list[str]
    frame: pd.DataFrame
    prepared: datetime | None
    code_names: dict[str, dict[str, str]] = field(default_factory=dict)
    codelist_ids: dict[str, str] = field(default_factory=dict)
    format: str = "xml"  # "xml", "json" or "csv"


# -- reading ---------------------------------------------------------------------------------
def _quiet_read(source, **kw):
    import sdmx

    logger = logging.getLogger("sdmx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return sdmx.read_sdmx(source, **kw)
    finally:
        logger.setLevel(level)


def _sniff(data: bytes) -> str:
    head = data.lstrip()[:200]
    if head.startswith(b"{"):
        return "json"
    if head.startswith(b"<"):
        return "xml"
    return "csv"


def read_structure(structure) -> object | None:
    """A structure message from a path, bytes or an sdmx object (returned as is)."""
    if structure is None or not isinstance(structure, (str, Path, bytes)):
        return structure
    path = Path(structure) if not isinstance(structure, bytes) else None
    if path is not None and not path.is_file():
        raise SdmxMessageError(str(path), "no such structure file", hint="Give the path of an SDMX structure "
                               "message (a DSD) with --structure.")
    data = limits.read_bytes(path) if path is not None else structure
    check_message(data, str(path or "structure"), _sniff(data))
    try:
        msg = _quiet_read(io.BytesIO(data))
    except Exception as err:  # sdmx1 raises many kinds
        raise SdmxMessageError(str(path or "structure"),
                               f"cannot be read as an SDMX structure message ({err})") from err
    if type(msg).__name__ != "StructureMessage":
        raise SdmxMessageError(str(path or "structure"), "is not an SDMX structure message",
                               hint="Give a structure message (with a DataStructureDefinition) as the structure.")
    return msg


def check_message(data: bytes, name: str, kind: str) -> None:
    """Refuse an XML message with a document type declaration, and one too big to read in memory."""
    if kind == "xml" and (b"<!DOCTYPE" in data or b"<!ENTITY" in data):
        raise SdmxMessageError(name, "holds a document type declaration (<!DOCTYPE or <!ENTITY): SDMX messages "
                               "have none, and its entities could expand without bound or read local files",
                               expected="an SDMX-ML message without a DTD", hint="Nothing was stored.")
    label = "SDMX-ML" if kind == "xml" else "SDMX-JSON"
    limits.check_memory(name, f"reading the {label} message ({limits.size(len(data))})",
                        len(data) * BYTES_PER_MESSAGE_BYTE)


def _dsd_for(structure_msg, ref_id: str | None):
    """The DSD (or dataflow) in a structure message that data with reference ``ref_id`` uses."""
    if structure_msg is None:
        return None
    if type(structure_msg).__name__ != "StructureMessage":
        return structure_msg
    if ref_id and ref_id in structure_msg.dataflow:
        return structure_msg.dataflow[ref_id]
    if ref_id and ref_id in structure_msg.structure:
        return structure_msg.structure[ref_id]
    if len(structure_msg.structure) == 1:
        return next(iter(structure_msg.structure.values()))
    return None


def _xml_ref(data: bytes) -> str | None:
    match = re.search(rb"<(?:\w+:)?(?:Structure|StructureUsage)>\s*<Ref[^>]*\sid=\"([^\"]+)\"", data)
    return match.group(1).decode() if match else None


def _value(v):
    v = getattr(v, "value", v)
    return getattr(v, "id", v)


def parse_message(data: bytes, name: str, structure=None) -> Parsed:
    """Read ``data`` (SDMX-ML, SDMX-JSON or SDMX-CSV) through sdmx1 into a :class:`Parsed` table."""
    kind = _sniff(data)
    limits.check(name, "the message's size", len(data), "max_file")
    structure_msg = read_structure(structure)
    if kind == "csv":
        return _parse_csv(data, name, structure_msg)
    check_message(data, name, kind)
    dsd = _dsd_for(structure_msg, _xml_ref(data) if kind == "xml" else None)
    try:
        msg = _quiet_read(io.BytesIO(data), **({"structure": dsd} if dsd is not None else {}))
    except Exception as err:
        raise SdmxMessageError(name, f"cannot be read as an SDMX message ({type(err).__name__}: {err})",
                               expected="SDMX-ML 2.1, SDMX-JSON 1.0 or SDMX-CSV") from err
    if type(msg).__name__ == "StructureMessage":
        raise StructureOnly(msg)
    if type(msg).__name__ != "DataMessage":
        raise SdmxMessageError(name, f"is an SDMX {type(msg).__name__}, not a data message")
    if not msg.data or all(len(ds) == 0 for ds in msg.data):
        footer = ""
        if msg.footer is not None:
            footer = f" The publisher's footer says (code {msg.footer.code}): " + " ".join(
                str(t) for t in msg.footer.text)
        raise SdmxMessageError(name, "the SDMX message holds no data (no observations)." + footer,
                               hint="Nothing was stored. Ask the publisher again for a smaller query, or download "
                               "the file the footer points to and load that.")
    return _parsed_from_message(msg, data, kind, name, dsd)


class StructureOnly(Exception):
    def __init__(self, msg):
        self.msg = msg


def _parsed_from_message(msg, data: bytes, kind: str, name: str, dsd) -> Parsed:
    first = msg.data[0]
    struct = first.structured_by or (dsd.structure if hasattr(dsd, "structure") else dsd) or msg.structure
    if hasattr(struct, "structure") and not hasattr(struct, "dimensions"):
        struct = struct.structure
    rows = []
    for ds in msg.data:
        for o in ds.obs:
            rec = {k: str(_value(kv)) for k, kv in o.key.values.items()}
            rec["OBS_VALUE"] = o.value
            for k, av in o.attrib.items():
                rec[k] = None if _value(av) is None else str(_value(av))
            rows.append(rec)
    frame = pd.DataFrame(rows)
    dim_ids = [d.id for d in struct.dimensions] if struct is not None and len(struct.dimensions) else []
    dim_ids = [d for d in dim_ids if d in frame.columns] or [c for c in frame.columns if c != "OBS_VALUE"]
    time_dim = next((d.id for d in struct.dimensions if type(d).__name__ == "TimeDimension" and d.id in frame),
                    None) if struct is not None else None
    time_dim = time_dim or next((d for d in dim_ids if d.upper() in TIME_DIMENSIONS), None)
    attrs = [c for c in frame.columns if c not in dim_ids and c != "OBS_VALUE"]
    agency, flow, version, title = _identity(msg, data, kind, struct, dsd, name)
    code_names, codelist_ids = {}, {}
    if struct is not None:
        for d in struct.dimensions:
            rep = d.local_representation
            enum = getattr(rep, "enumerated", None) if rep is not None else None
            if enum is not None:
                codelist_ids[d.id] = enum.id
                code_names[d.id] = {c.id: str(c.name) for c in enum}
    if kind == "json":
        for d, values in _json_names(data).items():
            code_names.setdefault(d, {}).update(values)
    prepared = msg.header.prepared if msg.header is not None else None
    return Parsed(agency, flow, version, title, [d for d in dim_ids if d != time_dim], time_dim, attrs, frame,
                  prepared, code_names, codelist_ids)


def _json_names(data: bytes) -> dict[str, dict[str, str]]:
    tree = json.loads(data)
    structure = tree.get("structure") or tree.get("data", {}).get("structures", [{}])[0]
    out = {}
    for level in structure.get("dimensions", {}).values():
        for d in level:
            out[d["id"]] = {v["id"]: v.get("name", v["id"]) for v in d.get("values", []) if "id" in v}
    return out


def _identity(msg, data, kind, struct, dsd, name) -> tuple[str, str, str, str]:
    sender = msg.header.sender.id if msg.header is not None and msg.header.sender is not None else None
    agency = flow = version = title = None
    for obj in (dsd, msg.dataflow if msg.dataflow is not None and msg.dataflow.id else None, struct):
        if obj is None or not getattr(obj, "id", None):
            continue
        flow = flow or obj.id
        agency = agency or (obj.maintainer.id if obj.maintainer is not None else None)
        version = version or (str(obj.version) if obj.version else None)
        title = title or (str(obj.name) if obj.name else None)
    if kind == "json":
        tree = json.loads(data)
        structure = tree.get("structure", {})
        title = title or structure.get("name")
        for link in structure.get("links", []):
            if link.get("rel") == "dataflow" and "/dataflow/" in link.get("href", ""):
                parts = [p for p in link["href"].split("/dataflow/", 1)[1].split("/") if p and p != "all"]
                if len(parts) >= 2:
                    agency, flow = agency or parts[0], flow or parts[1]
                    version = version or (parts[2] if len(parts) > 2 else None)
                elif parts:
                    flow = flow or parts[0]
    agency = agency or sender or "UNKNOWN"
    flow = flow or Path(name).stem
    return agency, flow, version or "1.0", title or f"{agency}:{flow}"


# -- SDMX-CSV --------------------------------------------------------------------------------
_CSV_LEAD = {"DATAFLOW", "STRUCTURE", "STRUCTURE_ID", "ACTION", "SERIES_KEY", "OBS_KEY"}
_KNOWN_ATTRS = {"OBS_STATUS", "OBS_CONF", "OBS_COM", "UNIT_MEASURE", "UNIT_MULT", "DECIMALS", "COMMENT",
                "UPDATED", "TIME_FORMAT", "CONF_STATUS", "EMBARGO_TIME", "TITLE", "UNIT", "OBS_PRE_BREAK",
                "DEFINITION", "NOTE", "SOURCE", "LOWER_BOUND", "UPPER_BOUND"}  # the last five: imdx's own SDMX-CSV


def _csv_text(data: bytes, name: str) -> tuple[str, str]:
    """An SDMX-CSV message as text, and its delimiter, checked as any CSV file is before it is parsed."""
    line = data[: limits.current().max_text + 1].split(b"\n", 1)[0]
    delimiter = ";" if line.count(b";") > line.count(b",") else ","
    check_text(data, name=name, delimiter=delimiter, expected="an SDMX-CSV message")
    try:
        return data.decode("utf-8-sig"), delimiter
    except UnicodeDecodeError as err:
        raise SdmxMessageError(name, f"is not UTF-8 text ({err.reason}, at byte {err.start:,})",
                               expected="an SDMX-CSV message") from err


def _parse_csv(data: bytes, name: str, structure_msg) -> Parsed:
    """SDMX-CSV 1.0 (``DATAFLOW`` column) and 2.0 (``STRUCTURE``, ``STRUCTURE_ID``, ``ACTION``). With a
    structure, SDMX-CSV 2.0 is read by sdmx1; otherwise the columns are classified from the header
    (``OBS_VALUE*`` measures, known SDMX attributes and ``ATTR*`` attributes, the rest dimensions)."""
    text, delimiter = _csv_text(data, name)
    first = text.splitlines()[0] if text else ""
    head = first.split(delimiter)[0].split("[")[0].split(":")[0].strip().upper()
    if head not in ("DATAFLOW", "STRUCTURE"):
        raise SdmxMessageError(name, f"is not SDMX-CSV: the first column is {head!r}",
                               expected="DATAFLOW (SDMX-CSV 1.0) or STRUCTURE (SDMX-CSV 2.0)")
    raw = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False)
    if raw.empty:
        raise SdmxMessageError(name, "the SDMX-CSV file holds a header and no observations",
                               hint="Nothing was stored.")
    raw.columns = [col.split("[")[0].partition(": ")[0].strip() for col in raw.columns]  # "DIM_1: Dimension 1"
    ref, _, title = raw["DATAFLOW" if head == "DATAFLOW" else "STRUCTURE_ID"].iloc[0].partition(": ")
    match = re.fullmatch(r"(?:(?P<agency>[^:]+):)?(?P<id>[^(]+)(?:\((?P<version>[^)]*)\))?", ref.strip())
    agency, flow, version = (match["agency"] or "UNKNOWN", match["id"], match["version"] or "1.0") if match \
        else ("UNKNOWN", Path(name).stem, "1.0")
    dsd = _dsd_for(structure_msg, flow)
    if dsd is not None and hasattr(dsd, "structure") and not hasattr(dsd, "dimensions"):
        dsd = dsd.structure
    body = raw[[c for c in raw.columns if c not in _CSV_LEAD]]
    if dsd is not None:
        dims = [d.id for d in dsd.dimensions if d.id in body.columns]
        measures = [c for c in body.columns if c.startswith("OBS_VALUE") or c in {m.id for m in dsd.measures}]
    else:
        measures = [c for c in body.columns if c.startswith("OBS_VALUE")]
        dims = [c for c in body.columns if c not in measures and c not in _KNOWN_ATTRS
                and not c.upper().startswith("ATTR")]
    attrs = [c for c in body.columns if c not in dims and c not in measures]
    if not measures:
        raise SdmxMessageError(name, "has no OBS_VALUE column", expected="an OBS_VALUE column (the measure)")
    frame = body.copy()
    code_names = {}
    for col in body.columns:  # "A: Value A" cells when labels are sent
        parts = frame[col].str.split(": ", n=1)
        frame[col] = parts.str[0]
        if col in dims and (parts.str.len() > 1).any():
            code_names[col] = dict(zip(parts.str[0], parts.str[-1]))
    if len(measures) > 1:  # several measures: one observation per measure, told apart by a MEASURE dimension
        frame = frame.melt(id_vars=dims + attrs, value_vars=measures, var_name="MEASURE", value_name="OBS_VALUE")
        dims = dims + ["MEASURE"]
    elif measures[0] != "OBS_VALUE":
        frame = frame.rename(columns={measures[0]: "OBS_VALUE"})
    if delimiter == ";":
        frame["OBS_VALUE"] = frame["OBS_VALUE"].str.replace(",", ".", regex=False)
    frame["OBS_VALUE"] = frame["OBS_VALUE"].replace("", None)
    time_dim = next((d for d in dims if d.upper() in TIME_DIMENSIONS), None)
    if time_dim is None:  # a dimension whose every value looks like a period
        time_dim = next((d for d in dims if frame[d].str.fullmatch(r"\d{4}(-\S+)?").all()), None)
    if dsd is not None:
        for d in dsd.dimensions:
            enum = getattr(d.local_representation, "enumerated", None) if d.local_representation else None
            if enum is not None:
                code_names[d.id] = {c.id: str(c.name) for c in enum}
    return Parsed(agency, flow, version, title or f"{agency}:{flow}({version})", [d for d in dims if d != time_dim],
                  time_dim, attrs, frame, None, code_names, format="csv")
