"""Migrations that live in a package (alembic.ini's `script_location = package:path`, as Alembic resolves it): found
on the import path without importing anything, so that init reads their env.py and revisions like any other unit's."""

from __future__ import annotations

import importlib.machinery
import os
import re
import sys
from pathlib import Path


def split(location: str) -> tuple[str, str] | None:
    """(package, path) of a script_location in Alembic's package:path form; None for a folder (C:\\x included)."""
    if ":" not in location or os.path.isabs(location) or re.match(r"^[A-Za-z]:[\\/]", location):
        return None
    package, _, path = location.partition(":")
    if not package or not all(part.isidentifier() for part in package.split(".")):
        return None
    return package, path


def folder(location: str, roots: list[Path]) -> Path | None:
    """The folder a package:path script_location names, looked for under `roots` (the service's own folders) and then
    this interpreter's import path (PYTHONPATH and site-packages); None when the package is not there."""
    found = split(location)
    if found is None:
        return None
    package, path = found
    top, *inner = package.split(".")
    spec = importlib.machinery.PathFinder.find_spec(top, [str(root) for root in roots] + sys.path)  # located, not run
    for base in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(base, *inner, path)
        if candidate.is_dir():
            return candidate
    return None


def shipped_ini(package: str) -> tuple[Path | None, str]:
    """The alembic.ini that the installed `package` ships at its top, found on this interpreter's import path without
    importing it; (None, what is wrong) when the package is not there or has no alembic.ini."""
    if not all(part.isidentifier() for part in package.split(".")):
        return None, f"{package!r} is not a package name; give an importable name such as mypkg or mypkg.db"
    top, *inner = package.split(".")
    spec = importlib.machinery.PathFinder.find_spec(top, sys.path)
    bases = [Path(base, *inner) for base in (spec.submodule_search_locations or [])] if spec is not None else []
    if not any(base.is_dir() for base in bases):
        return None, (
            f"package {package} is not installed for {sys.executable} (nor on PYTHONPATH); install it there, or put "
            "the folder holding it on PYTHONPATH, then rerun"
        )
    for base in bases:
        if (base / "alembic.ini").is_file():
            return base / "alembic.ini", ""
    return None, (
        f"package {package} ({bases[0]}) has no alembic.ini at its top; give the subpackage whose folder holds it "
        f"(--package {package}.NAME)"
    )
