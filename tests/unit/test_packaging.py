"""An install from PyPI or a path (not editable) carries every package of dbtasks: the worker and the Invoke layer too."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    installed = set(find_namespace_packages(where=str(ROOT), include=include))
    folders = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "dbtasks").rglob("__init__.py")
        if "__pycache__" not in path.parts
    }
    assert {"dbtasks", "dbtasks.worker", "dbtasks.cli"} <= folders
    assert folders <= installed, folders - installed
