"""Settings of the case database, read explicitly from the environment (never at import).

Every secret (encryption keys, the audit key, the fingerprint key) comes from the environment or
from the mapping given to :func:`CaseSettings.from_env`; none is ever written in the code.

=============================  ==================================================================
variable                       meaning
=============================  ==================================================================
``IMDX_CASES_DB``              path of the DuckDB file (default ``cases.duckdb``)
``IMDX_CASES_RELEASES``        folder where release files are written (default: next to the DB)
``IMDX_CASES_KEYS``            comma-separated Fernet keys; the first encrypts, all decrypt
``IMDX_CASES_AUDIT_KEY``       secret that keys the audit hash chain (HMAC-SHA256)
``IMDX_CASES_FINGERPRINT_KEY`` secret that keys duplicate-detection fingerprints
``IMDX_CASES_TOKEN_MINUTES``   lifetime of an access token (default 60)
``IMDX_CASES_EPSILON_BUDGET``  total epsilon a dataset may spend on releases (default 3.0)
``IMDX_CASES_ARGON2_COST``     argon2id ``time_cost,memory_kib`` for new passwords (default
                               ``3,65536``, RFC 9106); lower only for tests
=============================  ==================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from imdx.cases.errors import CaseConfigError


@dataclass(frozen=True)
class CaseSettings:
    db_path: Path
    release_dir: Path
    keys: tuple[str, ...]
    audit_key: str
    fingerprint_key: str
    token_minutes: int = 60
    epsilon_budget: float = 3.0
    argon2_cost: tuple[int, int] = (3, 65536)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CaseSettings:
        env = os.environ if environ is None else environ
        db_path = Path(env.get("IMDX_CASES_DB", "cases.duckdb"))
        release_dir = Path(env.get("IMDX_CASES_RELEASES", str(db_path.with_suffix("")) + "-releases"))
        keys = tuple(k.strip() for k in env.get("IMDX_CASES_KEYS", "").split(",") if k.strip())
        missing = [name for name, value in [("IMDX_CASES_KEYS", keys),
                                            ("IMDX_CASES_AUDIT_KEY", env.get("IMDX_CASES_AUDIT_KEY")),
                                            ("IMDX_CASES_FINGERPRINT_KEY",
                                             env.get("IMDX_CASES_FINGERPRINT_KEY"))] if not value]
        if missing:
            raise CaseConfigError(
                f"{', '.join(missing)} not set. Generate keys with `imdx cases new-key` and set them in the "
                "environment of the process (never in the code or the repository).")
        try:
            token_minutes = int(env.get("IMDX_CASES_TOKEN_MINUTES", "60"))
            budget = float(env.get("IMDX_CASES_EPSILON_BUDGET", "3.0"))
            time_cost, memory = (int(v) for v in env.get("IMDX_CASES_ARGON2_COST", "3,65536").split(","))
        except ValueError as err:
            raise CaseConfigError("IMDX_CASES_TOKEN_MINUTES, IMDX_CASES_EPSILON_BUDGET and IMDX_CASES_ARGON2_COST "
                              f"must be numbers ({err}); see `imdx cases --help`") from None
        return cls(db_path=db_path, release_dir=release_dir, keys=keys,
                   audit_key=env["IMDX_CASES_AUDIT_KEY"], fingerprint_key=env["IMDX_CASES_FINGERPRINT_KEY"],
                   token_minutes=token_minutes, epsilon_budget=budget, argon2_cost=(time_cost, memory))
