"""``imdx cases``: the counter-trafficking case database from the command line.

Settings and secrets come from the configuration file named by ``IMDX_CASES_CONFIG`` and the
environment (see :mod:`imdx.cases.settings`). Commands that act on the database sign in as ``--user``
(or ``IMDX_CASES_USER``) with the password from ``IMDX_CASES_PASSWORD`` or a hidden prompt, and go
through the same authorisation as the API: a user acts on their own organisation only.
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
            session = self.service.login(self.user, password, "cli")
            self._principal = self.service.principal(session.access_token, "cli")
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
    """Print a fresh random key (for IMDX_CASES_KEYS, IMDX_CASES_AUDIT_KEY or IMDX_CASES_FINGERPRINT_KEY)."""
    from imdx.cases.crypto import new_key
    click.echo(new_key())


@cases.command("new-config")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--db", "db", default="cases.duckdb", show_default=True, help="path of the case database")
@click.option("--checkpoints", default=None, help="file of signed audit checkpoints (default: beside the database; "
                                                  "better on another volume)")
def new_config_cmd(file, db, checkpoints):
    """Write a configuration file with fresh keys, readable by you only; then set IMDX_CASES_CONFIG=FILE."""
    from imdx.cases.settings import write_config
    write_config(file, db=db, checkpoints=checkpoints)
    click.echo(f"wrote {file} (mode 600). Keep it out of the repository; back it up apart from the database.\n"
               f"export IMDX_CASES_CONFIG={file}")


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


@cases.group("policy")
def policy_group():
    """The release policy of your organisation's dataset (set by its data protection officer)."""


@policy_group.command("show")
@click.pass_obj
def policy_show(session):
    """Show the policy every release of your organisation's dataset must meet."""
    for name, value in session.service.get_policy(session.principal).as_dict().items():
        click.echo(f"{name:20} {value}")


@policy_group.command("set")
@click.option("--quasi-identifiers", default=None, help="comma-separated fields someone may know about a victim")
@click.option("--k", type=int, default=None, help="smallest class of a k-anonymised file (11 or more)")
@click.option("--max-suppression", type=float, default=None, help="largest share of records suppressed")
@click.option("--epsilon-per-release", type=float, default=None, help="largest epsilon of one release")
@click.option("--epsilon-budget", type=float, default=None, help="total epsilon of all releases")
@click.option("--delta-budget", type=float, default=None, help="total delta of all releases")
@click.pass_obj
def policy_set(session, quasi_identifiers, **numbers):
    """Change the policy (DPO); the audit log keeps the old and the new values."""
    changes = {name: value for name, value in numbers.items() if value is not None}
    if quasi_identifiers is not None:
        changes["quasi_identifiers"] = [q.strip() for q in quasi_identifiers.split(",") if q.strip()]
    if not changes:
        raise click.UsageError("give at least one of the options to change")
    for name, value in session.service.set_policy(session.principal, changes).as_dict().items():
        click.echo(f"{name:20} {value}")


@cases.group("release")
def release_group():
    """Request, preview, approve, share and list releases."""


@release_group.command("request")
@click.argument("kind", type=click.Choice(["k-anonymised", "dp-aggregates", "synthetic"]))
@click.option("--param", "params", multiple=True, help="parameter as NAME=JSON, e.g. epsilon=0.5 or k=15")
@click.option("--audience", default="public", type=click.Choice(["public", "shared", "internal"]))
@click.pass_obj
def release_request(session, kind, params, audience):
    """Request a release of your organisation's dataset (analyst or DPO); prints its id. Its DPO approves it."""
    from imdx.cases.releases import publish
    parameters = {}
    for p in params:
        name, _, value = p.partition("=")
        try:
            parameters[name] = json.loads(value)
        except json.JSONDecodeError:
            parameters[name] = value
    click.echo(publish.request_release(session.service, session.principal, kind, parameters, audience=audience))


def _show_preview(preview: dict) -> None:
    click.echo(f"release {preview['release_id']}: {preview['kind']} of dataset {preview['dataset']}, audience "
               f"{preview['audience']}")
    click.echo("parameters: " + ", ".join(f"{k}={v}" for k, v in preview["parameters"].items()))
    for name, f in preview["files"].items():
        click.echo(f"  {name}: {f['rows']:,} rows; columns {', '.join(f['columns'])}")
    if "suppression" in preview:
        s = preview["suppression"]
        click.echo(f"suppressed: {s['records_suppressed']:,} of {s['records_in']:,} records "
                   f"({s['share_suppressed']:.2%}); smallest class {s['smallest_class']}; generalised: "
                   + ", ".join(f"{q} to level {lvl}" for q, lvl in s["generalisation_levels"].items()))
    b = preview["budget"]
    click.echo(f"epsilon {preview['epsilon']:g} (delta {preview['delta']:g}); budget {b['epsilon_budget']:g}, spent "
               f"{b['epsilon_spent']:g}, left after this release {b['epsilon_left_after']:g}")


@release_group.command("preview")
@click.argument("release_id")
@click.pass_obj
def release_preview(session, release_id):
    """Show exactly what approving a release would publish (DPO), without publishing it."""
    from imdx.cases.releases import publish
    _show_preview(publish.preview_release(session.service, session.principal, release_id))


