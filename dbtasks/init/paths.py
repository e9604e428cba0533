"""Where a service's own packages live when its folder is not enough (`pythonpath:`), found the way its developers'
tools find them: a `src/` layout, the package declarations of pyproject.toml (setuptools, hatch, Poetry, PDM),
pytest's `pythonpath`, and folders above the service up to the monorepo's root. Nothing is imported: a top-level
name env.py imports is looked for as a folder or a module file."""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import sys
from pathlib import Path
from typing import Any


def imported_names(tree: ast.Module) -> list[str]:
    """The top-level names of env.py's absolute imports, in order."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module.split(".")[0])
    return list(dict.fromkeys(names))


def found_in(folder: Path, name: str) -> bool:
    return (folder / name).is_dir() or (folder / f"{name}.py").is_file()


def elsewhere(name: str, python: Path | None) -> bool:
    """Whether `name` is standard library, or installed for dbtasks' interpreter or in the service's own venv."""
    if name in sys.builtin_module_names or name in getattr(sys, "stdlib_module_names", ()):
        return True
    if importlib.machinery.PathFinder.find_spec(name, sys.path) is not None:
        return True
    if python is not None:  # .venv/bin/python: its site-packages, read as files
        venv = python.parent.parent
        return any(found_in(site, name) for site in venv.glob("lib/python*/site-packages"))
    return False


def candidates(folder: Path, root: Path) -> list[Path]:
    """Folders that may hold the service's packages, most specific first."""
    found = [folder / "src", *_declared(folder / "pyproject.toml")]
    above = folder.parent
    while root == above or root in above.parents:
        found.extend((above, above / "src"))
        if above == root:
            break
        above = above.parent
    return [path for path in dict.fromkeys(path.resolve() for path in found) if path.is_dir()]


def pythonpath(
    folder: Path, root: Path, roots: list[Path], names: list[str], python: Path | None
) -> tuple[list[Path], list[str]]:
    """(folders to prepend so that every name env.py imports resolves, the names nothing here resolves)."""
    added: list[Path] = []
    missing: list[str] = []
    places = candidates(folder, root)
    for name in names:
        if any(found_in(where, name) for where in [*roots, *added]) or elsewhere(name, python):
            continue
        where = next((place for place in places if found_in(place, name)), None)
        if where is None:
            missing.append(name)
        else:
            added.append(where)
    return added, missing


def _declared(pyproject: Path) -> list[Path]:
    """The folders pyproject.toml's package declarations and pytest's pythonpath name (Python 3.11+ reads TOML)."""
    if sys.version_info < (3, 11):  # no tomllib: src/ and the folders above are still looked at
        return []
    tomllib = importlib.import_module("tomllib")
    try:
        document: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    tool = document.get("tool") or {}
    folder, found = pyproject.parent, []
    setuptools = tool.get("setuptools") or {}
    package_dir = setuptools.get("package-dir") or {}
    if isinstance(package_dir, dict) and isinstance(package_dir.get(""), str):
        found.append(folder / package_dir[""])
    where = ((setuptools.get("packages") or {}) if isinstance(setuptools.get("packages"), dict) else {}).get("find", {})
    found.extend(folder / item for item in (where.get("where") or []) if isinstance(item, str))
    hatch = (((tool.get("hatch") or {}).get("build") or {}).get("targets") or {}).get("wheel") or {}
    found.extend((folder / item).parent for item in (hatch.get("packages") or []) if isinstance(item, str))
    for package in (tool.get("poetry") or {}).get("packages") or []:
        if isinstance(package, dict) and isinstance(package.get("from"), str):
            found.append(folder / package["from"])
    pdm = ((tool.get("pdm") or {}).get("build") or {}).get("package-dir")
    if isinstance(pdm, str):
        found.append(folder / pdm)
    pytest = ((tool.get("pytest") or {}).get("ini_options") or {}).get("pythonpath") or []
    found.extend(folder / item for item in ([pytest] if isinstance(pytest, str) else pytest) if isinstance(item, str))
    return found
