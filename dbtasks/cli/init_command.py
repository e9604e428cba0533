"""`dbtasks init [FOLDER] [--force]`: the command line of init (dbtasks/init/ decides and writes; this prints)."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # the core of init is imported when the command runs
    from ..init.write import Written

USAGE = """usage: dbtasks init [FOLDER] [--force] [--dry-run] [--update] [--one-database] [--package NAME ...]

Find every alembic.ini under FOLDER (default: this folder), read each service's env.py and migrations
without running them, and write FOLDER/migrations.yaml and FOLDER/tasks.py; add .dbtasks/ to .gitignore.
--force overwrites an existing migrations.yaml or tasks.py. --dry-run writes nothing: it prints the
migrations.yaml it would write, and what to check on stderr. --package NAME (repeatable) adds a service
whose alembic.ini and migrations ship inside the installed package NAME (alembic_ini: NAME:alembic.ini).
--update adds to an existing migrations.yaml the services it does not declare yet, and changes nothing
else in it (comments and edits stay). Services that keep their version tables in one place (every
`alembic init` service keeps public.alembic_version) get a database each; with --one-database they stay
in one database, each with a version table of its own."""
SHORT = "usage: dbtasks init [FOLDER] [--force] [--dry-run] [--update] [--one-database] [--package NAME ...]"


class _Usage(Exception):
    """A bad command line: one line, exit 2."""


@dataclass
class _Options:
    folder: Path | None = None  # None: the help text was asked for
    given_folder: str = ""  # as typed
    force: bool = False
    dry_run: bool = False
    update: bool = False
    one_database: bool = False
    packages: list[str] = field(default_factory=list)


def main(argv: list[str]) -> int:
    from ..init.plan import ONE_DATABASE
    from ..init.write import InitError, write

    try:
        given = _arguments(argv)
    except _Usage as error:
        print(f"dbtasks init: {error}", file=sys.stderr)
        return 2
    if given.folder is None:
        print(USAGE)
        return 0
    try:
        written = write(given.folder, given.force, given.dry_run, tuple(given.packages), given.update, given.one_database)
    except InitError as error:
        for problem in error.problems:
            print(f"dbtasks init: {problem}", file=sys.stderr)
        return error.exit_code
    again = ["dbtasks", "init", *([given.given_folder] if given.given_folder else [])]
    again += [part for name in given.packages for part in ("--package", name)]
    if given.dry_run:  # nothing written: the same dry run with the option, into the file
        instead = f"{shlex.join([*again, '--dry-run', '--one-database'])} > migrations.yaml"
    else:
        instead = f"{shlex.join([*again, '--force', '--one-database'])} (it writes migrations.yaml and tasks.py anew)"
    written.plan.notes[:] = [note.replace(ONE_DATABASE, instead) for note in written.plan.notes]
    try:
        if given.dry_run:  # the file on stdout (dbtasks init --dry-run > migrations.yaml), the rest on stderr
            print(written.text, end="")
            _notes(written, sys.stderr)
            return 0
        _report(written)
    except BrokenPipeError:  # `dbtasks init | head -1`: the reader left early; the files are written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _arguments(argv: list[str]) -> _Options:
    """The command line's options; a folder of None asks for the help text."""
    given, folders = _Options(), []
    flags = {"--force": "force", "--dry-run": "dry_run", "--update": "update", "--one-database": "one_database"}
    arguments = iter(argv)
    for arg in arguments:
        if arg in ("-h", "--help"):
            return _Options()
        if arg in flags:
            setattr(given, flags[arg], True)
        elif arg == "--package" or arg.startswith("--package="):
            name = arg.partition("=")[2] if "=" in arg else next(arguments, "")
            if not name or name.startswith("-"):
                raise _Usage(f"--package needs a package name (--package mypkg); {SHORT}")
            given.packages.append(name)
        elif arg.startswith("-"):
            raise _Usage(f"unknown option {arg!r}; {SHORT}")
        else:
            folders.append(arg)
    if len(folders) > 1:
        raise _Usage(f"one FOLDER at most, got {', '.join(folders)}; {SHORT}")
    given.folder = Path(folders[0] if folders else ".").absolute()
    given.given_folder = folders[0] if folders else ""
    return given


def _report(written: Written) -> None:
    from ..init.write import shown as show

    decided, folder = written.plan, written.folder
    count = len(decided.services)
    if written.updated:
        if not count:
            print(f"{show(folder / 'migrations.yaml')} declares every service init finds under {show(folder)}; nothing written")
            return
        names = ", ".join(service.name for service in decided.services)
        print(f"added {count} service{'s' if count > 1 else ''} to {show(folder / 'migrations.yaml')}: {names}")
        _notes(written, sys.stdout)
        print("next: inv db.status")
        return
    names = ", ".join(service.name for service in decided.services)
    print(f"found {count} Alembic service{'s' if count > 1 else ''} under {show(folder)}: {names}")
    print(f"wrote {show(folder / 'migrations.yaml')}")
    print(f"wrote {show(folder / 'tasks.py')}")
    if written.ignored:
        print(f"added .dbtasks/ to {show(folder / '.gitignore')}")
    _notes(written, sys.stdout)
    print("next: inv db.status")


def _notes(written: Written, stream: TextIO) -> None:
    if written.plan.notes:
        print("to check (init could not decide these):", file=stream)
        for note in written.plan.notes:
            print(note, file=stream)
