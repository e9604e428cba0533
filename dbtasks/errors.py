"""The exceptions the core raises: each carries a one-line message that names its subject and the next step."""

from __future__ import annotations


class DbtasksError(Exception):
    """An expected failure; the task layer prints its message as one line per problem."""

    exit_code = 1


class UsageError(DbtasksError):
    """Bad input on the command line: an unknown service, a missing --yes, a bad option."""

    exit_code = 2


class ConfigError(DbtasksError):
    """migrations.yaml (or the URL it points at) is invalid; `problems` holds one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        problems = [bounded(problem) for problem in problems]
        super().__init__("\n".join(problems))
        self.problems = problems


# A problem quotes what it found; a huge value (a YAML bomb's, a megabyte-long line) is shown by its two ends.
MAX_LINE = 400


def first_line(error: BaseException) -> str:
    """An error's first line, or its type's name when it says nothing."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def printable(text: str) -> str:
    """`text` with every character a terminal would act on (newlines, escape sequences, ...) written as its escape."""
    return text if text.isprintable() else "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def bounded(line: str) -> str:
    """`line` on one line (control characters escaped), or its two ends around '...' past MAX_LINE characters."""
    line = printable(line)
    if len(line) <= MAX_LINE:
        return line
    half = (MAX_LINE - 5) // 2
    return f"{line[:half]} ... {line[-half:]}"


class LocalDatabaseError(DbtasksError):
    """The embedded local PostgreSQL could not be set up, started or stopped."""


class ServiceError(DbtasksError):
    """An operation failed for one service.

    `kind` classifies the cause (worker.protocol.KINDS, or explain.PARENT_KINDS); `detail` is shown
    above the message (a traceback, with DBTASKS_DEBUG=1).
    """

    def __init__(
        self, service: str, message: str, *, kind: str = "unexpected", detail: str | None = None, exit_code: int = 1
    ) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.reason = message
        self.kind = kind
        self.detail = detail
        self.exit_code = exit_code


class RunFailed(DbtasksError):
    """A run finished and reported its results, and some of them failed: the verdict, one line."""


class DatabaseUnreachable(DbtasksError):
    """The database cannot be reached (down, wrong host, wrong password): said once, before any worker starts."""


class DatabaseMissing(DatabaseUnreachable):
    """The server answers, but has no database of that name (`database`): every missing one is said at once."""

    def __init__(self, message: str, database: str) -> None:
        super().__init__(message)
        self.database = database
