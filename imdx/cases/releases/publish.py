"""Releases: requested, previewed, approved by the owning organisation's DPO, recorded, shared.

Life of a release: an analyst or DPO of an organisation *requests* one of its dataset (kind,
parameters within the dataset's release policy, audience); its DPO *previews* it, which computes
exactly what would be published (files, rows, suppression, smallest class, epsilon, budget left)
and gives a ``preview_digest``; the DPO *approves* it with that digest, which computes it again,
checks that it is still what was previewed (same records, same policy), charges the privacy
ledger (DP kinds), writes the files atomically, records everything and signs an audit checkpoint.
Only then can it be read: by everyone (``public``), by the organisations its DPO shares it with
(``shared``), or by the organisation's analysts and DPOs (``internal``).

Files of a release (``<release dir>/<release_id>/``): the data (``microdata.csv``,
``synthetic.csv`` or one ``victims_by_*.csv`` per table) and ``release.json`` (parameters, epsilon,
checksums). The release's secret (the key of its noise and sampling) is sealed in the database and
never leaves the server; the suppression, utility and disclosure-risk reports are computed from
confidential data and are shown to the owning organisation's DPO only.
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

from imdx.cases import accounts
from imdx.cases.access import Principal, Resource, release_visible
from imdx.cases.errors import ReleaseError
from imdx.cases.policy import check_request, effective_parameters, get_policy
from imdx.cases.releases import ledger
from imdx.cases.releases.dp import dp_tables
from imdx.cases.releases.kanon import k_anonymise, verify_k_anonymity
from imdx.cases.releases.randomness import generator, new_secret
from imdx.cases.releases.synthetic import synthesise
from imdx.cases.schema import RECORD_FIELDS, SCHEMA_VERSION
from imdx.cases.values import jsonable

KINDS = ("k-anonymised", "dp-aggregates", "synthetic")
AUDIENCES = ("public", "shared", "internal")
_RELEASE_ID = re.compile(r"^[0-9a-f]{32}$")


class PreviewMismatch(ReleaseError):
    """What would be published differs from what was previewed (HTTP 409)."""


def run_release(kind: str, records: pd.DataFrame, parameters: dict, secret: bytes) -> tuple[dict, dict, float, float]:
    """Compute a release: ``(files: name -> DataFrame, internal report, epsilon, delta)``. Pure: the same
    records, parameters and secret give the same files."""
    if kind == "k-anonymised":
        result = k_anonymise(records, rng=generator(secret, "k-anonymised/order"), **parameters)
        problems = verify_k_anonymity(result.frame, result.quasi_identifiers, result.k)
        if len(problems):
            raise ReleaseError("the k-anonymised file failed its own verification; nothing was released")
        return {"microdata.csv": result.frame}, {"suppression": result.suppression_report}, 0.0, 0.0
    if kind == "dp-aggregates":
        result = dp_tables(records, secret=secret, **parameters)
        files = {f"{name}.csv": table for name, table in result.tables.items()}
        return files, {"noise_scale_per_table": result.scale}, result.epsilon, result.delta
    if kind == "synthetic":
        result = synthesise(records, secret=secret, **parameters)
        return ({"synthetic.csv": result.frame}, {"utility": result.utility, "disclosure_risk": result.disclosure_risk},
                result.epsilon, result.delta)
    raise ReleaseError(f"unknown release kind {kind!r}; choose one of {', '.join(KINDS)}")


def request_release(svc, principal: Principal, kind: str, parameters: dict | None = None, *,
                    dataset: str | None = None, audience: str = "public") -> str:
    """Ask for a release of ``dataset`` (the caller's organisation's); returns its id."""
    dataset = principal.organisation if dataset is None else dataset
    svc.allow(principal, "release:request", target=str(kind)[:40])
    svc.allow(principal, "release:request", svc.dataset_resource(dataset), str(dataset)[:100])
    parameters = {} if parameters is None else parameters
    check_request(kind, parameters, get_policy(svc.store, dataset))
    if audience not in AUDIENCES:
        raise ReleaseError(f"audience must be one of {', '.join(AUDIENCES)}")
    release_id = secrets.token_hex(16)
    with svc.store.transaction() as con:
        con.execute("INSERT INTO releases (release_id, kind, dataset, status, audience, requested_by, requested_at,"
                    " parameters, secret) VALUES (?, ?, ?, 'pending', ?, ?, now(), ?, ?)",
                    [release_id, kind, dataset, audience, principal.username, json.dumps(parameters),
                     svc.keyring.encrypt_bytes(new_secret())])
        svc.audit.record(principal.username, "release:request", release_id, "ok",
                         {"kind": kind, "dataset": dataset, "audience": audience, "parameters": parameters})
    return release_id


def _row(svc, release_id) -> dict | None:
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
    return Resource("release", organisation=row["dataset"], audience=row["audience"], shared_with=row["shared_with"],
                    status=row["status"], requested_by=row["requested_by"])


def _authorised_row(svc, principal: Principal, action: str, release_id) -> dict:
    """The release, after :func:`authorise` allowed ``action`` on it (refusals audited)."""
    svc.allow(principal, action, target=str(release_id)[:64])
    row = _row(svc, release_id)
    svc.allow(principal, action, _resource(row), str(release_id)[:64])
    return row


#: the fields DP tables and synthetic data are computed from (see :func:`imdx.cases.releases.dp.dimension_codes`)
DP_FIELDS = ("country_of_exploitation", "citizenship", "gender", "age_band", "year_of_registration",
             "is_forced_labour", "is_sexual_exploitation", "is_other_exploitation")


def _records(svc, kind: str, dataset: str, parameters: dict) -> pd.DataFrame:
    """The fields of the dataset's records that the release reads (in intake order)."""
    fields = ([*parameters["quasi_identifiers"], *parameters["attributes"]] if kind == "k-anonymised"
              else list(DP_FIELDS))
    return svc.store.records(dataset, columns=tuple(dict.fromkeys(fields)), categorical=True)


