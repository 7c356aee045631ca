"""The census application's errors: a mapping that cannot be used, a microdata file that cannot be
read as its mapping says, an engine that cannot run. Each message says what to do next."""

from __future__ import annotations

from imdx.errors import ImdxError, SourceFileError


class CensusError(ImdxError):
    """A tabulation cannot run: wrong options, a missing engine (Java for Spark), a limit reached."""


class MappingError(CensusError):
    """A mapping is malformed, or declares something the file does not have."""

    exit_code = 2


class MicrodataError(SourceFileError):
    """A person file cannot be read as its mapping and codebook say: a short line, a field that is not
    a number, a weight that is negative or missing. The message names the file, the line (text files)
    or row (other formats) and the column; nothing is stored."""

    def __init__(self, file: str, problem: str, *, row: int | None = None, column: str | None = None,
                 unit: str = "line", expected: str | None = None, hint: str | None = None):
        self.file, self.sheet, self.row, self.column = file, None, row, column
        self.problem, self.expected, self.unit = problem, expected, unit
        where = [f"file {file}"] + ([f"{unit} {row:,}"] if row is not None else []) \
            + ([f"column {column}"] if column else [])
        text = f"{', '.join(where)}: {problem}" + (f"; expected {expected}" if expected else "")
        ImdxError.__init__(self, text + ". " + (hint or "Correct the file or its mapping and run the "
                                                "tabulation again; nothing was stored."))
