"""`dbtasks init [FOLDER] [--force]`: the command line of init (dbtasks/init/ decides and writes; this prints)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the core of init is imported when the command runs
    from ..init.write import Written

USAGE = """usage: dbtasks init [FOLDER] [--force]

Find every alembic.ini under FOLDER (default: this folder), read each service's env.py and migrations
without running them, and write FOLDER/migrations.yaml and FOLDER/tasks.py; add .dbtasks/ to .gitignore.
--force overwrites an existing migrations.yaml or tasks.py."""


class _Usage(Exception):
    """A bad command line: one line, exit 2."""


def main(argv: list[str]) -> int:
    from ..init.write import InitError, write

    try:
        folder, force = _arguments(argv)
    except _Usage as error:
        print(f"dbtasks init: {error}", file=sys.stderr)
        return 2
    if folder is None:
        print(USAGE)
        return 0
    try:
        written = write(folder, force)
    except InitError as error:
        for problem in error.problems:
            print(f"dbtasks init: {problem}", file=sys.stderr)
        return error.exit_code
    try:
        _report(written)
    except BrokenPipeError:  # `dbtasks init | head -1`: the reader left early; the files are written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _arguments(argv: list[str]) -> tuple[Path | None, bool]:
    """(FOLDER, --force); FOLDER None asks for the help text."""
    folders, force = [], False
    for arg in argv:
        if arg in ("-h", "--help"):
            return None, False
        if arg == "--force":
            force = True
        elif arg.startswith("-"):
            raise _Usage(f"unknown option {arg!r}; usage: dbtasks init [FOLDER] [--force]")
        else:
            folders.append(arg)
    if len(folders) > 1:
        raise _Usage(f"one FOLDER at most, got {', '.join(folders)}; usage: dbtasks init [FOLDER] [--force]")
    return Path(folders[0] if folders else ".").absolute(), force


def _report(written: Written) -> None:
    from ..init.write import shown as show

    decided, folder = written.plan, written.folder
    count = len(decided.services)
    names = ", ".join(service.name for service in decided.services)
    print(f"found {count} Alembic service{'s' if count > 1 else ''} under {show(folder)}: {names}")
    print(f"wrote {show(folder / 'migrations.yaml')}")
    print(f"wrote {show(folder / 'tasks.py')}")
    if written.ignored:
        print(f"added .dbtasks/ to {show(folder / '.gitignore')}")
    if decided.notes:
        print("to check (init could not decide these):")
        for note in decided.notes:
            print(note)
    print("next: inv db.status")
