"""The migration files checked as files, for `dbtasks check-files` (pre-commit): no database, no Alembic, no env.py
run; the files are parsed, never imported.

Per service: env.py and each migration file parse and declare a literal `revision` and `down_revision`; every
down_revision is declared by a file; no revision is declared twice; the history has one head; and, when
alembic.ini's file_template starts with the revision (Alembic's default `%(rev)s_%(slug)s`), each file's name
starts with its revision. Each problem is one line naming the file and the fix.
"""

from __future__ import annotations

import ast
import configparser
from dataclasses import dataclass, field
from pathlib import Path

from ..config.project import Service, display_path
from ..worker import revisions

DEFAULT_TEMPLATE = "%(rev)s_%(slug)s"  # Alembic's file_template when alembic.ini sets none
_NAMES = ("revision", "down_revision")


@dataclass
class Migration:
    """What one migration file declares, read from its syntax tree."""

    path: Path
    values: dict[str, object] = field(default_factory=dict)  # revision / down_revision -> its literal value
    lines: dict[str, int] = field(default_factory=dict)  # revision / down_revision -> the line assigning it
    computed: set[str] = field(default_factory=set)  # those assigned something other than a literal

    @property
    def revision(self) -> str | None:
        value = self.values.get("revision")
        return value if isinstance(value, str) else None

    @property
    def downs(self) -> tuple[str, ...]:
        value = self.values.get("down_revision")
        if isinstance(value, str):
            return (value,)
        return tuple(item for item in value if isinstance(item, str)) if isinstance(value, (list, tuple)) else ()

    def at(self, name: str = "revision") -> str:
        """`path:line` of the assignment of `name` (the path alone when there is none)."""
        line = self.lines.get(name)
        return f"{display_path(self.path)}:{line}" if line else display_path(self.path)


@dataclass
class Findings:
    """One service's problems (each a line: file, what is wrong, the fix) and what could not be checked."""

    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    files: int = 0


def parse_error(path: Path) -> str | None:
    """`path:line: does not parse ...; fix` when the file is not valid Python, else None."""
    try:
        ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as error:
        line = f":{error.lineno}" if error.lineno else ""
        return f"{display_path(path)}{line}: does not parse ({type(error).__name__}: {error.msg}); fix the syntax"
    except (OSError, ValueError) as error:
        return f"{display_path(path)}: cannot be read ({error}); fix the file"
    return None


def read_migration(path: Path) -> Migration | str:
    """The file's literal revision and down_revision, or its one-line problem when it does not parse."""
    problem = parse_error(path)
    if problem is not None:
        return problem
    migration = Migration(path)
    found = revisions.assignments(ast.parse(path.read_bytes(), filename=str(path)))
    for name in _NAMES:
        if name in found:
            line, value, literal = found[name]
            migration.lines[name] = line
            if literal:
                migration.values[name] = value
            else:
                migration.computed.add(name)
    return migration


def file_template(ini: Path) -> str:
    """alembic.ini's file_template as Alembic reads it (`%%` becomes `%`), or Alembic's default."""
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)})
    try:
        parser.read(ini, encoding="utf-8")
        return parser.get("alembic", "file_template", fallback=DEFAULT_TEMPLATE)
    except configparser.InterpolationError:
        return parser.get("alembic", "file_template", raw=True).replace("%%", "%")
    except (configparser.Error, OSError):
        return DEFAULT_TEMPLATE


def named_after(migration: Migration, revision: str) -> bool:
    stem = migration.path.stem
    return stem.startswith(revision) and (len(stem) == len(revision) or not stem[len(revision)].isalnum())


def check_service(service: Service) -> Findings:
    found = Findings()
    env_py = revisions.environment_file(**service.alembic_source)
    files = revisions.version_files(**service.alembic_source)
    if env_py is None or files is None:
        found.unchecked.append(
            f"{display_path(service.alembic_ini)}: {service.name}'s migrations are in a package or in recursive folders, "
            f"which only Alembic can list; not checked here ('inv db.verify {service.name}' checks them)"
        )
        return found
    if not Path(env_py).is_file():
        found.problems.append(
            f"{display_path(service.alembic_ini)}: script_location has no env.py ({display_path(Path(env_py))}); "
            f"fix script_location or run 'alembic init' there"
        )
    else:
        found.problems.extend(filter(None, [parse_error(Path(env_py))]))
    migrations: list[Migration] = []
    for path in sorted(files):
        read = read_migration(Path(path))
        if isinstance(read, str):
            found.problems.append(read)
        else:
            migrations.append(read)
    found.files = len(files)
    check_history(service, migrations, found, every_file_read=len(migrations) == len(files))
    return found


