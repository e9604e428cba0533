"""Where a service's migrations leave their transaction: statements that run without the environment's timeouts and
without the rollback of one transaction per migration. Read from the files (never run): every version location,
the service's own modules the revisions import, and env.py."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from ..config.project import Service
from ..worker import revisions

# autocommit_block ( however spaced; op.execute("COMMIT") / ("END"), also through text(); an AUTOCOMMIT isolation level.
_BLOCK = re.compile(r"\bautocommit_block\s*\(")
_COMMIT = re.compile(r"""\.execute\s*\(\s*(?:\w+\s*\(\s*)?[rbuRBU]?["']\s*(?:COMMIT|END)\b""", re.IGNORECASE)
_AUTOCOMMIT = re.compile(r"""isolation_level\s*=\s*["']AUTOCOMMIT["']|["']isolation_level["']\s*:\s*["']AUTOCOMMIT["']""")


def revision_findings(service: Service) -> list[tuple[Path, str]]:
    """(file, what it does) for each revision, or module a revision imports, that leaves the migration's transaction."""
    found = []
    for path in _revision_files(service):
        for what in _leaves_transaction(path):
            found.append((path, what))
    return found


def engine_autocommits(service: Service) -> Path | None:
    """env.py, when it gives its engine or connection the AUTOCOMMIT isolation level (no migration has a transaction)."""
    env_py = revisions.environment_file(**service.alembic_source)
    if env_py is None:
        return None
    return Path(env_py) if _AUTOCOMMIT.search(_text(Path(env_py))) else None


def _revision_files(service: Service) -> Iterator[Path]:
    folders = revisions.version_folders(**service.alembic_source)
    if folders is None:  # only Alembic can say where they are: the usual place, next to env.py
        env_py = revisions.environment_file(**service.alembic_source)
        folders = [str(Path(env_py).parent / "versions")] if env_py else []
    seen: set[Path] = set()
    for file in revisions.files_in(folders):
        path = Path(file)
        for candidate in [path, *_own_imports(path, service.path)]:
            if candidate not in seen:
                seen.add(candidate)
                yield candidate


def _own_imports(path: Path, root: Path) -> Iterator[Path]:
    """The modules of the service's own folder that `path` imports (a helper shared by revisions)."""
    try:
        tree = ast.parse(_text(path))
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in names:
            for base in (root, root / "src"):
                module = base.joinpath(*name.split("."))
                for candidate in (module.with_suffix(".py"), module / "__init__.py"):
                    if candidate.is_file():
                        yield candidate


def _leaves_transaction(path: Path) -> Iterator[str]:
    text = _text(path)
    if _BLOCK.search(text):
        yield "runs statements in autocommit_block()"
    if _COMMIT.search(text):
        yield "executes COMMIT"
    if _AUTOCOMMIT.search(text):
        yield "sets the AUTOCOMMIT isolation level"


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[:2_000_000]
    except OSError:
        return ""