@release_group.command("approve")
@click.argument("release_id")
@click.option("--yes", is_flag=True, help="publish what is shown without asking")
@click.pass_obj
def release_approve(session, release_id, yes):
    """Show what a release would publish, then publish it once you confirm (DPO); DP releases are charged
    to the dataset's budget."""
    from imdx.cases.releases import publish
    preview = publish.preview_release(session.service, session.principal, release_id)
    _show_preview(preview)
    if not yes and not click.confirm("publish exactly this?", default=False):
        click.echo("not published")
        sys.exit(1)
    result = publish.approve_release(session.service, session.principal, release_id, preview["preview_digest"])
    click.echo(f"published {release_id}: epsilon {result['epsilon']:g}, files {', '.join(result['files'])}")


@release_group.command("reproduce")
@click.argument("release_id")
@click.pass_obj
def release_reproduce(session, release_id):
    """Run a published release again with its sealed secret (DPO); exit code 1 unless every file is identical."""
    from imdx.cases.releases import publish
    identical = publish.reproduce_release(session.service, session.principal, release_id)
    click.echo(f"{release_id}: {'every file is identical' if identical else 'the files DIFFER'}")
    sys.exit(0 if identical else 1)


@release_group.command("share")
@click.argument("release_id")
@click.argument("organisation")
@click.option("--withdraw", is_flag=True, help="withdraw the organisation's access instead")
@click.pass_obj
def release_share(session, release_id, organisation, withdraw):
    """Share a published release of your organisation with a partner organisation (DPO)."""
    from imdx.cases.releases import publish
    publish.share_release(session.service, session.principal, release_id, organisation, grant=not withdraw)
    click.echo(f"{'withdrew' if withdraw else 'shared'} {release_id} {'from' if withdraw else 'with'} {organisation}")


@release_group.command("list")
@click.pass_obj
def release_list(session):
    """Releases the signed-in user may see."""
    from imdx.cases.releases import publish
    for r in publish.list_releases(session.service, session.principal):
        click.echo(f"{r['release_id']}  {r['kind']:14} {r['status']:10} {r['audience']:9} {r['publisher']}")


@release_group.command("store")
@click.argument("release_id")
@click.option("--db", default=None, help="The statistics store: a DuckDB file or a PostgreSQL URL. Default: $IMDX_DB "
              "or ./imdx.duckdb.")
@click.pass_obj
def release_store(session, release_id, db):
    """Put a published public release into the statistics store as dataflow trafficking_victims (its DPO)."""
    from imdx.cases.releases.to_store import store_release
    from imdx.cli.common import open_store

    with open_store(db, read_only=False) as store:
        if store.areas() is None:
            raise click.UsageError("the statistics store has no area table yet: run `imdx load m49` first")
        store_id = store_release(session.service, session.principal, release_id, store)
    click.echo(f"stored {release_id} as release {store_id}: imdx query trafficking_victims --db ...")


@cases.command("verify-audit")
@click.option("--head", default=None, help="SEQ:HASH noted at an earlier check (the signed checkpoints make this "
                                           "unnecessary; still accepted)")
@click.pass_obj
def verify_audit_cmd(session, head):
    """Verify the audit log's hash chain and its signed checkpoints; exit code 1 when it was tampered with."""
    expected = None
    if head:
        seq, _, h = head.partition(":")
        if not seq.isdigit():
            raise click.BadParameter("give the head as SEQ:HASH", param_hint="--head")
        expected = (int(seq), h)
    report, (seq, h) = session.service.verify_audit(session.principal, expected)
    for issue in report:
        click.echo(f"{issue.severity}: {issue.type}: {issue.message}")
    broken = report.count("error") > 0
    click.echo(("BROKEN" if broken else "intact") + f"; head {seq}:{h}")
    sys.exit(1 if broken else 0)


@cases.command("rotate-key")
@click.pass_obj
def rotate_key_cmd(session):
    """Re-encrypt every record and release secret with the first key of IMDX_CASES_KEYS."""
    n = session.service.rotate_keys(session.principal)
    click.echo(f"re-encrypted {n} values; 0 left under older keys")


@cases.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@click.pass_obj
def backup_cmd(session, dest):
    """Write an encrypted backup of the database."""
    click.echo(f"wrote {session.service.backup(session.principal, dest)}")


@cases.command("completeness")
@click.pass_obj
def completeness_cmd(session):
    """Share of your organisation's records with each field filled."""
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


@users_group.command("deactivate")
@click.argument("username")
@click.pass_obj
def deactivate_cmd(session, username):
    """Deactivate a user: every session of theirs ends now and they cannot sign in (administrator)."""
    session.service.set_active(session.principal, username, False)
    click.echo(f"user {username} deactivated; their sessions are revoked")


@users_group.command("activate")
@click.argument("username")
@click.pass_obj
def activate_cmd(session, username):
    """Activate a user again, and lift a lockout of their account (administrator)."""
    session.service.set_active(session.principal, username, True)
    click.echo(f"user {username} activated")


@users_group.command("revoke-tokens")
@click.argument("username")
@click.pass_obj
def revoke_tokens_cmd(session, username):
    """End every session of a user (administrator), e.g. after a lost laptop."""
    n = session.service.revoke_tokens(session.principal, username)
    click.echo(f"revoked {n} tokens of {username}")
