"""Settings of the case database, read explicitly (never at import) from a configuration file and the
environment.

Every secret (encryption keys, the audit key, the fingerprint key) comes from the configuration file
named by ``IMDX_CASES_CONFIG`` or from the environment (the environment wins); none is ever written in
the code. ``imdx cases new-config FILE`` writes a file with fresh keys, readable by its owner only.
A missing or weak secret, or a file others can read, is refused with a message saying what to do.

The release policy (quasi-identifiers, k, suppression, epsilon per release, privacy budget) is *not*
a setting: it belongs to each dataset and is set by its data protection officer (see
:mod:`imdx.cases.policy`). ``IMDX_CASES_EPSILON_BUDGET``, which older versions read, is refused.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from imdx.cases.crypto import check_fernet_key, check_secret
from imdx.cases.errors import CaseConfigError


@dataclass(frozen=True)
class Setting:
    name: str           # the key in the ``[cases]`` table of the configuration file
    env: str
    kind: type
    default: object
    help: str


SETTINGS = (
    Setting("db", "IMDX_CASES_DB", str, "cases.duckdb", "path of the case database (a DuckDB file)"),
    Setting("releases", "IMDX_CASES_RELEASES", str, None, "folder of release files (default: beside the database)"),
    Setting("checkpoints", "IMDX_CASES_CHECKPOINTS", str, None,
            "file of signed audit checkpoints (default: beside the database; better on another volume)"),
    Setting("keys", "IMDX_CASES_KEYS", list, None, "Fernet keys, the first encrypts, all decrypt (comma-separated "
                                                   "in the environment)"),
    Setting("audit_key", "IMDX_CASES_AUDIT_KEY", str, None, "secret keying the audit chain and its checkpoints"),
    Setting("fingerprint_key", "IMDX_CASES_FINGERPRINT_KEY", str, None, "secret keying duplicate fingerprints"),
    Setting("token_minutes", "IMDX_CASES_TOKEN_MINUTES", int, 30, "lifetime of an access token, minutes"),
    Setting("refresh_hours", "IMDX_CASES_REFRESH_HOURS", int, 12,
            "how long after signing in a session may be refreshed without the password, hours"),
    Setting("argon2_cost", "IMDX_CASES_ARGON2_COST", list, [3, 65536],
            "argon2id time_cost,memory_kib for new passwords (RFC 9106); lower only for tests"),
    Setting("hash_concurrency", "IMDX_CASES_HASH_CONCURRENCY", int, 2,
            "passwords hashed at the same time; each takes memory_kib of memory"),
    Setting("hash_wait_seconds", "IMDX_CASES_HASH_WAIT_SECONDS", float, 10.0,
            "how long a sign-in waits for a hashing slot before it is answered 503"),
    Setting("lockout_after", "IMDX_CASES_LOCKOUT_AFTER", int, 10, "failed sign-ins that lock an account"),
    Setting("address_lockout_after", "IMDX_CASES_ADDRESS_LOCKOUT_AFTER", int, 50,
            "failed or refused sign-ins that lock a client address"),
    Setting("lockout_minutes", "IMDX_CASES_LOCKOUT_MINUTES", float, 15.0, "how long a lockout lasts, minutes"),
    Setting("checkpoint_minutes", "IMDX_CASES_CHECKPOINT_MINUTES", float, 5.0,
            "how often a served database signs a checkpoint of its audit chain, minutes"),
    Setting("max_body_kib", "IMDX_CASES_MAX_BODY_KIB", int, 64, "largest request body the case API reads, KiB"),
)
CONFIG_ENV = "IMDX_CASES_CONFIG"
RETIRED = {"IMDX_CASES_EPSILON_BUDGET": "the privacy budget belongs to each dataset's release policy, set by its "
                                        "data protection officer (`imdx cases policy set --epsilon-budget`); "
                                        "remove IMDX_CASES_EPSILON_BUDGET from the environment"}


@dataclass(frozen=True)
class CaseSettings:
    db_path: Path
    release_dir: Path
    checkpoint_path: Path
    keys: tuple[str, ...]
    audit_key: str
    fingerprint_key: str
    token_minutes: int = 30
    refresh_hours: int = 12
    argon2_cost: tuple[int, int] = (3, 65536)
    hash_concurrency: int = 2
    hash_wait_seconds: float = 10.0
    lockout_after: int = 10
    address_lockout_after: int = 50
    lockout_minutes: float = 15.0
    checkpoint_minutes: float = 5.0
    max_body_kib: int = 64

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CaseSettings:
        env = os.environ if environ is None else environ
        for name, why in RETIRED.items():
            if env.get(name):
                raise CaseConfigError(f"{name} is no longer read: {why}")
        values = _file_values(env.get(CONFIG_ENV))
        for s in SETTINGS:
            if env.get(s.env):
                values[s.name] = _from_text(s, env[s.env])
        missing = [s.env for s in SETTINGS if s.default is None and s.name in ("keys", "audit_key", "fingerprint_key")
                   and not values.get(s.name)]
        if missing:
            raise CaseConfigError(
                f"{', '.join(missing)} not set. Write a configuration file with fresh keys with `imdx cases new-config "
                f"FILE` and set {CONFIG_ENV}=FILE, or set the variables in the environment of the process (never in "
                "the code or the repository).")
        merged = {s.name: values.get(s.name, s.default) for s in SETTINGS}
        keys = tuple(merged["keys"])
        for i, key in enumerate(keys):
            check_fernet_key(f"key {i + 1} of IMDX_CASES_KEYS", key)
        check_secret("IMDX_CASES_AUDIT_KEY", merged["audit_key"])
        check_secret("IMDX_CASES_FINGERPRINT_KEY", merged["fingerprint_key"])
        if len({*keys, merged["audit_key"], merged["fingerprint_key"]}) < len(keys) + 2:
            raise CaseConfigError("the encryption keys, the audit key and the fingerprint key must all differ: "
                                  "generate each with `imdx cases new-key`")
        db = Path(merged["db"]).expanduser()
        stem = str(db.with_suffix(""))
        cost = tuple(int(v) for v in merged["argon2_cost"])
        _check_numbers(merged, cost)
        return cls(db_path=db, release_dir=Path(merged["releases"] or stem + "-releases").expanduser(),
                   checkpoint_path=Path(merged["checkpoints"] or stem + "-audit-checkpoints.jsonl").expanduser(),
                   keys=keys, audit_key=merged["audit_key"], fingerprint_key=merged["fingerprint_key"],
                   token_minutes=merged["token_minutes"], refresh_hours=merged["refresh_hours"],
                   argon2_cost=cost, hash_concurrency=merged["hash_concurrency"],
                   hash_wait_seconds=merged["hash_wait_seconds"], lockout_after=merged["lockout_after"],
                   address_lockout_after=merged["address_lockout_after"], lockout_minutes=merged["lockout_minutes"],
                   checkpoint_minutes=merged["checkpoint_minutes"], max_body_kib=merged["max_body_kib"])


def configured(environ: Mapping[str, str] | None = None) -> bool:
    """True when a case database is configured (a configuration file or ``IMDX_CASES_DB``)."""
    env = os.environ if environ is None else environ
    return bool(env.get(CONFIG_ENV) or env.get("IMDX_CASES_DB"))


def _from_text(setting: Setting, text: str):
    try:
        if setting.kind is list:
            parts = [p.strip() for p in text.split(",") if p.strip()]
            return parts if setting.name == "keys" else [int(p) for p in parts]
        return setting.kind(text)
    except ValueError:
        raise CaseConfigError(f"{setting.env} must be {_expected(setting)}, not {text!r}") from None


def _expected(setting: Setting) -> str:
    return {int: "a whole number", float: "a number", str: "text", list: "a comma-separated list"}[setting.kind]


def _file_values(path_text: str | None) -> dict:
    if not path_text:
        return {}
    path = Path(path_text).expanduser()
    try:
        mode = path.stat().st_mode
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise CaseConfigError(f"{CONFIG_ENV}={path}: cannot read the file ({err.strerror}); write one with "
                              "`imdx cases new-config FILE`") from None
    except tomllib.TOMLDecodeError as err:
        raise CaseConfigError(f"{CONFIG_ENV}={path} is not valid TOML ({err})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CaseConfigError(f"{path} holds secrets but others may read it: run `chmod 600 {path}`")
    table = data.get("cases")
    if not isinstance(table, dict):
        raise CaseConfigError(f"{path} has no [cases] table; see docs/cases.md for its layout")
    by_name = {s.name: s for s in SETTINGS}
    unknown = sorted(set(table) - set(by_name))
    if unknown:
        raise CaseConfigError(f"{path}: unknown settings {unknown}; known: {', '.join(by_name)}")
    out = {}
    for name, value in table.items():
        if not _valid(by_name[name], value):
            raise CaseConfigError(f"{path}: {name} must be {_expected(by_name[name])}, not {value!r}")
        out[name] = float(value) if by_name[name].kind is float else value
    return out


def _valid(setting: Setting, value) -> bool:
    if setting.kind is list:
        item = str if setting.name == "keys" else int
        return isinstance(value, list) and all(isinstance(v, item) and not isinstance(v, bool) for v in value)
    if setting.kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if setting.kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def _check_numbers(merged: dict, cost: tuple) -> None:
    rules = [("token_minutes", 1, 24 * 60), ("refresh_hours", 0, 24 * 30), ("hash_concurrency", 1, 64),
             ("hash_wait_seconds", 0.1, 300), ("lockout_after", 2, 1000), ("address_lockout_after", 2, 100000),
             ("lockout_minutes", 0.01, 7 * 24 * 60), ("checkpoint_minutes", 0.01, 24 * 60), ("max_body_kib", 1, 65536)]
    by_name = {s.name: s for s in SETTINGS}
    for name, low, high in rules:
        if not low <= merged[name] <= high:
            raise CaseConfigError(f"{by_name[name].env} must be between {low} and {high}, not {merged[name]}")
    if len(cost) != 2 or cost[0] < 1 or cost[1] < 8 * 1024:
        raise CaseConfigError("IMDX_CASES_ARGON2_COST must be time_cost,memory_kib with time_cost >= 1 and "
                              "memory_kib >= 8192 (RFC 9106 recommends 3,65536)")


def write_config(path: Path | str, *, db: str = "cases.duckdb", checkpoints: str | None = None) -> Path:
    """Write a configuration file with fresh keys, readable and writable by its owner only. An existing
    file is never overwritten (its keys may be the only way to read a database)."""
    from imdx.cases.crypto import new_key

    path = Path(path).expanduser()
    lines = ["# imdx case database: settings and secrets (docs/cases.md). Keep this file out of any repository,",
             "# readable by the server's user only, and backed up apart from the database.", "[cases]",
             f"db = {_toml(str(Path(db).expanduser().resolve()))}"]
    if checkpoints:
        lines.append(f"checkpoints = {_toml(str(Path(checkpoints).expanduser().resolve()))}")
    lines += [f"keys = [{_toml(new_key())}]", f"audit_key = {_toml(new_key())}",
              f"fingerprint_key = {_toml(new_key())}", "token_minutes = 30", "refresh_hours = 12", ""]
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CaseConfigError(f"{path} exists already; it may hold the only copy of a database's keys: choose "
                              "another file") from None
    except OSError as err:
        raise CaseConfigError(f"cannot write {path} ({err.strerror})") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
