"""`dbtasks check-files [--config FILE] [SERVICE...]`: every service's migration files checked as files (pre-commit).

No database, no Alembic, no env.py run: the files are parsed, never imported. Per service: env.py and each
migration file parse and declare a literal `revision` and `down_revision`; every down_revision is declared by a
file; no revision is declared twice; the history has one head; and, when alembic.ini's file_template starts
with the revision (Alembic's default `%(rev)s_%(slug)s`), each file's name starts with its revision.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..config.loader import load
from ..config.project import Project, Service
from ..errors import DbtasksError, UsageError
from ..files.checks import check_service
from ..settings import find_config

USAGE = "usage: dbtasks check-files [--config migrations.yaml] [SERVICE...]"


def parse(argv: list[str]) -> tuple[Path | None, list[str]]:
    """(--config FILE, the services named); DbtasksError-style UsageError on anything else."""
    config: Path | None = None
    names: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            value = next(args, None)
            if value is None:
                raise _usage("--config needs a file")
            config = Path(value)
        elif arg.startswith("--config="):
            config = Path(arg.partition("=")[2])
        elif arg.startswith("-"):
            raise _usage(f"unknown option {arg!r}")
        elif arg not in names:
            names.append(arg)
    return config, names


def _usage(message: str) -> UsageError:
    return UsageError(f"dbtasks check-files: {message}; {USAGE}")


def select(project: Project, names: list[str]) -> list[Service]:
    return [project.service(name) for name in names] if names else list(project.services.values())


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(f"{USAGE}\n\n{__doc__}")
        return 0
    try:
        config, names = parse(argv)
        config = config or find_config(Path(os.getcwd()))
        if config is None:
            raise UsageError(
                "migrations.yaml: not found in this folder or any folder above; run 'dbtasks check-files' in the monorepo or pass --config FILE"
            )
        services = select(load(config), names)
    except DbtasksError as error:
        print(str(error), file=sys.stderr)
        return error.exit_code
    problems: list[str] = []
    unchecked: list[str] = []
    failing: list[str] = []
    files = 0
    for service in services:
        found = check_service(service)
        problems += found.problems
        unchecked += found.unchecked
        files += found.files
        if found.problems:
            failing.append(service.name)
    for line in problems + unchecked:
        print(line)
    print(summary(len(services), files, problems, failing, unchecked))
    return 1 if problems else 0


def summary(services: int, files: int, problems: list[str], failing: list[str], unchecked: list[str]) -> str:
    counted = f"{services} service{'s' if services != 1 else ''}, {files} migration file{'s' if files != 1 else ''}"
    skipped = f"; {len(unchecked)} not checked (above)" if unchecked else ""
    if not problems:
        return f"check-files: {counted}: no problems{skipped}"
    plural = "s" if len(problems) != 1 else ""
    return f"check-files: {len(problems)} problem{plural} in {', '.join(failing)} ({counted}){skipped}; fix {'them' if plural else 'it'}, then run 'dbtasks check-files' again"
