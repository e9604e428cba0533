"""migrations.yaml -> a frozen Project: loading (loader.py), the keys, fleets, lint settings, the cache, the size bounds.

May import: errors, settings, worker/sources and worker/revisions (reading files), database/urls (URL rules).
Nothing is imported here but on call: `dbtasks.config.load` is the one entry point a library user needs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a no-op replayed imports little)
if TYPE_CHECKING:
    from pathlib import Path

    from .project import Project


def load(file: Path) -> Project:
    """migrations.yaml at `file`, validated whole, as a Project; ConfigError lists every problem, one line each."""
    from .loader import load as validated

    return validated(file)
