"""Options as the tasks receive them (strings), parsed and checked before any database is touched, and
the Session a task runs with."""

from __future__ import annotations

import sys
from pathlib import Path

from .. import settings
from ..config import cache as config_cache
from ..errors import UsageError
from ..orchestrate import Selection, default_jobs
from ..session import Session
from ..settings import DEFAULT_WAIT, digits
from .render import progress


def jobs(text: str) -> int:
    """--jobs: a positive number (default: one per CPU)."""
    if not text:
        return default_jobs()
    if not digits(text) or int(text) < 1:
        raise UsageError(f"--jobs: expected a positive number, got {text!r}")
    return int(text)


def seconds(text: str) -> float:
    """--lock-wait: seconds as a non-negative number (default 60)."""
    if not text:
        return DEFAULT_WAIT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise UsageError(f"--lock-wait: expected a number of seconds (0 or more), got {text!r}")
    return value


def names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def selection(only: str = "", exclude: str = "", jobs_text: str = "", fail_fast: bool = False) -> Selection:
    return Selection(names(only), names(exclude), jobs(jobs_text), fail_fast)


def output_folder(text: str) -> Path:
    """sql-all's --output-dir: required, and not a file (the folder is created when missing)."""
    if not text:
        raise UsageError("sql-all: --output-dir is required (one <service>.sql file per service)")
    if Path(text).exists() and not Path(text).is_dir():
        raise UsageError(f"sql-all: --output-dir {text} is a file; give a folder (it is created if missing)")
    return Path(text)


def session(
    config_file: Path, *, quiet: bool = False, lock_wait: float = DEFAULT_WAIT, env: str = "", verbose: bool = False
) -> Session:
    """The Session of a task: migrations.yaml loaded and checked, the environment chosen; no database touched yet."""
    project = config_cache.load(config_file)
    name, source = settings.environment_choice(env)
    return Session(
        project,
        project.environment(name, source) if name else None,
        emit=(lambda line: None) if quiet else progress if verbose or settings.debug() else alembic_lines,
        announce=progress,
        lock_wait=lock_wait,
        confirm=typed_back,
        verbose=verbose,
    )


# Alembic's log line prefix: "INFO  [alembic.runtime.migration] "
_ALEMBIC_INFO = "INFO  [alembic."


def alembic_lines(line: str) -> None:
    """Without --verbose: of Alembic's INFO lines only `Running upgrade/downgrade/stamp ...`, without the logger prefix.
    Everything else (warnings, env.py's own output) passes."""
    prefix, separator, text = line.partition(" | ")
    if separator and text.startswith(_ALEMBIC_INFO):
        if " Running " not in text:
            return
        line = f"{prefix} | {text.split('] ', 1)[-1]}"
    progress(line)


def typed_back(subject: str, environment: str, what: str, name: str, kind: str) -> None:
    """In a protected environment at a terminal, the database's (or fleet's) name must be typed back (--yes alone does
    without one)."""
    if not sys.stdin.isatty():
        progress(f"{subject}: {environment} is protected; --yes given and no terminal attached, going ahead")
        return
    progress(f"{subject}: {environment} is a protected environment; {what}")
    try:
        typed = input(f"Type the {kind} name ({name}) to go ahead: ")
    except EOFError:
        typed = ""
    if typed.strip() != name:
        raise UsageError(f"{subject}: the name typed does not match {name!r}; nothing was changed")
