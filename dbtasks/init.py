"""`dbtasks init [FOLDER] [--force]`: write migrations.yaml and tasks.py for the Alembic services under FOLDER.

Every service's alembic.ini, env.py and migrations are read (parsed, never run: init_scan), the entries
decided (init_plan), and the file checked by the same loader the tasks use before anything is written.
Runs in the orchestrator: Python 3.9 syntax.
"""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
from pathlib import Path

from .init_plan import Plan, Planned, plan
from .init_scan import find_alembic_inis, scan_service

USAGE = """usage: dbtasks init [FOLDER] [--force]

Find every alembic.ini under FOLDER (default: this folder), read each service's env.py and migrations
without running them, and write FOLDER/migrations.yaml and FOLDER/tasks.py; add .dbtasks/ to .gitignore.
--force overwrites an existing migrations.yaml or tasks.py."""

# The repository's own tasks.py, word for word: all a monorepo needs beside its migrations.yaml.
TASKS_PY = '''"""Invoke tasks for this monorepo's Alembic migrations, generated from the migrations.yaml beside this file.

Copy this file next to another monorepo's migrations.yaml to drive that monorepo: `inv --list`.
"""

import sys
from pathlib import Path

try:
    from dbtasks.cli import build_namespace
except ModuleNotFoundError as error:  # `inv` of an interpreter without dbtasks: say which, and the fix
    sys.exit(
        f"tasks.py: {error.name} is not installed for {sys.executable}; activate the project's venv "
        "(. .venv/bin/activate) or install dbtasks into this interpreter (pip install dbtasks)"
    )

namespace = build_namespace(Path(__file__).resolve().with_name("migrations.yaml"))
'''

