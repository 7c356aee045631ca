"""Idempotent writes: a request sent again with the same ``Idempotency-Key`` gets the first answer.

A client that did not hear back (timeout, dropped connection) sends the same request again with the
same key; the server answers with what it answered the first time, and creates nothing more. The
answer is stored in the same transaction as what the request wrote, so either both are stored or
neither. A key belongs to one user; the same key with a different request is refused (422), and keys
are forgotten after ``HOURS``.
"""

from __future__ import annotations

import hashlib
import json
import re

from imdx.cases.errors import CaseError

HOURS = 24
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotencyError(CaseError):
    """The key is malformed, or was used before for another request (HTTP 422)."""


def check_key(key: str | None) -> str | None:
    if key is not None and not _KEY.match(key):
        raise IdempotencyError("Idempotency-Key must be 1-255 visible ASCII characters (a UUID is a good one)")
    return key


def request_hash(route: str, body) -> str:
    return hashlib.sha256(json.dumps([route, body], sort_keys=True, default=str).encode()).hexdigest()


def replay(con, username: str, key: str, digest: str) -> tuple[int, bytes] | None:
    """The stored ``(status, body)`` of an earlier request with this key, inside the caller's transaction."""
    row = con.execute("SELECT request_hash, status, body FROM idempotency WHERE username = ? AND key = ? AND "
                      f"created_at > now() - INTERVAL {HOURS} HOUR", [username, key]).fetchone()
    if row is None:
        return None
    if row[0] != digest:
        raise IdempotencyError("this Idempotency-Key was used before for a different request: use a new key for "
                               "a new request")
    return int(row[1]), bytes(row[2])


def remember(con, username: str, key: str, digest: str, status: int, body: bytes) -> None:
    con.execute(f"DELETE FROM idempotency WHERE created_at <= now() - INTERVAL {HOURS} HOUR")
    con.execute("DELETE FROM idempotency WHERE username = ? AND key = ?", [username, key])
    con.execute("INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, now())", [username, key, digest, status, body])
