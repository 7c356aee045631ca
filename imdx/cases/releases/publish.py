"""Releases: requested, approved by a data protection officer, recorded, reproducible, shared.

Life of a release: an analyst or DPO *requests* it (kind, parameters, dataset, audience); a DPO
*approves* it, which runs it on the current records with a recorded seed, charges the privacy
ledger (DP kinds), writes its files atomically and records everything (parameters, seed, digest
of the input records, checksums of the files, the internal reports) in the database and in the
audit log. Only then can it be read: by everyone (``public``), by the partner organisations it is
shared with (``shared``), or by analysts and DPOs only (``internal``).

Files of a release (``<release dir>/<release_id>/``): the data (``microdata.csv``,
``synthetic.csv`` or one ``victims_by_*.csv`` per table) and ``release.json`` (public parameters,
epsilon, checksums). The seed, the suppression, utility and disclosure-risk reports stay in the
database: they are computed from confidential data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import secrets
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from imdx.cases.access import Principal, Resource, authorise
from imdx.cases.errors import AccessDenied, ReleaseError
from imdx.cases.releases import ledger
from imdx.cases.releases.dp import dp_tables
from imdx.cases.releases.kanon import k_anonymise, verify_k_anonymity
from imdx.cases.releases.synthetic import synthesise
from imdx.cases.schema import RECORD_FIELDS, SCHEMA_VERSION
from imdx.cases.values import plain

KINDS = ("k-anonymised", "dp-aggregates", "synthetic")
AUDIENCES = ("public", "shared", "internal")
_RELEASE_ID = re.compile(r"^[0-9a-f]{32}$")
_PARAMETERS = {"k-anonymised": {"k", "quasi_identifiers", "attributes", "max_suppression"},
               "dp-aggregates": {"epsilon", "delta", "mechanism", "tables", "years"},
               "synthetic": {"epsilon", "delta", "mechanism", "years"}}


def _number(value, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


_CHECKS = {
    "epsilon": (lambda v: _number(v, 1e-6, 100) and v > 0, "a number above 0 (e.g. 0.5)"),
    "delta": (lambda v: _number(v, 0, 0.01), "a number between 0 and 0.01 (e.g. 1e-6)"),
    "k": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 2 <= v <= 1000, "a whole number from 2"),
    "max_suppression": (lambda v: _number(v, 0, 1), "a share between 0 and 1"),
    "mechanism": (lambda v: v in ("laplace", "gaussian"), "'laplace' or 'gaussian'"),
    "quasi_identifiers": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of fields"),
    "attributes": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of fields"),
    "tables": (lambda v: isinstance(v, list) and v and all(isinstance(t, list) and t and all(isinstance(d, str)
                                                                                          for d in t) for t in v),
               "a list of lists of dimensions"),
    "years": (lambda v: isinstance(v, list) and len(v) == 2 and all(isinstance(y, int) for y in v)
              and 1990 <= v[0] <= v[1] <= 2100, "[first year, last year]"),
}


def check_parameters(kind: str, parameters: dict) -> None:
    """Refuse unknown or malformed release parameters with a message saying what is expected."""
    if kind not in KINDS:
        raise ReleaseError(f"unknown release kind {kind!r}; choose one of {', '.join(KINDS)}")
    unknown = set(parameters) - _PARAMETERS[kind]
    if unknown:
        raise ReleaseError(f"unknown parameters {sorted(unknown)} for {kind}; allowed: {sorted(_PARAMETERS[kind])}")
    if kind != "k-anonymised" and "epsilon" not in parameters:
        raise ReleaseError(f"a {kind} release needs an epsilon (e.g. 0.5)")
    for name, value in parameters.items():
        ok, expected = _CHECKS[name]
        if not ok(value):
            raise ReleaseError(f"parameter {name} must be {expected}, not {value!r}")


def run_release(kind: str, records: pd.DataFrame, parameters: dict, seed: int) -> tuple[dict, dict, float, float]:
    """Compute a release: ``(files: name -> DataFrame, internal report, epsilon, delta)``. Pure."""
    if kind == "k-anonymised":
        result = k_anonymise(records, seed=seed, **parameters)
        problems = verify_k_anonymity(result.frame, result.quasi_identifiers, result.k)
        if len(problems):
            raise ReleaseError("the k-anonymised file failed its own verification; nothing was released")
        return {"microdata.csv": result.frame}, {"suppression": result.suppression_report}, 0.0, 0.0
    if kind == "dp-aggregates":
        result = dp_tables(records, seed=seed, **parameters)
        files = {f"{name}.csv": table for name, table in result.tables.items()}
        return files, {"noise_scale_per_table": result.scale}, result.epsilon, result.delta
    if kind == "synthetic":
        result = synthesise(records, seed=seed, **parameters)
        return ({"synthetic.csv": result.frame}, {"utility": result.utility, "disclosure_risk": result.disclosure_risk},
                result.epsilon, result.delta)
    raise ReleaseError(f"unknown release kind {kind!r}; choose one of {', '.join(KINDS)}")


def request_release(svc, principal: Principal, kind: str, parameters: dict | None = None, *,
                    dataset: str = "all", audience: str = "public", seed: int | None = None) -> str:
    svc.allow(principal, "release:request", target=str(kind)[:40])
    parameters = dict(parameters or {})
    check_parameters(kind, parameters)
    if audience not in AUDIENCES:
        raise ReleaseError(f"audience must be one of {', '.join(AUDIENCES)}")
    if dataset != "all" and not svc.store.query("SELECT 1 FROM organisations WHERE name = ?", [dataset]):
        svc.allow(principal, "release:request", Resource("dataset", status="absent"), str(dataset)[:100])
    release_id = secrets.token_hex(16)
    seed = secrets.randbits(62) if seed is None else int(seed)
    with svc.store.transaction() as con:
        con.execute("INSERT INTO releases (release_id, kind, dataset, status, audience, requested_by, requested_at,"
                    " parameters, seed) VALUES (?, ?, ?, 'pending', ?, ?, now(), ?, ?)",
                    [release_id, kind, dataset, audience, principal.username, json.dumps(parameters), seed])
        svc.audit.record(principal.username, "release:request", release_id, "ok",
                         {"kind": kind, "dataset": dataset, "audience": audience, "parameters": parameters})
    return release_id


def _row(svc, release_id: str) -> dict | None:
    if not isinstance(release_id, str) or not _RELEASE_ID.match(release_id):
        return None
    rows = svc.store.frame("SELECT * FROM releases WHERE release_id = ?", [release_id])
    if rows.empty:
        return None
    row = rows.iloc[0].to_dict()
    row["shared_with"] = frozenset(r[0] for r in svc.store.query(
        "SELECT organisation FROM release_shares WHERE release_id = ?", [release_id]))
    return row


def _resource(row: dict | None) -> Resource:
    if row is None:
        return Resource("release", status="absent")  # reported as 404 to everyone
    return Resource("release", audience=row["audience"], shared_with=row["shared_with"], status=row["status"])


def _records(svc, dataset: str) -> pd.DataFrame:
    return svc.store.records(None if dataset == "all" else dataset)


def data_digest(records: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(records, index=False).to_numpy().tobytes()).hexdigest()


def approve_release(svc, principal: Principal, release_id: str) -> dict:
    """Run, record and publish a pending release (DPO only)."""
    svc.allow(principal, "release:approve", target=release_id)
    row = _row(svc, release_id)
    if row is None:
        svc.allow(principal, "release:read", _resource(None), release_id)
    if row["status"] != "pending":
        raise ReleaseError(f"release {release_id} is {row['status']}, not pending")
    parameters = json.loads(row["parameters"])
    if "epsilon" in parameters:          # refuse early, before touching the records
        ledger.check(svc.store, row["dataset"], float(parameters["epsilon"]), float(parameters.get("delta", 0.0)),
                     svc.settings.epsilon_budget)
    records = _records(svc, row["dataset"])
    files, report, epsilon, delta = run_release(row["kind"], records, parameters, int(row["seed"]))
    report["data_digest"] = data_digest(records)
    folder, written = Path(svc.settings.release_dir) / release_id, False
    try:
        checksums = _write_files(folder, files, {
            "release_id": release_id, "kind": row["kind"], "schema_version": SCHEMA_VERSION,
            "parameters": parameters, "epsilon": epsilon, "delta": delta,
            "approved_by_role": "data_protection_officer",
            "approved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "dataflow": "trafficking_victims"})
        written = True
        with svc.store.transaction() as con:
            status = con.execute("SELECT status FROM releases WHERE release_id = ?", [release_id]).fetchone()[0]
            if status != "pending":
                raise ReleaseError(f"release {release_id} was approved meanwhile")
            if epsilon > 0:
                ledger.charge(svc.store, row["dataset"], release_id, epsilon, delta, svc.settings.epsilon_budget)
            con.execute("UPDATE releases SET status = 'published', approved_by = ?, approved_at = now(), epsilon = ?,"
                        " delta = ?, files = ?, report = ? WHERE release_id = ?",
                        [principal.username, epsilon, delta, json.dumps(checksums), json.dumps(report, default=str),
                         release_id])
            svc.audit.record(principal.username, "release:approve", release_id, "ok",
                             {"kind": row["kind"], "epsilon": epsilon, "delta": delta, "files": checksums})
    except BaseException as err:
        if written:
            shutil.rmtree(folder, ignore_errors=True)
        svc.audit.record(principal.username, "release:approve", release_id, "refused", {"reason": str(err)})
        raise
    return {"release_id": release_id, "files": checksums, "epsilon": epsilon, "delta": delta, "report": report}


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A release table as CSV (UTF-8, header, strings quoted), written by Arrow: fast and deterministic."""
    buffer = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.cast(pa.schema([pa.field(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type)
                                  for f in table.schema]))
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(quoting_style="needed"))
    return buffer.getvalue()