HEADER = """\
# The services whose Alembic migrations `inv db.*` runs (tasks.py reads this file).
# Written by `dbtasks init` from each service's alembic.ini, env.py and migrations (read, never run):
# comments saying "check" mark guesses. Every key: the dbtasks README, "migrations.yaml" and "Layouts".
version: 1
database:
  url_env: DATABASE_URL   # the variable (environment or .env) holding the URL; unset: an embedded local PostgreSQL
services:
"""
_PLAIN = re.compile(r"^[A-Za-z_.][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}
_IGNORED = (".dbtasks", ".dbtasks/", "/.dbtasks", "/.dbtasks/")


class _Usage(Exception):
    """A bad command line: one line, exit 2."""


def main(argv: list[str]) -> int:
    try:
        folder, force = _arguments(argv)
    except _Usage as error:
        print(f"dbtasks init: {error}", file=sys.stderr)
        return 2
    if folder is None:
        print(USAGE)
        return 0
    label = _shown(folder)
    if not folder.is_dir():
        print(f"dbtasks init: {label}: no such folder; pass the monorepo's folder (dbtasks init FOLDER)", file=sys.stderr)
        return 2
    config_file, tasks_file = folder / "migrations.yaml", folder / "tasks.py"
    refused = _refusal(config_file, tasks_file, force)
    if refused:
        print(refused, file=sys.stderr)
        return 2
    inis = find_alembic_inis(folder)
    if not inis:
        print(
            f"dbtasks init: no alembic.ini under {label}; run 'alembic init' in each service first, "
            "or pass the monorepo's folder (dbtasks init FOLDER)",
            file=sys.stderr,
        )
        return 2
    decided = plan(folder, [scan_service(ini) for ini in inis])
    text = render(decided)
    try:
        problems = _check(folder, text)
        if problems:  # init's own mistake: say so rather than write a file the tasks refuse
            for problem in problems:
                print(f"dbtasks init: {problem}", file=sys.stderr)
            print("dbtasks init: the file init wrote does not load (nothing was written); please report this", file=sys.stderr)
            return 1
        config_file.write_text(text, encoding="utf-8")
        tasks_file.write_text(TASKS_PY, encoding="utf-8")
        ignored = _ignore_dbtasks(folder / ".gitignore")
    except OSError as error:
        print(f"dbtasks init: cannot write in {label}: {error.strerror or error}; check its permissions", file=sys.stderr)
        return 1
    try:
        _report(decided, folder, ignored)
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


def _refusal(config_file: Path, tasks_file: Path, force: bool) -> str | None:
    if force:
        return None
    if config_file.exists():
        return (
            f"dbtasks init: {_shown(config_file)} already exists; nothing was written: "
            "rerun with --force to replace it (and tasks.py)"
        )
    if tasks_file.exists():
        return (
            f"dbtasks init: {_shown(tasks_file)} already exists; nothing was written: add the db collection to it "
            "(README, 'Already have a tasks.py?') and write migrations.yaml, or rerun with --force to replace it"
        )
    return None


def _report(decided: Plan, folder: Path, ignored: bool) -> None:
    count = len(decided.services)
    names = ", ".join(service.name for service in decided.services)
    print(f"found {count} Alembic service{'s' if count > 1 else ''} under {_shown(folder)}: {names}")
    print(f"wrote {_shown(folder / 'migrations.yaml')}")
    print(f"wrote {_shown(folder / 'tasks.py')}")
    if ignored:
        print(f"added .dbtasks/ to {_shown(folder / '.gitignore')}")
    if decided.notes:
        print("to check (init could not decide these):")
        for note in decided.notes:
            print(note)
    print("next: inv db.status")


def render(decided: Plan) -> str:
    """migrations.yaml's text, a comment above each service saying what its entry was decided from."""
    blocks = []
    for service in decided.services:
        blocks.append("\n".join(_service_lines(service)) + "\n")
    return HEADER + "\n".join(blocks)


def _service_lines(service: Planned) -> list[str]:
    lines = []
    for comment in [f"{service.path}/alembic.ini" if service.path != "." else "alembic.ini", *service.comments]:
        lines.extend(textwrap.wrap(comment, width=104, initial_indent="  # ", subsequent_indent="  #   "))
    lines.append(f"  {service.name}:")
    lines.append(f"    path: {_scalar(service.path)}")
    if len(service.schemas) > 1:
        lines.append(f"    schemas: {_flow(service.schemas)}")
    elif not (service.database and service.schemas == ["public"]):  # a database of its own defaults to public
        lines.append(f"    schema: {_scalar(service.schemas[0])}")
    lines.append(f"    driver: {service.driver}")
    if service.database:
        lines.append(f"    database: {_scalar(service.database)}")
    if service.version_table:
        lines.append(f"    version_table: {_scalar(service.version_table)}")
    if service.url_env:
        lines.append(f"    url_env: {service.url_env}")
    if service.python:
        lines.append(f"    python: {_scalar(service.python)}")
    if service.env:
        lines.append("    env:")
        lines.extend(f"      {name}: {json.dumps(value)}" for name, value in service.env.items())
    if service.depends_on:
        lines.append(f"    depends_on: {_flow(service.depends_on)}")
    if service.expect_tables:
        tables = _flow(service.expect_tables)
        lines.append(f"    # expect_tables: {tables}   # what its migrations create: uncomment for verify to check it")
    return lines


def _scalar(value: str) -> str:
    return value if _PLAIN.match(value) and value.lower() not in _YAML_WORDS else json.dumps(value)


def _flow(values: list[str]) -> str:
    return "[" + ", ".join(_scalar(value) for value in values) + "]"


def _check(folder: Path, text: str) -> list[str]:
    """Load the text with the tasks' own loader, from a scratch file beside where it goes."""
    from . import config
    from .errors import ConfigError

    scratch = folder / f".migrations.yaml.init-{os.getpid()}"
    try:
        scratch.write_text(text, encoding="utf-8")
        config.load(scratch)
    except ConfigError as error:
        return [problem.replace(scratch.name, "migrations.yaml") for problem in error.problems]
    finally:
        scratch.unlink(missing_ok=True)
    return []


def _ignore_dbtasks(gitignore: Path) -> bool:
    """Add .dbtasks/ (the local database, the locks) to .gitignore unless it is there; True when added."""
    text = gitignore.read_text(encoding="utf-8") if gitignore.is_file() else ""
    if any(line.strip() in _IGNORED for line in text.splitlines()):
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    gitignore.write_text(text + ".dbtasks/\n", encoding="utf-8")
    return True


def _shown(path: Path) -> str:
    """`path` relative to the working directory when below it, for messages."""
    try:
        relative = path.relative_to(Path.cwd())
    except ValueError:
        return str(path)
    return str(relative) if str(relative) != "." else "."