def _compute(svc, row: dict) -> dict:
    """Everything an approval would publish, from today's records and policy (nothing is written)."""
    if row["status"] != "pending":
        raise ReleaseError(f"release {row['release_id']} is {row['status']}, not pending")
    policy = get_policy(svc.store, row["dataset"])
    requested = json.loads(row["parameters"])
    parameters = effective_parameters(row["kind"], requested, policy)
    if "epsilon" in parameters:          # refuse early, before touching the records
        ledger.check(svc.store, row["dataset"], float(parameters["epsilon"]), float(parameters.get("delta", 0.0)),
                     policy.epsilon_budget, policy.delta_budget)
    records = _records(svc, row["kind"], row["dataset"], parameters)
    secret = svc.keyring.decrypt_bytes(bytes(row["secret"]))
    files, report, epsilon, delta = run_release(row["kind"], records, parameters, secret)
    report["data_digest"] = svc.store.records_digest(row["dataset"])
    report["requested"] = requested
    blobs = {name: csv_bytes(frame) for name, frame in files.items()}
    checksums = {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()}
    spent_eps, spent_delta = ledger.spent(svc.store, row["dataset"])
    summary = {"release_id": row["release_id"], "kind": row["kind"], "dataset": row["dataset"],
               "audience": row["audience"], "parameters": parameters, "epsilon": epsilon, "delta": delta,
               "files": {name: {"rows": len(frame), "columns": list(frame.columns), "sha256": checksums[name]}
                         for name, frame in files.items()},
               "budget": {"epsilon_budget": policy.epsilon_budget, "epsilon_spent": spent_eps,
                          "epsilon_left_after": policy.epsilon_budget - spent_eps - epsilon,
                          "delta_budget": policy.delta_budget, "delta_spent": spent_delta},
               "policy": policy.as_dict(), "data_digest": report["data_digest"]}
    digest = hashlib.sha256(json.dumps(jsonable(summary), sort_keys=True).encode()).hexdigest()
    return {"summary": summary, "digest": digest, "files": files, "blobs": blobs, "report": report,
            "policy": policy}


def preview_release(svc, principal: Principal, release_id: str, sample_rows: int = 5) -> dict:
    """What approving ``release_id`` would publish, for its DPO to check; ``preview_digest`` is what
    :func:`approve_release` must be given. Nothing is written (but the preview is audited)."""
    row = _authorised_row(svc, principal, "release:preview", release_id)
    computed = _compute(svc, row)
    preview = dict(computed["summary"])
    report = computed["report"]
    if "suppression" in report:
        preview["suppression"] = report["suppression"]
        preview["smallest_class"] = report["suppression"]["smallest_class"]
    for name in ("noise_scale_per_table", "utility", "disclosure_risk"):
        if name in report:
            preview[name] = report[name]
    for name, frame in computed["files"].items():
        preview["files"][name]["sample"] = jsonable(frame.head(sample_rows).astype(object).to_dict(orient="records"))
    preview["preview_digest"] = computed["digest"]
    svc.audit.record(principal.username, "release:preview", release_id, "ok", {"digest": computed["digest"]})
    return jsonable(preview)


