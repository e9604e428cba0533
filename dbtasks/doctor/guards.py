"""Environment guards: `metadata.create_all()` in a service's own code must only run in development.

Outside development it races the migrations: the tables appear without a recorded revision, and the next
`upgrade` fails with "relation already exists". Found by reading the service's files (never importing them).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# An `if` whose test names one of these is taken as an environment check (ENVIRONMENT, settings.env, DEBUG, ...).
_ENVIRONMENT_WORDS = re.compile(r"env|environment|development|debug|testing|local|dev\b|prod", re.IGNORECASE)
_SKIPPED_FOLDERS = frozenset(
    (".git", ".venv", "venv", "env", "node_modules", "__pycache__", ".dbtasks", "site-packages", "build", "dist")
)


@dataclass(frozen=True)
class CreateAll:
    """A create_all() call in a service's code, and whether an environment check encloses it."""

    path: Path
    line: int
    guarded: bool


def create_all_calls(service_folder: Path, migrations_folder: Path | None = None) -> list[CreateAll]:
    """Every `....create_all` in the service's Python files, migrations and tests left out."""
    found: list[CreateAll] = []
    for path in _python_files(service_folder, migrations_folder):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        found += [CreateAll(path, line, guarded) for line, guarded in _calls(tree)]
    return sorted(found, key=lambda call: (str(call.path), call.line))


def _python_files(folder: Path, migrations_folder: Path | None) -> Iterator[Path]:
    for current, folders, files in os.walk(folder):
        here = Path(current)
        folders[:] = sorted(
            name
            for name in folders
            if name not in _SKIPPED_FOLDERS
            and not name.startswith("test")
            and (migrations_folder is None or here / name != migrations_folder)
        )
        for name in sorted(files):
            if name.endswith(".py") and not name.startswith("test_") and name != "conftest.py":
                yield here / name


def _calls(tree: ast.AST) -> Iterator[tuple[int, bool]]:
    """(line, guarded) of each create_all reference (a call, or a function handed to run_sync)."""

    def visit(node: ast.AST, guarded: bool) -> Iterator[tuple[int, bool]]:
        if isinstance(node, ast.Attribute) and node.attr == "create_all":
            yield node.lineno, guarded
        if isinstance(node, ast.If):
            inside = guarded or _is_environment_check(node.test)
            for statement in node.body:
                yield from visit(statement, inside)
            for statement in node.orelse:  # the else of an environment check is production: not guarded
                yield from visit(statement, guarded)
            yield from visit(node.test, guarded)
            return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, guarded)

    yield from visit(tree, False)


def _is_environment_check(test: ast.AST) -> bool:
    words = [
        part
        for node in ast.walk(test)
        for part in (
            [node.id]
            if isinstance(node, ast.Name)
            else [node.attr]
            if isinstance(node, ast.Attribute)
            else [node.value]
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            else []
        )
    ]
    return any(_ENVIRONMENT_WORDS.search(word) for word in words)
