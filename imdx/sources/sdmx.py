"""SDMX in: any SDMX-ML 2.1 (generic or structure-specific), SDMX-JSON 1.0 or SDMX-CSV message, read
through ``sdmx`` (sdmx1), harmonised and stored as a release of source ``sdmx``.

* The dataflow becomes an imdx dataflow ``sdmx_<agency>_<flow>`` (e.g. ``sdmx_estat_demography``)
  brought by the release: one dimension per SDMX dimension, lower-cased (``ref_area``, ``sex``),
  the time dimension as ``year``. When the periods are not plain years (``2013-01``, ``2012-Q1``)
  ``year`` is the year they fall in and a dimension ``period`` keeps the period as published;
  a message with no time dimension leaves ``year`` empty.
* Area-like dimensions (``REF_AREA``, ``GEO``, ``COUNTRY``, ``LOCATION``, ... or one coded by a
  ``CL_AREA``/``CL_COUNTRY``/``CL_GEO`` list) are mapped to imdx areas (code, ISO3, ISO2, M49;
  Eurostat's ``EL``/``UK`` are Greece and the United Kingdom). A code that maps to nothing is an
  ``unmapped-area`` issue and its rows are not loaded; a dimension none of whose codes is a known
  area (e.g. Italian municipalities) is kept with its codes as published, said in an info issue.
* ``SEX`` codes become imdx's (``T`` → ``_T``); ``AGE`` is coded with imdx's list when every code
  is one of it; other dimensions keep their codes as published.
* ``OBS_STATUS`` is kept; ``LOWER_BOUND`` and ``UPPER_BOUND`` (an interval around the value, as imdx
  publishes its estimates') become the dataflow's measures ``lower`` and ``upper``; the other attributes
  (``UNIT_MEASURE``, ``UNIT_MULT``, ...) go to ``note`` as ``ID=value`` pairs; the dataflow's unit is the
  unit attribute when it has one value.
* The release: key ``<agency>:<flow>``, edition and publication date from the message header's
  ``Prepared`` time, the file's sha256, the URL it came from.

A message with no observations (Eurostat's footer-only "your query is too large" answer) raises
:class:`SdmxMessageError` with the footer's text; a structure message alone is reported as
structure only (status ``structure-only``), nothing stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from imdx import limits
from imdx.codes.areas import Areas
from imdx.errors import ImdxError
from imdx.ingest import ingest
from imdx.load import ReleaseOutcome
from imdx.model import codelists as cl
from imdx.model.dataflows import ATTRIBUTES, Dataflow, Dimension
from imdx.model.report import Issue, Report
from imdx.sdmx.reader import Parsed, SdmxMessageError, StructureOnly, parse_message
from imdx.sources.base import LoadContext, finish
from imdx.sources.fetch import sha256_of
from imdx.store.base import FileRecord, ReleaseRecord, Store

__all__ = ["SdmxMessageError", "SdmxOutcome", "flow_id_for", "harmonise", "load_sdmx"]

SOURCE = "sdmx"
AREA_DIMENSIONS = {"REF_AREA", "GEO", "COUNTRY", "LOCATION", "AREA", "REF_AREA_ISO", "COU", "COUNTERPART_AREA",
                   "GEO_AREA", "REPORTING_COUNTRY", "CITIZEN", "CITIZENSHIP", "PARTNER", "COUNTRY_BIRTH", "C_BIRTH"}
AREA_SYSTEMS = ("code", "iso3", "iso2", "m49")
#: agencies' own country codes that differ from ISO 3166 alpha-2
AGENCY_AREA_CODES = {"ESTAT": {"EL": "GR", "UK": "GB"}}
UNIT_ATTRIBUTES = ("UNIT_MEASURE", "UNIT", "UNIT_MEAS")
RESERVED = {"year", "value", "release_id", "source", "edition", "published", "unit", "time_period", "period",
            *ATTRIBUTES}


@dataclass
class SdmxOutcome(ReleaseOutcome):
    dataflow: str | None = None
    message: str = ""
    files: list[FileRecord] = field(default_factory=list)


# -- harmonising -----------------------------------------------------------------------------
def flow_id_for(agency: str, flow: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "_", f"sdmx_{agency}_{flow}".lower()).strip("_")
    return text[:63]


def _dim_name(sdmx_dim: str, taken: set[str]) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", sdmx_dim.lower()).strip("_") or "dim"
    if not name[0].isalpha():
        name = f"d_{name}"
    if name in RESERVED or name in taken:
        name = f"{name}_dim"
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _is_area(dim: str, parsed: Parsed) -> bool:
    cl_id = parsed.codelist_ids.get(dim, "").upper()
    return dim.upper() in AREA_DIMENSIONS or any(w in cl_id for w in ("CL_AREA", "CL_COUNTRY", "CL_GEO"))


def _time(parsed: Parsed, frame: pd.DataFrame, out: pd.DataFrame, dims: list[Dimension], ctx: LoadContext,
          file: str, rows: pd.Series) -> None:
    """``year`` (and ``period`` when the periods are not plain years) from the time dimension."""
    if parsed.time_dim is None:
        out["year"] = pd.NA
        ctx.issue("no-time-dimension", "the message has no time dimension; year is left empty", severity="info",
                  file=file)
        return
    periods = frame[parsed.time_dim].astype("string")
    years = periods.str.slice(0, 4)
    bad = ~years.fillna("").str.fullmatch(r"\d{4}")
    if bad.any():
        ctx.issue("bad-period", f"{int(bad.sum())} observation(s) have a period that does not start with a "
                  f"year (e.g. {periods[bad].iloc[0]!r}); they were not loaded", severity="error",
                  file=file, column=parsed.time_dim, row=int(rows[bad].iloc[0]), n_obs=int(bad.sum()))
    out["year"] = pd.to_numeric(years.where(~bad), errors="coerce")
    if not periods.fillna("").str.fullmatch(r"\d{4}").all():
        out["period"] = periods
        dims.append(Dimension("period", f"{parsed.time_dim} as published (the period within the year)", "free"))


def harmonise(parsed: Parsed, ctx: LoadContext, file: str) -> tuple[Dataflow, pd.DataFrame]:
    frame = parsed.frame.reset_index(drop=True)
    out = pd.DataFrame(index=frame.index)
    dims: list[Dimension] = []
    taken: set[str] = set()
    # where each observation is in the file: the line for SDMX-CSV, the observation's number otherwise
    rows = pd.Series(frame.index + (2 if parsed.format == "csv" else 1), index=frame.index)
    for d in parsed.dims:
        values = frame[d].astype("string")
        name = _dim_name(d, taken)
        label = parsed.code_names.get(d)
        desc = f"{d} (SDMX dimension of {parsed.agency}:{parsed.flow})"
        if _is_area(d, parsed):
            quirks = AGENCY_AREA_CODES.get(parsed.agency.upper(), {})
            lookup = values.replace(quirks) if quirks else values
            codes = ctx.areas.map(lookup, AREA_SYSTEMS)
            if codes.notna().any():
                out[name] = ctx.map_areas(lookup, AREA_SYSTEMS, file=file, column=d, rows=rows)
                dims.append(Dimension(name, desc + "; imdx area codes"))
                continue
            sample = ", ".join(sorted(values.dropna().unique())[:5])
            ctx.issue("area-codes-kept", f"no code of the area dimension {d} ({sample}, ...) is a country or area "
                      "imdx knows (ISO3, ISO2, M49); the codes are kept as published", severity="info",
                      file=file, column=d)
        if d.upper() in ("SEX", "GENDER"):
            mapped = values.replace({"T": "_T", "TOTAL": "_T"})
            if set(mapped.dropna().unique()) <= set(cl.SEX):
                out[name] = mapped
                dims.append(Dimension(name, "Sex", "SEX"))
                continue
        if d.upper() == "AGE":
            mapped = values.replace({"T": "_T", "TOTAL": "_T", "UNK": "_U"})
            if set(mapped.dropna().unique()) <= set(cl.AGE):
                out[name] = mapped
                dims.append(Dimension(name, "Age group", "AGE"))
                continue
        out[name] = values
        if label:
            desc += "; codes: " + ", ".join(f"{k} {v}" for k, v in list(label.items())[:40])
        dims.append(Dimension(name, desc[:2000], "free"))
    _time(parsed, frame, out, dims, ctx, file, rows)
    values = pd.to_numeric(frame["OBS_VALUE"], errors="coerce")
    bad_value = values.isna() & frame["OBS_VALUE"].notna() & (frame["OBS_VALUE"].astype(str).str.strip() != "") \
        & ~frame["OBS_VALUE"].astype(str).str.upper().isin(["NAN", "NA"])
    if bad_value.any():
        ctx.issue("non-numeric-value", f"{int(bad_value.sum())} observation value(s) are not numbers (e.g. "
                  f"{frame['OBS_VALUE'][bad_value].iloc[0]!r}); kept as missing", file=file, column="OBS_VALUE",
                  row=int(rows[bad_value].iloc[0]), n_obs=int(bad_value.sum()))
    out["value"] = values
    status_col = next((a for a in parsed.attrs if a.upper() == "OBS_STATUS"), None)
    out["obs_status"] = frame[status_col] if status_col else None
    out.loc[out["obs_status"].isna() & values.isna(), "obs_status"] = "M"
    out.loc[out["obs_status"].isna(), "obs_status"] = "A"
    bounds = {a: BOUND_ATTRIBUTES[a.upper()] for a in parsed.attrs if a.upper() in BOUND_ATTRIBUTES}
    for attr, measure in bounds.items():
        out[measure] = pd.to_numeric(frame[attr], errors="coerce")
    others = [a for a in parsed.attrs if a != status_col and a not in bounds]
    if others:
        out["note"] = frame[others].apply(
            lambda r: "; ".join(f"{k}={v}" for k, v in r.items() if not pd.isna(v) and v != "") or None,
            axis=1)
    out["cell_file"] = file
    out["cell_row"] = rows
    unit = "as published"
    unit_col = next((a for a in others if a.upper() in UNIT_ATTRIBUTES), None)
    if unit_col is not None:
        units = frame[unit_col].dropna().unique()
        unit = str(units[0]) if len(units) == 1 else f"as published (see {unit_col} in note)"
    flow = Dataflow(flow_id_for(parsed.agency, parsed.flow), parsed.name, tuple(dims), unit,
                    f"Imported from the SDMX dataflow {parsed.agency}:{parsed.flow}({parsed.version}).",
                    measures=tuple(m for m in ("lower", "upper") if m in bounds.values()))
    out = out.dropna(subset=["year"]) if parsed.time_dim is not None else out
    if parsed.time_dim is None:
        return flow, _finish_without_year(flow, out)
    return flow, finish(flow.id, out, flow=flow)


def _finish_without_year(flow: Dataflow, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(year=0)
    done = finish(flow.id, frame, flow=flow)
    done["year"] = pd.array([None] * len(done), dtype="Int16")
    return done


#: SDMX attributes read as measures beside the value (the interval imdx's SDMX output carries)
BOUND_ATTRIBUTES = {"LOWER_BOUND": "lower", "UPPER_BOUND": "upper"}


# -- loading ---------------------------------------------------------------------------------
def _default_areas(store: Store) -> Areas:
    areas = store.areas()
    if areas is not None:
        return areas
    from imdx.codes.build import build_areas
    from imdx.config import settings
    from imdx.sources import m49
    from imdx.sources.fetch import fetch_release

    cfg = settings()
    paths, _ = fetch_release(m49.SOURCE.releases[0], mirror=cfg.mirror, cache=cfg.cache)
    return build_areas(Path(next(iter(paths.values()))).parent)


def load_sdmx(store: Store, *, file: str | Path | None = None, url: str | None = None, structure=None,
              areas: Areas | None = None, licence: str | None = None, cache: Path | None = None) -> SdmxOutcome:
    """Load one SDMX data message (from ``file`` or ``url``) into ``store`` as a release of source ``sdmx``.

    ``structure`` is a structure message (path, bytes or sdmx1 object) holding the message's DSD,
    needed for SDMX-CSV and useful for structure-specific data (code names, the time dimension).
    """
    if (file is None) == (url is None):
        raise ImdxError("give either a file or a URL of an SDMX message (--file F or --url U)")
    retrieved_at = datetime.now(UTC).replace(tzinfo=None)
    if url is not None:
        from imdx.config import settings
        from imdx.sources.fetch import download

        path = download(url, cache=cache or settings().cache / SOURCE)
        where = url
    else:
        path = Path(file)
        if not path.is_file():
            raise ImdxError(f"no SDMX file at {path}; give the path of an SDMX-ML, SDMX-JSON or SDMX-CSV message")
        where = str(path.resolve())
    name = path.name if url is None else url.rsplit("/", 1)[-1] or path.name
    data = limits.read_bytes(path, name)
    try:
        parsed = parse_message(data, name, structure)
    except StructureOnly as only:
        return _structure_only(only.msg, name)
    files = [FileRecord(name=name, url=url or where, sha256=sha256_of(path), size=path.stat().st_size,
                        retrieved_from=where, retrieved_at=retrieved_at)]
    if isinstance(structure, (str, Path)):
        spath = Path(structure)
        files.append(FileRecord(name=spath.name, url=str(spath.resolve()), sha256=sha256_of(spath),
                                size=spath.stat().st_size, retrieved_from=str(spath.resolve()),
                                retrieved_at=retrieved_at))
    areas = areas or _default_areas(store)
    report = Report()
    ctx = LoadContext(areas=areas, report=report, source=SOURCE)
    flow, table = harmonise(parsed, ctx, name)
    flow = _unique_definition(store, flow, ctx, name)
    report.issues = [Issue(**{**i.__dict__, "dataflow": flow.id}) for i in report.issues]
    prepared = parsed.prepared
    edition = prepared.isoformat() if prepared else f"sha256:{files[0].sha256[:12]}"
    published = prepared.date() if prepared else date.today()
    record = ReleaseRecord(source=SOURCE, key=f"{parsed.agency}:{parsed.flow}", title=parsed.name, edition=edition,
                           published=published, licence=licence or f"as published by {parsed.agency}; see its terms",
                           files=files)
    if store.has_release(record):
        return SdmxOutcome(SOURCE, record.key, edition, "unchanged", dataflow=flow.id, files=files,
                           message=f"{name}: already loaded (same file); nothing changed")
    if table.empty:
        raise SdmxMessageError(name, f"none of its {len(parsed.frame)} observations could be loaded: "
                               + "; ".join(i.message for i in report if i.severity == "error")[:500],
                               hint="Nothing was stored.")
    release_id = ingest(store, record, {flow.id: table}, report=report, areas=areas, definitions=(flow,))
    return SdmxOutcome(SOURCE, record.key, edition, "loaded", n_obs=len(table), release_id=release_id,
                       report=report, dataflow=flow.id, files=files,
                       message=f"{name}: {len(table):,} observations of {parsed.agency}:{parsed.flow} loaded as "
                       f"dataflow {flow.id} (edition {edition}); {len(report)} issue(s)")


def _unique_definition(store: Store, flow: Dataflow, ctx: LoadContext, file: str) -> Dataflow:
    """The dataflow id, made distinct when the store holds a dataflow of that id with other dimensions
    (e.g. two SDMX-CSV files of one dataflow, one with a single measure, one with several)."""
    import hashlib
    from dataclasses import replace

    try:
        known = store.dataflow(flow.id)
    except ImdxError:
        return flow
    if known.dimension_names == flow.dimension_names:
        return flow
    suffix = hashlib.sha1("|".join(flow.dimension_names).encode()).hexdigest()[:6]
    new_id = f"{flow.id[:56]}_{suffix}"
    ctx.issue("dataflow-renamed", f"the store already has a dataflow {flow.id} with dimensions "
              f"{', '.join(known.dimension_names)}; this message's dimensions differ "
              f"({', '.join(flow.dimension_names)}), so it is stored as {new_id}", severity="info", file=file)
    return replace(flow, id=new_id)


def _structure_only(msg, name: str) -> SdmxOutcome:
    parts = []
    for kind, label in (("dataflow", "dataflow"), ("structure", "data structure"), ("codelist", "code list"),
                        ("concept_scheme", "concept scheme")):
        items = getattr(msg, kind)
        if len(items):
            parts.append(f"{len(items)} {label}(s): {', '.join(list(items)[:8])}{' ...' if len(items) > 8 else ''}")
    text = (f"{name} is an SDMX structure message, no data: " + "; ".join(parts or ["nothing"]) + ". Nothing was "
            "stored. Load a data message with it as the structure (imdx load sdmx --file DATA --structure "
            f"{name}).")
    return SdmxOutcome(SOURCE, name, "", "structure-only", message=text)