def approve_release(svc, principal: Principal, release_id: str, confirm: str) -> dict:
    """Publish a pending release of the caller's organisation, as previewed (``confirm`` = the preview's
    ``preview_digest``)."""
    row = _authorised_row(svc, principal, "release:approve", release_id)
    computed = _compute(svc, row)
    if not isinstance(confirm, str) or confirm != computed["digest"]:
        raise PreviewMismatch("what would be published is not what was previewed (the records, the policy or the "
                              "budget changed, or no preview was given): preview the release again and approve "
                              "with its preview_digest")
    summary, policy = computed["summary"], computed["policy"]
    folder = Path(svc.settings.release_dir) / release_id
    manifest = {"release_id": release_id, "kind": row["kind"], "schema_version": SCHEMA_VERSION,
                "publisher": row["dataset"], "parameters": summary["parameters"], "epsilon": summary["epsilon"],
                "delta": summary["delta"], "approved_by_role": "data_protection_officer",
                "approved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "dataflow": "trafficking_victims"}
    checksums = _write_files(folder, computed["blobs"], manifest)
    try:
        with svc.store.transaction() as con:
            status = con.execute("SELECT status FROM releases WHERE release_id = ?", [release_id]).fetchone()[0]
            if status != "pending":
                raise ReleaseError(f"release {release_id} was approved meanwhile")
            if summary["epsilon"] > 0:
                ledger.charge(svc.store, row["dataset"], release_id, summary["epsilon"], summary["delta"],
                              policy.epsilon_budget, policy.delta_budget)
            con.execute("UPDATE releases SET status = 'published', approved_by = ?, approved_at = now(), epsilon = ?,"
                        " delta = ?, files = ?, report = ?, parameters = ? WHERE release_id = ?",
                        [principal.username, summary["epsilon"], summary["delta"], json.dumps(checksums),
                         json.dumps(jsonable(computed["report"])), json.dumps(summary["parameters"]), release_id])
            svc.audit.record(principal.username, "release:approve", release_id, "ok",
                             {"kind": row["kind"], "epsilon": summary["epsilon"], "delta": summary["delta"],
                              "files": checksums, "digest": computed["digest"]})
    except BaseException as err:
        shutil.rmtree(folder, ignore_errors=True)
        svc.audit.record(principal.username, "release:approve", release_id, "refused", {"reason": str(err)[:500]})
        raise
    svc.checkpoint("release")
    return {"release_id": release_id, "status": "published", "files": checksums, "epsilon": summary["epsilon"],
            "delta": summary["delta"]}


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A release table as CSV (UTF-8, header, strings quoted), written by Arrow: fast and deterministic."""
    buffer = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.cast(pa.schema([pa.field(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type)
                                  for f in table.schema]))
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(quoting_style="needed"))
    return buffer.getvalue()


def _write_files(folder: Path, blobs: dict[str, bytes], manifest: dict) -> dict[str, str]:
    tmp = folder.with_name(folder.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    checksums = {}
    for name, data in blobs.items():
        (tmp / name).write_bytes(data)
        checksums[name] = hashlib.sha256(data).hexdigest()
    manifest["files"] = checksums
    (tmp / "release.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return checksums


def share_release(svc, principal: Principal, release_id: str, organisation: str, *, grant: bool = True) -> None:
    """Grant (or, with ``grant=False``, withdraw) ``organisation``'s reading of a published release of the
    caller's organisation (its DPO only)."""
    row = _authorised_row(svc, principal, "release:share", release_id)
    if not accounts.organisation_exists(svc.store, organisation):
        svc.allow(principal, "release:share", Resource("organisation", status="absent"), str(organisation)[:100])
    if organisation == row["dataset"]:
        raise ReleaseError("a release is always readable by its own organisation; share it with a partner")
    if row["status"] != "published":
        raise ReleaseError(f"release {release_id} is {row['status']}: approve it before sharing it")
    with svc.store.transaction() as con:
        con.execute("DELETE FROM release_shares WHERE release_id = ? AND organisation = ?", [release_id, organisation])
        if grant:
            con.execute("INSERT INTO release_shares VALUES (?, ?, ?, now())", [release_id, organisation,
                                                                               principal.username])
            if row["audience"] == "internal":
                con.execute("UPDATE releases SET audience = 'shared' WHERE release_id = ?", [release_id])
        svc.audit.record(principal.username, "release:share" if grant else "release:unshare", release_id, "ok",
                         {"organisation": organisation})
    svc.checkpoint("share")


def release_info(svc, principal: Principal, release_id: str) -> dict:
    """What a reader may know of a release: its public record; the owning DPO also gets the internal
    reports and who requested and approved it. Never its secret."""
    row = _authorised_row(svc, principal, "release:read", release_id)
    info = {"release_id": release_id, "kind": row["kind"], "status": row["status"], "audience": row["audience"],
            "publisher": row["dataset"], "parameters": json.loads(row["parameters"]),
            "epsilon": row["epsilon"], "delta": row["delta"],
            "files": json.loads(row["files"]) if isinstance(row["files"], str) else {}}
    if principal.role == "data_protection_officer" and principal.organisation == row["dataset"]:
        info.update(report=json.loads(row["report"]) if isinstance(row["report"], str) else None,
                    requested_by=row["requested_by"], approved_by=row["approved_by"],
                    shared_with=sorted(row["shared_with"]))
    return jsonable(info)


def release_file(svc, principal: Principal, release_id: str, name: str) -> Path:
    """Path of one file of a release the caller may read. ``name`` must be one the release lists."""
    info = release_info(svc, principal, release_id)
    if info["status"] != "published" or (name not in info["files"] and name != "release.json"):
        svc.allow(principal, "release:read", Resource("file", status="absent"), f"{release_id}/{name}"[:200])
    if principal.is_authenticated:      # anonymous downloads of public files name no one: not logged
        svc.audit.record(principal.username, "release:download", f"{release_id}/{name}", "ok")
    return Path(svc.settings.release_dir) / release_id / name


def list_releases(svc, principal: Principal) -> list[dict]:
    svc.allow(principal, "release:read")
    rows = svc.store.query("SELECT r.release_id, r.kind, r.status, r.audience, r.dataset, r.requested_by, "
                           "list(s.organisation) FILTER (WHERE s.organisation IS NOT NULL) FROM releases r "
                           "LEFT JOIN release_shares s USING (release_id) GROUP BY ALL ORDER BY min(r.requested_at), "
                           "r.release_id")
    out = []
    for release_id, kind, status, audience, dataset, requested_by, shared in rows:
        resource = Resource("release", organisation=dataset, audience=audience, shared_with=frozenset(shared or ()),
                            status=status, requested_by=requested_by)
        if release_visible(principal, resource):
            out.append({"release_id": release_id, "kind": kind, "status": status, "audience": audience,
                        "publisher": dataset})
    return out


def reproduce_release(svc, principal: Principal, release_id: str) -> bool:
    """Re-run a published release with its sealed secret and recorded parameters (its DPO only); True
    when every file is byte-identical (the records must be unchanged, which the data digest checks first)."""
    row = _authorised_row(svc, principal, "release:approve", release_id)
    if row["status"] != "published":
        raise ReleaseError(f"release {release_id} is not a published release")
    if svc.store.records_digest(row["dataset"]) != json.loads(row["report"])["data_digest"]:
        raise ReleaseError("the records changed since this release; it cannot be reproduced on today's data")
    parameters = json.loads(row["parameters"])
    secret = svc.keyring.decrypt_bytes(bytes(row["secret"]))
    files, _, _, _ = run_release(row["kind"], _records(svc, row["kind"], row["dataset"], parameters), parameters,
                                 secret)
    recorded = json.loads(row["files"])
    return all(hashlib.sha256(csv_bytes(frame)).hexdigest() == recorded[name] for name, frame in files.items())


def approvable(svc, principal: Principal, release_id: str) -> None:
    """Raise :class:`AccessDenied` unless ``principal`` is the DPO who may approve ``release_id``."""
    _authorised_row(svc, principal, "release:approve", release_id)


__all__ = [
    "KINDS",
    "RECORD_FIELDS",
    "approvable",
    "approve_release",
    "list_releases",
    "preview_release",
    "release_file",
    "release_info",
    "reproduce_release",
    "request_release",
    "run_release",
    "share_release",
]
