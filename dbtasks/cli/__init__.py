"""The command-line layer: the `db` tasks (registry.py) for Invoke (invoke_layer.py) and for the `dbtasks` command
(direct.py). Each task parses its options, opens a Session, calls one verb of the core and renders the result;
expected failures become one-line exits.

Nothing is imported here: `dbtasks TASK` must not pay for Invoke, and listing the tasks (`inv --list`, shell
completion) imports only the task modules; the core is imported inside the task bodies, when a task runs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a no-op replayed imports little)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from invoke.collection import Collection

__all__ = ["SHORT_FLAGS", "build_db_collection", "build_namespace"]


def __getattr__(name: str) -> Any:
    if name == "SHORT_FLAGS":  # read from registry.py on first use: a replayed no-op (replayed.py) imports no task
        from .registry import SHORT_FLAGS

        return SHORT_FLAGS
    raise AttributeError(f"module 'dbtasks.cli' has no attribute {name!r}")


def build_namespace(config_file: str | Path) -> Collection:
    """A fresh root Invoke collection with the `db` tasks for the migrations.yaml at `config_file` (tasks.py calls it)."""
    from .invoke_layer import build_namespace as build

    return build(config_file)


def build_db_collection(config_file: Path) -> Collection:
    """The `db` Invoke collection, built afresh (Invoke consumes a task's help dict while parsing)."""
    from .invoke_layer import build_db_collection as build

    return build(config_file)
