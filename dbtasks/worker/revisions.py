"""A service's revision graph read from its migration files' constants, without importing them.

Used by the parent (the fast path: heads and pending counts with no worker) and by the worker (naming a
broken chain that Alembic reports as a bare KeyError). Standard library only; Python 3.8 at run time.
"""

from __future__ import annotations

import ast
import glob
import os
import re
import stat
from collections.abc import Iterable
from typing import Any

# A migration file, env.py or alembic.ini larger than this is not read (a link to /dev/zero, a data dump by mistake).
MAX_FILE_BYTES = 16 * 1024 * 1024


def text_of(path: str) -> str | None:
    """The UTF-8 text of a regular file of at most MAX_FILE_BYTES; None for anything else (a pipe would hang the
    reader, a device or a huge file exhaust it, other bytes fail it)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1).decode("utf-8")
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return None


def module_constants(path: str) -> dict[str, Any]:
    """The literal top-level assignments of a Python file ({} when it does not parse)."""
    text = text_of(path)
    try:
        tree = ast.parse(text if text is not None else "", filename=path)
    except (SyntaxError, ValueError, RecursionError):
        return {}
    return {name: value for name, (_, value, literal) in assignments(tree).items() if literal}


def assignments(tree: ast.Module) -> dict[str, tuple[int, Any, bool]]:
    """Each name a module assigns at its top level: (the line of its last assignment, the value, whether the value
    is a literal: when not, the value is None). The one reader of `revision` and `down_revision` from a file."""
    found: dict[str, tuple[int, Any, bool]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                try:
                    found[target.id] = (node.lineno, ast.literal_eval(value), True)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    found[target.id] = (node.lineno, None, False)
    return found


def summary_of(path: str) -> str:
    """The first paragraph of a migration file's docstring, as Alembic's Script.doc gives it ('' when none)."""
    try:
        doc = ast.get_docstring(ast.parse(text_of(path) or "", filename=path), clean=False)
    except (SyntaxError, ValueError, RecursionError):
        return ""
    return re.split("\n\n", doc.strip())[0] if doc else ""


def read_graph(files: Iterable[str]) -> dict[str, tuple[str, list[str]]] | None:
    """revision -> (file, down revisions); None when a file's revision is not a plain literal."""
    graph: dict[str, tuple[str, list[str]]] = {}
    for path in sorted(files):
        values = module_constants(path)
        revision = values.get("revision")
        if not isinstance(revision, str):
            return None
        down = values.get("down_revision")
        downs = [down] if isinstance(down, str) else list(down or [])
        if revision in graph or not all(isinstance(item, str) for item in downs):
            return None
        graph[revision] = (path, downs)
    return graph


def find_broken_chain(files: Iterable[str]) -> dict[str, Any] | None:
    """A file whose down_revision no file defines: {"path", "revision", "missing"}, or None."""
    declared: dict[str, tuple[str, list[str]]] = {}
    for path in sorted(files):
        values = module_constants(path)
        if isinstance(values.get("revision"), str):
            down = values.get("down_revision")
            declared[values["revision"]] = (path, [down] if isinstance(down, str) else list(down or []))
    for revision, (path, downs) in declared.items():
        for down in downs:
            if down not in declared:
                return {"path": path, "revision": revision, "missing": down}
    return None


def heads(graph: dict[str, tuple[str, list[str]]]) -> list[str]:
    below = {down for _, downs in graph.values() for down in downs}
    return sorted(revision for revision in graph if revision not in below)


def pending(graph: dict[str, tuple[str, list[str]]], current: Iterable[str]) -> int:
    """How many revisions are not yet applied when the database records `current`."""
    return len(graph) - len(applied(graph, current))


def applied(graph: dict[str, tuple[str, list[str]]], current: Iterable[str]) -> list[str]:
    """The revisions applied when the database records `current` (they and their ancestors), oldest first."""
    order: list[str] = []
    seen: set[str] = set()
    stack = [(revision, False) for revision in sorted(current, reverse=True)]
    while stack:
        revision, done = stack.pop()
        if done:
            order.append(revision)
        elif revision not in seen and revision in graph:
            seen.add(revision)
            stack.append((revision, True))
            stack.extend((down, False) for down in reversed(graph[revision][1]))
    return order


def version_files(ini: str, cwd: str, section: str = "alembic", toml: str | None = None) -> list[str] | None:
    """The migration files of the Alembic environment configured by `ini` (its `section`, then `toml`'s
    [tool.alembic]), read the way Alembic reads it when run from `cwd`; None when only Alembic can resolve them
    (package resources, recursive folders, a pyproject.toml this interpreter cannot parse)."""
    folders = version_folders(ini, cwd, section, toml)
    if folders is None:
        return None
    return files_in(folders)


def files_in(folders: Iterable[str]) -> list[str]:
    """The migration files directly in `folders` (every .py but __init__.py)."""
    found: list[str] = []
    for folder in folders:
        found.extend(glob.glob(os.path.join(folder, "*.py")))
    return [path for path in found if os.path.basename(path) != "__init__.py" and os.path.isfile(path)]  # no pipes


def broken_folder(folder: str) -> str | None:
    """Why a versions folder that is a link cannot be read (it points at nothing, or loops); None when it can."""
    if os.path.islink(folder) and not os.path.isdir(folder):
        return f"the versions folder {folder} is a link to nothing (or a link loop)"
    return None


