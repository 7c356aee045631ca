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
    """A query names an unknown dataflow, parameter, code, edition or source, or gives a malformed value.

    The error is typed, so that each door words it for its users (:func:`imdx.cli.common.error_message`
    as ``--destination 'X' ...``, :func:`imdx.api.errors.from_query_error` as ``destination='X' ...``
    with an HTTP status chosen by ``kind``):

    * ``kind``: one of :data:`QUERY_ERROR_KINDS`;
    * ``parameter``: the dimension or option at fault (``destination``, ``year``, ``edition``, ``dataflow``),
      without dashes; None when no single parameter is;
    * ``value``: what was given; ``allowed``: what would be accepted, when it can be listed;
    * ``problem``: what is wrong with the value, as a phrase that follows the door's name of the
      parameter and value (``is not a year``), or with ``{value}`` where the value goes, for a phrase
      that names the parameter itself (``unknown dataflow {value}``);
    * ``hint``: what to do, a sentence; ``search``: an area text a search would help with (each door
      names its own search: ``imdx areas TEXT``, ``/api/v1/areas?q=TEXT``).

    ``str(err)`` is a plain wording (``destination 'X' is not ...``), for Python callers and logs.
    """

    exit_code = 2

    def __init__(self, problem: str, *, kind: str = "bad-request", parameter: str | None = None,
                 value: object = None, allowed: list | tuple | None = None, hint: str | None = None,
                 search: str | None = None):
        if kind not in QUERY_ERROR_KINDS:
            raise ValueError(f"QueryError kind {kind!r} is not one of {QUERY_ERROR_KINDS}")
        self.problem, self.kind, self.parameter, self.value = problem, kind, parameter, value
        self.allowed = None if allowed is None else [str(a) for a in allowed]
        self.hint, self.search = hint, search
        super().__init__(self.words(lambda name, value: name if value is None else f"{name} {value!r}",
                                    lambda text: f"search the areas for {text!r}"))

    def words(self, subject, search, max_allowed: int = 30) -> str:
        """The message, with ``subject(parameter, value)`` naming what was given and ``search(text)``
        naming the door's area search."""
        if "{value}" in self.problem:  # the value named in the phrase itself: "unknown dataflow 'x'"
            text = self.problem.replace("{value}", repr(self.value))
        else:
            who = subject(self.parameter, self.value) if self.parameter is not None else \
                "" if self.value is None else repr(self.value)
            text = " ".join(p for p in (who, self.problem) if p)
        if self.search is not None:
            text += f" ({search(self.search)})"
        if self.allowed is not None:
            shown = ", ".join(self.allowed[:max_allowed])
            more = f" and {len(self.allowed) - max_allowed} more" if len(self.allowed) > max_allowed else ""
            text += f"; allowed: {shown or 'none'}{more}"
        if self.hint:
            text += f". {self.hint}" if not text.endswith(".") else f" {self.hint}"
        return text


#: the kinds of :class:`QueryError`: the API answers 404 for the first two, 400 for the others
QUERY_ERROR_KINDS = ("unknown-dataflow", "not-loaded", "unknown-parameter", "unknown-code", "unknown-edition",
                     "unknown-source", "malformed-value", "missing-value", "unsupported", "bad-request")


class StoreError(ImdxError):
    """The store cannot be opened, or a write to it failed (it is left as it was)."""
