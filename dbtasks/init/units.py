"""Where `dbtasks init` finds the Alembic units of a monorepo: every alembic.ini (its [alembic] section, or each
named section with a script_location, as `alembic -n NAME` reads it) and every pyproject.toml with a [tool.alembic]
table (Alembic 1.16+), outside VCS, virtualenv, cache and node_modules folders. Nothing is imported or run."""

from __future__ import annotations

import configparser
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..worker import revisions
from .scan import SKIPPED_FOLDERS, ServiceScan


def _folders(root: Path) -> list[tuple[Path, list[str]]]:
    """Every folder under `root` with its file names, outside VCS, virtualenv, cache and node_modules folders."""
    found: list[tuple[Path, list[str]]] = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in SKIPPED_FOLDERS and not os.path.isfile(os.path.join(folder, name, "pyvenv.cfg"))
        )
        found.append((Path(folder), files))
    return found


def find_units(root: Path) -> tuple[list[tuple[Path, str, Path | None]], list[str]]:
    """Every Alembic unit under `root` as (alembic.ini, its section, pyproject.toml or None), as plain `alembic`
    reads them: an ini's [alembic], or each named section with a script_location (alembic -n NAME); a folder's
    pyproject.toml with [tool.alembic] (Alembic 1.16+), with or without an alembic.ini. And a line for each
    alembic.ini that configures nothing."""
    units: list[tuple[Path, str, Path | None]] = []
    notes: list[str] = []
    folders = sorted(
        folder
        for folder, files in _folders(root)
        if ("alembic.ini" in files and (folder / "alembic.ini").is_file() and inside(folder / "alembic.ini", root))
        or ("pyproject.toml" in files and "tool.alembic" in (revisions.text_of(str(folder / "pyproject.toml")) or ""))
    )
    for folder in folders:
        ini, toml = folder / "alembic.ini", folder / "pyproject.toml"
        table = revisions.tool_alembic(str(toml)) if toml.is_file() and inside(toml, root) else None
        toml_unit = toml if table and table.get("script_location") else None
        sections = _sections_with_location(ini) if ini.is_file() and inside(ini, root) else []
        if sections == ["alembic"] or (not sections and toml_unit is not None):
            units.append((ini, "alembic", toml_unit))
        elif sections:
            units.extend((ini, section, None) for section in sections)
        else:
            notes.append(
                f"{ini.relative_to(root).as_posix()}: no section has a script_location; left out (run 'alembic init' there)"
            )
    return units, notes


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


def by_branch(scan: ServiceScan) -> list[ServiceScan]:
    """A unit whose revisions carry two or more branch labels (Alembic's branch_labels): a scan per branch, each with
    the branches its revisions' depends_on reach; else the scan itself (also when a revision belongs to no branch)."""
    declared: dict[str, tuple[list[str], list[str], list[str]]] = {}  # revision -> (downs, labels, depends_on)
    for path in scan.files:
        values = revisions.module_constants(path)
        if not isinstance(values.get("revision"), str):
            return [scan]
        declared[values["revision"]] = (
            _names(values.get("down_revision")),
            _names(values.get("branch_labels")),
            _names(values.get("depends_on")),
        )
    labels = sorted({label for _, found, _ in declared.values() for label in found})
    if len(labels) < 2:
        return [scan]
    branch_of = {revision: _branch(declared, revision) for revision in declared}
    if any(label is None for label in branch_of.values()):
        return [scan]
    needs: dict[str, set[str]] = {label: set() for label in labels}
    for revision, (_, _, depends) in declared.items():
        for dependency in depends:
            other = branch_of.get(dependency) or (dependency if dependency in labels else None)
            if other is not None and other != branch_of[revision]:
                needs[str(branch_of[revision])].add(other)
    return [replace(scan, branch=label, branch_needs=sorted(needs[label])) for label in labels]


def _branch(declared: dict[str, tuple[list[str], list[str], list[str]]], revision: str) -> str | None:
    """The branch label a revision carries or inherits from the revisions below it (None: none)."""
    seen: set[str] = set()
    while revision in declared and revision not in seen:
        seen.add(revision)
        downs, labels, _ = declared[revision]
        if labels:
            return labels[0]
        if not downs:
            return None
        revision = downs[0]
    return None


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, (list, tuple)) else []