def alembic_options(ini: str, section: str = "alembic", toml: str | None = None) -> dict[str, Any] | None:
    """The Alembic options as Alembic reads them: `section` of `ini` (when the file exists) first, then the
    [tool.alembic] table of `toml` (Alembic 1.16 and later), with %(here)s resolved; None when unreadable here."""
    import configparser  # imported when alembic.ini is read: a cached run reads none

    parser = configparser.ConfigParser(defaults={"here": os.path.dirname(os.path.abspath(ini))})
    try:
        if os.path.exists(ini) or not toml:
            parser.read_string(text_of(ini) or "", ini)
        options: dict[str, Any] = dict(parser.items(section)) if parser.has_section(section) or not toml else {}
    except (configparser.Error, OSError):
        return None
    if toml:
        table = tool_alembic(toml)
        if table is None:
            return None
        here = os.path.dirname(os.path.abspath(toml))
        for key, value in table.items():
            if key not in options:
                options[key] = value.replace("%(here)s", here) if isinstance(value, str) else value
    return options


def tool_alembic(toml: str) -> dict[str, Any] | None:
    """pyproject.toml's [tool.alembic] table ({} without one); None when it cannot be parsed here (no TOML reader
    before Python 3.11 without tomli) or is not a table."""
    try:
        import tomllib as reader  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            import tomli as reader  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:
            return None
    text = text_of(toml)
    if text is None:
        return None
    try:
        table = reader.loads(text).get("tool", {}).get("alembic", {})
    except (ValueError, AttributeError):  # TOMLDecodeError is a ValueError
        return None
    return table if isinstance(table, dict) else None


def version_folders(ini: str, cwd: str, section: str = "alembic", toml: str | None = None) -> list[str] | None:
    """The folders holding those files (None as for version_files)."""
    options = alembic_options(ini, section, toml)
    if options is None:
        return None
    location = options.get("script_location", "")
    recursive = str(options.get("recursive_version_locations", "false")).lower() in ("true", "1", "yes", "on")
    if not isinstance(location, str) or not location or (":" in location and not os.path.isabs(location)) or recursive:
        return None
    declared = options.get("version_locations")
    if isinstance(declared, list):
        folders = [str(item) for item in declared]
    elif declared:
        folders = _split(str(declared), options.get("path_separator"))
    else:
        folders = [os.path.join(location, "versions")]
    found = [os.path.join(cwd, folder) for folder in folders]  # join keeps an absolute folder as is
    return None if any(broken_folder(folder) for folder in found) else found  # the worker says what is wrong


def _split(value: str, separator: str | None) -> list[str]:
    if separator is None or separator == "space":
        return [item for item in re.split(r"[ ,]+", value.strip()) if item] if separator is None else value.split()
    if separator == "os":
        return [item for item in value.split(os.pathsep) if item]
    return [
        item.strip()
        for item in value.split({"colon": ":", "semicolon": ";", "newline": "\n"}.get(separator, separator))
        if item.strip()
    ]


def script_files(script: Any) -> set[str]:
    """The migration files of an Alembic ScriptDirectory (several folders when version_locations is set)."""
    folders = getattr(script, "_version_locations", None) or [script.versions]
    return {path for folder in folders for path in glob.glob(os.path.join(str(folder), "*.py"))}


def environment_file(ini: str, cwd: str, section: str = "alembic", toml: str | None = None) -> str | None:
    """The env.py of the Alembic environment configured by `ini` (as version_files reads it; None when only Alembic
    can find it)."""
    options = alembic_options(ini, section, toml)
    location = (options or {}).get("script_location", "")
    if not isinstance(location, str) or not location or (":" in location and not os.path.isabs(location)):
        return None
    return os.path.join(cwd, location, "env.py")


def file_problems(files: Iterable[str]) -> list[str]:
    """Files that contradict each other or their names: duplicate revisions, misnamed files, missing parents."""
    declared: dict[str, list[str]] = {}
    downs: dict[str, list[str]] = {}
    for path in sorted(files):
        values = module_constants(path)
        revision = values.get("revision")
        if not isinstance(revision, str):
            continue
        declared.setdefault(revision, []).append(path)
        down = values.get("down_revision")
        downs[path] = [down] if isinstance(down, str) else list(down or [])
    problems = []
    for revision, paths in sorted(declared.items()):
        if len(paths) > 1:
            problems.append(f"revision {revision} is declared by {len(paths)} files: {', '.join(map(os.path.basename, paths))}")
    for revision, paths in sorted(declared.items()):
        for path in paths:
            named = _named_revision(path, revision, declared)
            if named:
                problems.append(f"{os.path.basename(path)} declares revision {revision}, but its name starts with {named}")
            for down in downs[path]:
                if down not in declared:
                    problems.append(f"{os.path.basename(path)} declares down_revision {down}, which no file defines")
    return problems


def _named_revision(path: str, revision: str, declared: dict[str, list[str]]) -> str | None:
    """The revision id a file's name starts with, when it is not the one the file declares."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if revision in stem:
        return None
    prefix = stem.split("_")[0]
    if prefix in declared or re.match(r"^[0-9a-f]{12}\Z", prefix):
        return prefix
    return None


def file_in_traceback(error: BaseException, files: Any) -> str | None:
    """The last migration file in the traceback of `error`, if any."""
    if isinstance(error, SyntaxError) and error.filename in files:
        return error.filename
    found = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in files:
            found = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return found
