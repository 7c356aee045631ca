"""The case API inside ``imdx serve``: the service for the configured database, or how to configure one,
and the schedule of audit checkpoints while it is served.

``imdx serve`` mounts ``/api/v1/cases`` when a case database is configured (``IMDX_CASES_CONFIG``
or ``IMDX_CASES_DB``, see :mod:`imdx.cases.settings`). Settings with a missing or weak key, a
database that does not exist or has no administrator yet, or several worker processes (DuckDB lets
one process write a file) are refused before the server starts, with what to do.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping

from imdx.cases.errors import CaseConfigError
from imdx.cases.service import CaseService
from imdx.cases.settings import CONFIG_ENV, CaseSettings, configured

log = logging.getLogger("imdx.cases")

HOW_TO = (f"case API not mounted: no case database is configured. To serve /api/v1/cases, write a configuration "
          f"with `imdx cases new-config FILE`, set {CONFIG_ENV}=FILE, create the database with `imdx cases init "
          "--admin NAME --organisation ORG`, and start `imdx serve` again (docs/cases.md)")


def case_service(workers: int = 1, environ: Mapping[str, str] | None = None) -> tuple[CaseService | None, str]:
    """``(service, what to tell the person starting the server)``; ``(None, how to configure)`` when no case
    database is configured. Raises :class:`CaseConfigError` for settings that cannot be served."""
    if not configured(environ):
        return None, HOW_TO
    settings = CaseSettings.from_env(environ)
    if workers > 1:
        raise CaseConfigError(f"the case database {settings.db_path} is written by one process: serve it with "
                              "--workers 1 (or unset IMDX_CASES_CONFIG/IMDX_CASES_DB to serve only the statistics "
                              "with several workers)")
    if not settings.db_path.exists():
        raise CaseConfigError(f"the case database {settings.db_path} does not exist: create it with `imdx cases init "
                              "--admin NAME --organisation ORG` first")
    service = CaseService(settings)
    users = service.store.query("SELECT count(*) FROM users WHERE active")[0][0]
    if not users:
        service.close()
        raise CaseConfigError(f"the case database {settings.db_path} has no user yet: run "
                              "`imdx cases init --admin NAME --organisation ORG` first")
    weak = settings.argon2_cost[1] < 65536 or settings.argon2_cost[0] < 3
    note = (f"case API at /api/v1/cases (database {settings.db_path}, {users} active users; audit checkpoints every "
            f"{settings.checkpoint_minutes:g} min to {settings.checkpoint_path})"
            + ("; WARNING: IMDX_CASES_ARGON2_COST is below RFC 9106's 3,65536" if weak else ""))
    return service, note


class CheckpointSchedule:
    """Signs the audit chain's head every ``checkpoint_minutes`` (when it moved) until stopped."""

    def __init__(self, service: CaseService):
        self.service = service
        self.interval = service.settings.checkpoint_minutes * 60
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="imdx-cases-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.service.checkpoint("schedule")
            except Exception:  # keep signing later; the failure is in the log
                log.exception("audit checkpoint failed")


@contextlib.asynccontextmanager
async def served(service: CaseService):
    """The lifespan of a served case database: checkpoints on schedule; at the end, a last one and close."""
    schedule = CheckpointSchedule(service)
    schedule.start()
    try:
        yield
    finally:
        schedule.stop()
        service.close()
