"""The exception hierarchy.

Two kinds of failure exist in imdx. A fault of the program or of its environment (a file that
cannot be read, a query that names something that does not exist, a store that cannot be opened)
raises an :class:`ImdxError` subclass whose message says what to do next. A problem *in the data*
(an unmapped country name, parts that do not add up) is never an exception: it becomes an
:class:`imdx.model.report.Issue` in the load report.
"""

from __future__ import annotations


class ImdxError(Exception):
    """Base class of every error imdx raises on purpose. ``str(err)`` is meant for the user."""

    #: process exit code used by the CLI
    exit_code = 1

    def __reduce__(self):  # sent whole between processes (a load prepares releases in worker processes)
        return _restore, (type(self), str(self), self.__dict__)


def _restore(cls: type[ImdxError], message: str, state: dict) -> ImdxError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ConfigError(ImdxError):
    """A setting is missing or wrong (e.g. ``IMDX_MIRROR`` names no folder)."""


#: the longest a part of an error message may be (what a file holds is quoted up to this, then cut)
MESSAGE_PART = 500


def shorten(text: str, limit: int = MESSAGE_PART) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was: an error quotes what a file holds, and
    a header of a million columns must not become an 11 MB line."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters in all)"


class SourceFileError(ImdxError):
    """A published file cannot be read as expected: truncated, wrong layout, renamed columns.

    The message names the file and, where known, the sheet, row and column, and says what was
    expected there (each part quoted up to :data:`MESSAGE_PART` characters).
    """

    def __init__(self, file: str, problem: str, *, sheet: str | None = None, row: int | None = None,
                 column: str | None = None, expected: str | None = None, hint: str | None = None):
        self.file, self.sheet, self.row, self.column = file, sheet, row, column
        self.problem, self.expected = problem, expected
        where = [f"file {shorten(file)}"]
        if sheet is not None:
            where.append(f"sheet {shorten(repr(sheet))}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {shorten(column)}")
        msg = f"{', '.join(where)}: {shorten(problem)}"
        if expected:
            msg += f"; expected {shorten(expected)}"
        msg += ". " + (hint or "Check that the file is the one the publisher released (see `imdx sources`), "
                       "or download it again; the store was left unchanged.")
        super().__init__(msg)


class SourceUnavailableError(ImdxError):
    """A source's files could be found neither at the publisher nor in the mirror folder."""


class QueryError(ImdxError):
    """A query names an unknown dataflow, dimension or code, or a malformed value."""

    exit_code = 2


class StoreError(ImdxError):
    """The store cannot be opened, or a write to it failed (it is left as it was)."""
