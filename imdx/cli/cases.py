"""``imdx cases``: the counter-trafficking case database from the command line.

Settings and secrets come from the environment (see :mod:`imdx.cases.settings`). Commands that act
on the database sign in as ``--user`` (or ``IMDX_CASES_USER``) with the password from
``IMDX_CASES_PASSWORD`` or a hidden prompt, and go through the same authorisation as the API.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from imdx.cli.group import ImdxGroup


class _Session:
    def __init__(self, user: str | None, password: str | None):
        self.user, self.password, self._service, self._principal = user, password, None, None

    @property
    def service(self):
        if self._service is None:
            from imdx.cases.service import CaseService
            self._service = CaseService.from_env()
            click.get_current_context().call_on_close(self._service.close)
        return self._service

    @property
    def principal(self):
        if self._principal is None:
            if not self.user:
                raise click.UsageError("sign in with --user NAME (or IMDX_CASES_USER)")
            password = self.password or click.prompt("password", hide_input=True)
            self._principal = self.service.principal(self.service.login(self.user, password))
        return self._principal


def _issues_summary(report) -> None:
    frame = report.to_frame()
    if frame.empty:
        click.echo("no issues")
        return
    counts = frame.groupby(["severity", "type"]).size()
    for (severity, type_), n in counts.items():
        click.echo(f"{severity:8} {type_:42} {n}")


@click.group(cls=ImdxGroup)
@click.option("--user", envvar="IMDX_CASES_USER", help="user name to sign in as")
@click.pass_context
def cases(ctx, user):
    """Counter-trafficking case database: intake, access, audit, releases."""
    ctx.obj = _Session(user, os.environ.get("IMDX_CASES_PASSWORD"))


@cases.command("new-key")
def new_key_cmd():
    """Print a fresh encryption key (put it first in IMDX_CASES_KEYS)."""
    from imdx.cases.crypto import new_key
    click.echo(new_key())


@cases.command("init")
@click.option("--admin", "admin", required=True, help="user name of the first administrator")
@click.option("--organisation", required=True, help="organisation running the database")
@click.pass_obj
def init_cmd(session, admin, organisation):
    """Create the database and its first administrator (password from IMDX_CASES_PASSWORD or prompt)."""
    password = session.password or click.prompt(
        "new password", hide_input=True, confirmation_prompt=True)
    session.service.bootstrap(admin, password, organisation)
    click.echo(f"created {session.service.settings.db_path} with administrator {admin}")


@cases.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--data-source", default=None, help="data source of every record, if the file has none")
@click.option("--organisation", default="CONTRIBUTOR", help="organisation of every record, if the file has none")
def validate_cmd(file, data_source, organisation):
    """Check a contributor file against the standard without importing it."""
    from imdx.cases.intake import read_contributor_file
    from imdx.cases.validate import validate_records
    raw = read_contributor_file(file)
    if "organisation" not in raw.columns:
        raw["organisation"] = organisation
    if data_source and "data_source" not in raw.columns:
        raw["data_source"] = data_source
    _, report, accepted = validate_records(raw, file=file.name)
    click.echo(f"{len(raw)} records: {int(accepted.sum())} valid, {int((~accepted).sum())} with errors")
    _issues_summary(report)
    sys.exit(0 if accepted.all() else 1)


@cases.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--data-source", default=None, help="data source of every record, if the file has none")
@click.pass_obj
def import_cmd(session, file, data_source):
    """Import a contributor file (CSV or Excel) as a field officer."""
    sub = session.service.import_file(session.principal, file, data_source=data_source)
    click.echo(f"submission {sub.submission_id}: {sub.n_records} records, {sub.n_accepted} accepted, "
               f"{sub.n_rejected} rejected, {sub.n_possible_duplicates} possible duplicates flagged for review")
    _issues_summary(sub.report)
    sys.exit(1 if sub.n_rejected else 0)


@cases.group("release")
def release_group():
    """Request, approve, share and list releases."""


@release_group.command("request")
@click.argument("kind", type=click.Choice(["k-anonymised", "dp-aggregates", "synthetic"]))
@click.option("--param", "params", multiple=True, help="parameter as NAME=JSON, e.g. epsilon=0.5 or k=11")
@click.option("--dataset", default="all")
@click.option("--audience", default="public", type=click.Choice(["public", "shared", "internal"]))
@click.pass_obj
def release_request(session, kind, params, dataset, audience):
    """Request a release (analyst or DPO); prints its id. A DPO must approve it."""
    from imdx.cases.releases import publish
    parameters = {}
    for p in params:
        name, _, value = p.partition("=")
        try:
            parameters[name] = json.loads(value)
        except json.JSONDecodeError:
            parameters[name] = value
    release_id = publish.request_release(session.service, session.principal, kind, parameters, dataset=dataset,
                                         audience=audience)
    click.echo(release_id)


@release_group.command("approve")
@click.argument("release_id")
@click.pass_obj
def release_approve(session, release_id):
    """Approve, run and publish a pending release (DPO); DP releases are charged to the budget."""
    from imdx.cases.releases import publish
    result = publish.approve_release(session.service, session.principal, release_id)
    click.echo(f"published {release_id}: epsilon {result['epsilon']:g}, files {', '.join(result['files'])}")


@release_group.command("share")
@click.argument("release_id")
@click.argument("organisation")
@click.pass_obj
def release_share(session, release_id, organisation):
    """Share a published release with a partner organisation (DPO)."""
    from imdx.cases.releases import publish
    publish.share_release(session.service, session.principal, release_id, organisation)
    click.echo(f"shared {release_id} with {organisation}")


@release_group.command("list")
@click.pass_obj
def release_list(session):
    """Releases the signed-in user may see."""
    from imdx.cases.releases import publish
    for r in publish.list_releases(session.service, session.principal):
        click.echo(f"{r['release_id']}  {r['kind']:14} {r['status']:10} {r['audience']}")


@release_group.command("store")
@click.argument("release_id")
@click.option("--db", default=None, help="The statistics store: a DuckDB file or a PostgreSQL URL. Default: $IMDX_DB "
              "or ./imdx.duckdb.")
@click.pass_obj
def release_store(session, release_id, db):
    """Put a published public release into the statistics store as dataflow trafficking_victims (DPO)."""
    from imdx.cases.releases.to_store import store_release
    from imdx.cli.common import open_store

    with open_store(db, read_only=False) as store:
        if store.areas() is None:
            raise click.UsageError("the statistics store has no area table yet: run `imdx load m49` first")
        store_id = store_release(session.service, session.principal, release_id, store)
    click.echo(f"stored {release_id} as release {store_id}: imdx query trafficking_victims --db ...")


@cases.command("verify-audit")
@click.option("--head", default=None, help="SEQ:HASH noted at an earlier check (detects removed entries)")
@click.pass_obj
def verify_audit_cmd(session, head):
    """Verify the audit log's hash chain; exit code 1 when it was tampered with."""
    expected = None
    if head:
        seq, _, h = head.partition(":")
        expected = (int(seq), h)
    report, (seq, h) = session.service.verify_audit(session.principal, expected)
    for issue in report:
        click.echo(f"{issue.type}: {issue.message}")
    click.echo(("intact" if not len(report) else "BROKEN") + f"; head {seq}:{h}")
    sys.exit(1 if len(report) else 0)