def check_history(service: Service, migrations: list[Migration], found: Findings, *, every_file_read: bool) -> None:
    """The files' declarations against each other: duplicate revisions, names, and (when every file could be
    read, so that a down_revision may be declared by a file that does not parse) missing revisions, cycles, heads."""
    declared: dict[str, list[Migration]] = {}
    for migration in migrations:
        computed = sorted(migration.computed)
        if computed:
            found.unchecked.append(
                f"{migration.at(computed[0])}: {computed[0]} is computed, not a literal; {service.name}'s history is "
                f"not checked here ('inv db.verify {service.name}' checks it)"
            )
        elif "revision" not in migration.lines:
            found.problems.append(
                f"{migration.at()}: declares no revision; add revision = '<id>' (Alembic cannot load it without one)"
            )
        elif "down_revision" not in migration.lines:
            found.problems.append(
                f"{migration.at()}: declares no down_revision; add down_revision = '<the revision it follows>' (None for a first migration)"
            )
        elif migration.revision is None:
            found.problems.append(f"{migration.at()}: revision is {migration.values['revision']!r}; make it a string id")
        else:
            declared.setdefault(migration.revision, []).append(migration)
    for owners in declared.values():  # of two files declaring one revision, the one named after it is the original
        owners.sort(key=lambda migration: not named_after(migration, migration.revision or ""))
    if any(migration.computed for migration in migrations):
        return
    before = len(found.problems)
    graph = {revision: owners[0].downs for revision, owners in declared.items()}
    for revision, owners in sorted(declared.items()):
        for copy in owners[1:]:
            found.problems.append(
                f"{copy.at()}: declares revision {revision}, as {owners[0].path.name} does; give this file a new "
                f"revision id (and point the down_revision that meant it there)"
            )
        for down in owners[0].downs:
            if down not in graph and every_file_read:
                found.problems.append(
                    f"{owners[0].at('down_revision')}: down_revision {down} is declared by no file; {_reattach(graph, revision, down)}"
                )
    if file_template(service.alembic_ini).startswith("%(rev)s"):
        for revision, owners in sorted(declared.items()):
            for migration in owners[:1]:  # a copy needs a new revision id first, and then a new name
                if not named_after(migration, revision):
                    found.problems.append(
                        f"{migration.at()}: declares revision {revision}, but its name does not start with it; rename it "
                        f"{revision}_{_slug(migration, declared)}.py (alembic.ini's file_template names files <revision>_<slug>.py)"
                    )
    if len(found.problems) == before and every_file_read:
        check_heads(service, declared, graph, found)


def _reattach(graph: dict[str, tuple[str, ...]], revision: str, missing: str) -> str:
    """The fix for a down_revision no file declares: the other files' head to follow, or the missing file."""
    others = revisions.heads({other: ("", list(downs)) for other, downs in graph.items() if other != revision})
    follow = (
        f"point it at {others[0]} (the head of the other files)" if len(others) == 1 else "point it at the revision it follows"
    )
    return f"{follow}, or restore the file that declares {missing}"


def _slug(migration: Migration, declared: dict[str, list[Migration]]) -> str:
    """The file's name without a leading revision id (its own name when it has none)."""
    prefix, _, rest = migration.path.stem.partition("_")
    is_revision = prefix in declared or (len(prefix) == 12 and all(char in "0123456789abcdef" for char in prefix))
    return rest if is_revision and rest else migration.path.stem


def check_heads(
    service: Service, declared: dict[str, list[Migration]], graph: dict[str, tuple[str, ...]], found: Findings
) -> None:
    cycle = _cycle(graph)
    if cycle:
        found.problems.append(
            f"{declared[cycle[0]][0].at('down_revision')}: revisions {' -> '.join(cycle)} form a cycle through "
            f"down_revision; point one of them at the revision it really follows"
        )
        return
    heads = revisions.heads({revision: ("", list(downs)) for revision, downs in graph.items()})
    if len(heads) > 1:
        folder = display_path(declared[heads[0]][0].path.parent)
        named = ", ".join(f"{head} ({declared[head][0].path.name})" for head in heads)
        found.problems.append(
            f"{folder}: {service.name} has {len(heads)} heads, {named}; merge them: inv db.merge {service.name}"
        )


def _cycle(graph: dict[str, tuple[str, ...]]) -> list[str]:
    """A path of down_revision links that comes back to where it started, or [] (every down is in `graph`)."""
    children: dict[str, list[str]] = {revision: [] for revision in graph}
    waiting = {revision: len(set(downs)) for revision, downs in graph.items()}
    for revision, downs in graph.items():
        for down in set(downs):
            children[down].append(revision)
    ready = [revision for revision, count in waiting.items() if count == 0]
    while ready:  # settle revisions from the bases up; what never settles is on or above a cycle
        for child in children[ready.pop()]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    left = {revision for revision, count in waiting.items() if count}
    if not left:
        return []
    path: list[str] = []
    current = min(left)
    while current not in path:  # every unsettled revision has an unsettled down: walking them must repeat
        path.append(current)
        current = min(down for down in graph[current] if down in left)
    return [*path[path.index(current) :], current]
