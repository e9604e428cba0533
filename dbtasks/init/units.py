"""Where `dbtasks init` finds the Alembic units of a monorepo: every alembic.ini (its [alembic] section, or each
named section with a script_location, as `alembic -n NAME` reads it) and every pyproject.toml with a [tool.alembic]
table (Alembic 1.16+), outside VCS, virtualenv, cache and node_modules folders. Nothing is imported or run."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from ..worker import revisions
from .scan import SKIPPED_FOLDERS


def find_alembic_inis(root: Path) -> list[Path]:
    """Every alembic.ini under `root`, sorted, outside VCS, virtualenv, cache and node_modules folders."""
    found: list[Path] = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in SKIPPED_FOLDERS and not os.path.isfile(os.path.join(folder, name, "pyvenv.cfg"))
        )
        ini = Path(folder) / "alembic.ini"
        if "alembic.ini" in files and ini.is_file() and inside(ini, root):
            found.append(ini)
    return sorted(found)


def find_units(root: Path) -> tuple[list[tuple[Path, str, Path | None]], list[str]]:
    """Every Alembic unit under `root` as (alembic.ini, its section, pyproject.toml or None), as plain `alembic`
    reads them: an ini's [alembic], or each named section with a script_location (alembic -n NAME); a folder's
    pyproject.toml with [tool.alembic] (Alembic 1.16+), with or without an alembic.ini. And a line for each
    alembic.ini that configures nothing."""
    units: list[tuple[Path, str, Path | None]] = []
    notes: list[str] = []
    folders = sorted({ini.parent for ini in find_alembic_inis(root)} | set(_pyproject_folders(root)))
    for folder in folders:
        ini, toml = folder / "alembic.ini", folder / "pyproject.toml"
        table = revisions.tool_alembic(str(toml)) if toml.is_file() and inside(toml, root) else None
        toml_unit = toml if table and table.get("script_location") else None
        sections = _sections_with_location(ini) if ini.is_file() else []
        if sections == ["alembic"] or (not sections and toml_unit is not None):
            units.append((ini, "alembic", toml_unit))
        elif sections:
            units.extend((ini, section, None) for section in sections)
        else:
            notes.append(
                f"{ini.relative_to(root).as_posix()}: no section has a script_location; left out (run 'alembic init' there)"
            )
    return units, notes


def _pyproject_folders(root: Path) -> list[Path]:
    """Folders whose pyproject.toml mentions [tool.alembic] (read properly by find_units)."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in SKIPPED_FOLDERS and not os.path.isfile(os.path.join(folder, name, "pyvenv.cfg"))
        )
        if "pyproject.toml" in files and "tool.alembic" in (revisions.text_of(os.path.join(folder, "pyproject.toml")) or ""):
            found.append(Path(folder))
    return found


def _sections_with_location(ini: Path) -> list[str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(revisions.text_of(str(ini)) or "", str(ini))
    except (configparser.Error, OSError):
        return []
    return [name for name in parser.sections() if parser.has_option(name, "script_location")]


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, its links followed, stays in the tree under `root` (an alembic.ini linked to /etc/passwd does not)."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, RuntimeError, OSError):
        return False
    return True
