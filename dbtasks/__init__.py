"""dbtasks: declarative Invoke tasks that run each service's own Alembic migrations in a monorepo.

The library API, imported on first use (nothing loads with `import dbtasks`): `load` (migrations.yaml -> Project),
`Session`, and the modules `verbs` (one service) and `verbs_all` (every selected service). docs/library.md shows them.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a no-op replayed imports little)
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"
__all__ = ["Session", "load", "verbs", "verbs_all"]

_LAZY = {"load": ("dbtasks.config", "load"), "Session": ("dbtasks.session", "Session")}
_MODULES = ("verbs", "verbs_all")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    if name in _MODULES:
        return importlib.import_module(f"dbtasks.{name}")
    raise AttributeError(f"module 'dbtasks' has no attribute {name!r}")
