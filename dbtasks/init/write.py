"""Write migrations.yaml and tasks.py for the Alembic services under a folder (the core of `dbtasks init`).

Every service's alembic.ini, env.py and migrations are read (parsed, never run: scan.py), the entries
decided (plan.py), and the file checked by the same loader the tasks use before anything is written.
Nothing here prints: cli/init_command.py parses the command line and reports what `write` returns.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DbtasksError
from .packages import shipped_ini
from .plan import plan
from .planned import Plan, Planned
from .scan import scan_service
from .units import by_branch, find_units, inside
from .update import declared, inserted, new_services

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
        "(. .venv/bin/activate) or install dbtasks into this interpreter "
        '(pip install /path/to/dbtasks, or pip install "git+<URL of the dbtasks repository>")'
    )

namespace = build_namespace(Path(__file__).resolve().with_name("migrations.yaml"))
'''

HEADER = """\
# The services whose Alembic migrations `inv db.*` runs (tasks.py reads this file).
# Written by `dbtasks init` from each service's alembic.ini, env.py and migrations (read, never run):
# comments saying "check" mark guesses. Every key: docs/configuration.md and docs/layouts.md of dbtasks.
version: 1
database:
  url_env: DATABASE_URL   # the variable (environment or .env) holding the URL; unset: an embedded local PostgreSQL
services:
"""
_PLAIN = re.compile(r"^[A-Za-z_.][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}
_IGNORED = (".dbtasks", ".dbtasks/", "/.dbtasks", "/.dbtasks/")


class InitError(DbtasksError):
    """What stopped init before it wrote anything: one line a problem, and the exit code (2: fix the input)."""

    def __init__(self, problems: list[str], exit_code: int = 2) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.exit_code = exit_code


@dataclass(frozen=True)
class Written:
    """What init decided and wrote under `folder`; `ignored`: it added .dbtasks/ to .gitignore; `text`: the
    migrations.yaml (with dry_run, the only thing made: nothing was written)."""

    plan: Plan
    folder: Path
    ignored: bool
    text: str = ""
    updated: bool = False  # --update: plan holds the services added (none: nothing was written)


def write(
    folder: Path,
    force: bool = False,
    dry_run: bool = False,
    packages: tuple[str, ...] = (),
    update: bool = False,
    one_database: bool = False,
) -> Written:
    """Read the Alembic services under `folder` and write its migrations.yaml, tasks.py and .gitignore line;
    InitError (nothing written) when the folder, existing files or the services say no. `dry_run` writes nothing
    (existing files are no obstacle then) and returns the file's text. `packages`: installed packages that ship an
    alembic.ini of their own, each a service too (alembic_ini: PACKAGE:alembic.ini). `update` adds to the existing
    migrations.yaml the services it does not declare yet, and changes nothing else (update.py). `one_database`: services
    that would keep their version tables in one place stay in one database, each with a version table of its own."""
    label = shown(folder)
    if not folder.is_dir():
        raise InitError([f"{label}: no such folder; pass the monorepo's folder (dbtasks init FOLDER)"])
    config_file, tasks_file = folder / "migrations.yaml", folder / "tasks.py"
    existing: tuple[str, dict[str, Any]] | None = None
    if update:
        try:
            existing = declared(config_file)
        except ValueError as error:
            raise InitError([str(error)]) from None
    refused = None if dry_run or update else _refusal(config_file, tasks_file, force)
    if refused:
        raise InitError([refused])
    units, left_out = find_units(folder)
    shipped = _shipped(packages)
    if not units and not shipped:
        raise InitError(
            [
                f"no alembic.ini under {label}; run 'alembic init' in each service first, "
                "or pass the monorepo's folder (dbtasks init FOLDER)"
            ]
        )
    for target in (config_file, tasks_file, folder / ".gitignore"):
        if target.is_symlink() and not inside(target, folder):
            raise InitError(
                [f"{shown(target)} is a link to a file outside {label}; nothing was written: remove the link, then rerun"]
            )
    scans = [scan_service(*unit, root=folder) for unit in units]
    for package, ini in shipped:
        scans.append(scan_service(ini, root=folder))
        scans[-1].shipped = package
    decided = plan(folder, [part for scan in scans for part in by_branch(scan)], one_database)
    decided.notes[:0] = left_out
    if existing is not None:
        decided = new_services(decided, folder, existing[1])
        try:
            text = inserted(existing[0], _blocks(decided)) if decided.services else existing[0]
        except ValueError as error:
            raise InitError([str(error)]) from None
    else:
        text = render(decided)
    try:
        problems = _check(folder, text)
        if problems:  # init's own mistake: say so rather than write a file the tasks refuse
            raise InitError([*problems, "the file init wrote does not load (nothing was written); please report this"], 1)
        if dry_run:
            return Written(decided, folder, False, text, updated=update)
        if existing is not None:
            if decided.services:
                config_file.write_text(text, encoding="utf-8")
            return Written(decided, folder, False, text, updated=True)
        config_file.write_text(text, encoding="utf-8")
        tasks_file.write_text(TASKS_PY, encoding="utf-8")
        ignored = _ignore_dbtasks(folder / ".gitignore")
    except OSError as error:
        raise InitError([f"cannot write in {label}: {error.strerror or error}; check its permissions"], 1) from None
    return Written(decided, folder, ignored, text)


def _shipped(names: tuple[str, ...]) -> list[tuple[str, Path]]:
    """(package, its alembic.ini) for each package given; InitError naming every one that is not there."""
    found, problems = [], []
    for name in dict.fromkeys(names):
        ini, problem = shipped_ini(name)
        if ini is None:
            problems.append(f"--package {name}: {problem}")
        else:
            found.append((name, ini))
    if problems:
        raise InitError(problems)
    return found


def _refusal(config_file: Path, tasks_file: Path, force: bool) -> str | None:
    if force:
        return None
    if config_file.exists():
        return f"{shown(config_file)} already exists; nothing was written: rerun with --force to replace it (and tasks.py)"
    if tasks_file.exists():
        return (
            f"{shown(tasks_file)} already exists; nothing was written: add the db collection to it "
            "(README, 'Already have a tasks.py?') and write migrations.yaml, or rerun with --force to replace it"
        )
    return None


def render(decided: Plan) -> str:
    """migrations.yaml's text, a comment above each service saying what its entry was decided from."""
    return HEADER + _blocks(decided)