def _write_files(folder: Path, files: dict[str, pd.DataFrame], manifest: dict) -> dict[str, str]:
    tmp = folder.with_name(folder.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    checksums = {}
    for name, frame in files.items():
        data = csv_bytes(frame)
        (tmp / name).write_bytes(data)
        checksums[name] = hashlib.sha256(data).hexdigest()
    manifest["files"] = checksums
    (tmp / "release.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    tmp.rename(folder)
    return checksums


def share_release(svc, principal: Principal, release_id: str, organisation: str) -> None:
    svc.allow(principal, "release:share", target=release_id)
    row = _row(svc, release_id)
    svc.allow(principal, "release:read", _resource(row), release_id)
    if not svc.store.query("SELECT 1 FROM organisations WHERE name = ?", [organisation]):
        svc.allow(principal, "release:share", Resource("organisation", status="absent"), str(organisation)[:100])
    with svc.store.transaction() as con:
        con.execute("INSERT INTO release_shares VALUES (?, ?)", [release_id, organisation])
        if row["audience"] == "internal":
            con.execute("UPDATE releases SET audience = 'shared' WHERE release_id = ?", [release_id])
        svc.audit.record(principal.username, "release:share", release_id, "ok", {"organisation": organisation})


def release_info(svc, principal: Principal, release_id: str) -> dict:
    """What a reader may know of a release: its public manifest (DPOs also get the internal record)."""
    svc.allow(principal, "release:read", target=release_id)
    row = _row(svc, release_id)
    svc.allow(principal, "release:read", _resource(row), release_id)
    info = {"release_id": release_id, "kind": row["kind"], "status": row["status"], "audience": row["audience"],
            "dataset": row["dataset"], "parameters": json.loads(row["parameters"]),
            "epsilon": plain(row["epsilon"]), "files": json.loads(row["files"]) if row["files"] else {}}
    if principal.role == "data_protection_officer":
        info.update(seed=int(row["seed"]), report=json.loads(row["report"]) if row["report"] else None,
                    requested_by=row["requested_by"], approved_by=plain(row["approved_by"]))
    return info


def release_file(svc, principal: Principal, release_id: str, name: str) -> Path:
    """Path of one file of a release the caller may read. ``name`` must be one the release lists."""
    info = release_info(svc, principal, release_id)
    if name not in info["files"] and name != "release.json":
        svc.allow(principal, "release:read", _resource(None), f"{release_id}/{name}"[:200])
    path = Path(svc.settings.release_dir) / release_id / name
    svc.audit.record(principal.username, "release:download", f"{release_id}/{name}", "ok")
    return path


def list_releases(svc, principal: Principal) -> list[dict]:
    svc.allow(principal, "release:read")
    out = []
    for (release_id,) in svc.store.query("SELECT release_id FROM releases ORDER BY requested_at"):
        try:
            authorise(principal, "release:read", _resource(_row(svc, release_id)))
        except AccessDenied:
            continue
        row = _row(svc, release_id)
        out.append({"release_id": release_id, "kind": row["kind"], "status": row["status"],
                    "audience": row["audience"]})
    return out


def reproduce_release(svc, principal: Principal, release_id: str) -> bool:
    """Re-run an approved release with its recorded seed and parameters; True when every file is
    byte-identical (the input records must be unchanged, which the data digest checks first)."""
    svc.allow(principal, "release:approve", target=release_id)
    row = _row(svc, release_id)
    if row is None or row["status"] != "published":
        raise ReleaseError(f"release {release_id} is not a published release")
    records = _records(svc, row["dataset"])
    if data_digest(records) != json.loads(row["report"])["data_digest"]:
        raise ReleaseError("the records changed since this release; it cannot be reproduced on today's data")
    files, _, _, _ = run_release(row["kind"], records, json.loads(row["parameters"]), int(row["seed"]))
    recorded = json.loads(row["files"])
    return all(hashlib.sha256(csv_bytes(frame)).hexdigest() == recorded[name] for name, frame in files.items())


__all__ = [
    "KINDS",
    "RECORD_FIELDS",
    "approve_release",
    "list_releases",
    "release_file",
    "release_info",
    "reproduce_release",
    "request_release",
    "run_release",
    "share_release",
]