@cases.command("rotate-key")
@click.pass_obj
def rotate_key_cmd(session):
    """Re-encrypt every record with the first key of IMDX_CASES_KEYS (while the database stays in use)."""
    n = session.service.rotate_keys(session.principal)
    click.echo(f"re-encrypted {n} records; 0 records left under older keys")


@cases.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@click.pass_obj
def backup_cmd(session, dest):
    """Write an encrypted backup of the database."""
    click.echo(f"wrote {session.service.backup(session.principal, dest)}")


@cases.command("completeness")
@click.pass_obj
def completeness_cmd(session):
    """Share of records with each field filled, overall and per contributor."""
    frame = session.service.completeness(session.principal)
    click.echo(frame.to_string(index=False))


@cases.group("users")
def users_group():
    """Organisations and users (administrators only)."""


@users_group.command("add-organisation")
@click.argument("name")
@click.pass_obj
def add_organisation_cmd(session, name):
    """Add an organisation (administrator)."""
    session.service.add_organisation(session.principal, name)
    click.echo(f"organisation {name} added")


@users_group.command("add")
@click.argument("username")
@click.option("--organisation", required=True)
@click.option("--role", required=True, type=click.Choice(["field_officer", "data_protection_officer", "analyst",
                                                          "partner_agency"]))
@click.option("--password", envvar="IMDX_CASES_NEW_PASSWORD", prompt=True, hide_input=True,
              confirmation_prompt=True, help="the new user's password (or IMDX_CASES_NEW_PASSWORD)")
@click.pass_obj
def add_user_cmd(session, username, organisation, role, password):
    """Add a user with one role in one organisation (administrator)."""
    session.service.add_user(session.principal, username, password, organisation, role)
    click.echo(f"user {username} ({role}, {organisation}) added")
