"""Errors of the case database. Each message says what to do next."""

from __future__ import annotations

from imdx.errors import ImdxError


class CaseError(ImdxError):
    """Base of the case database's errors."""


class CaseConfigError(CaseError):
    """A setting of the case database (key, path) is missing or wrong."""


class AccessDenied(CaseError):
    """An action was refused. ``status`` is the HTTP status that the API answers with:
    401 (not authenticated, or token expired), 403 (role may not do this), 404 (no such record
    visible to this user: records of other organisations are reported as absent)."""

    exit_code = 3

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


class BudgetExceeded(CaseError):
    """A differentially private release would spend more privacy budget than the dataset has left."""

    exit_code = 4


class ReleaseError(CaseError):
    """A release cannot be made as asked (unknown kind, bad parameters, wrong state)."""


class DecryptionError(CaseError):
    """Encrypted data cannot be decrypted with the configured keys."""


class IntakeError(CaseError):
    """A contributor file cannot be read at all (the store is left unchanged)."""