def _blocks(decided: Plan) -> str:
    return "\n".join("\n".join(_service_lines(service)) + "\n" for service in decided.services)


def _source(service: Planned) -> str:
    """Where the service's Alembic configuration was read: `habits/alembic.ini`, `[users] of alembic.ini`, ..."""
    scan, prefix = service.scan, f"{service.path}/" if service.path != "." else ""
    if scan.shipped:
        return f"{scan.shipped}:alembic.ini, the alembic.ini the installed package {scan.shipped} ships"
    ini = f"{prefix}alembic.ini" if scan.ini.is_file() else ""
    toml = f"{prefix}pyproject.toml [tool.alembic]" if scan.toml else ""
    section = f"[{scan.section}] of " if scan.section != "alembic" else ""
    return f"{section}{ini}" + (" and " if ini and toml else "") + toml


def _service_lines(service: Planned) -> list[str]:
    lines = []
    for comment in [_source(service), *service.comments]:
        lines.extend(textwrap.wrap(comment, width=104, initial_indent="  # ", subsequent_indent="  #   "))
    lines.append(f"  {service.name}:")
    lines.append(f"    path: {_scalar(service.path)}")
    if service.scan.shipped:
        lines.append(f"    alembic_ini: {_scalar(f'{service.scan.shipped}:alembic.ini')}")
    if len(service.schemas) > 1:
        lines.append(f"    schemas: {_flow(service.schemas)}")
    elif not (service.database and service.schemas == ["public"]):  # a database of its own defaults to public
        lines.append(f"    schema: {_scalar(service.schemas[0])}")
    lines.append(f"    driver: {service.driver}")
    if service.database:
        lines.append(f"    database: {_scalar(service.database)}")
    if service.scan.section != "alembic":
        lines.append(f"    ini_section: {_scalar(service.scan.section)}")
    if service.scan.branch:
        lines.append(f"    branch: {_scalar(service.scan.branch)}")
    if service.scan.databases:
        pairs = ", ".join(f"{engine}: {_scalar(f'{service.name}_{engine}')}" for engine in service.scan.databases)
        lines.append(f"    engines: {{{pairs}}}   # alembic.ini's databases: each engine's database")
    if service.version_table:
        lines.append(f"    version_table: {_scalar(service.version_table)}")
    if service.url_env:
        lines.append(f"    url_env: {service.url_env}")
    if service.python:
        lines.append(f"    python: {_scalar(service.python)}")
    if service.scan.pythonpath:
        folders = [os.path.relpath(path, service.scan.folder).replace(os.sep, "/") for path in service.scan.pythonpath]
        lines.append(f"    pythonpath: {_flow(folders)}   # where the packages env.py imports live")
    if service.env:
        lines.append("    env:")
        lines.extend(f"      {name}: {json.dumps(value)}" for name, value in service.env.items())
    if service.depends_on:
        lines.append(f"    depends_on: {_flow(service.depends_on)}")
    if service.scan.extensions:
        lines.append(f"    extensions: {_flow(service.scan.extensions)}   # its migrations use them and create none")
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
    from .. import config
    from ..errors import ConfigError

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


def shown(path: Path) -> str:
    """`path` relative to the working directory when below it, for messages."""
    try:
        relative = path.relative_to(Path.cwd())
    except ValueError:
        return str(path)
    return str(relative) if str(relative) != "." else "."
