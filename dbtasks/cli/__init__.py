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

__all__ = ["SHORT_FLAGS", "build_db_collection", "build_namespace", "freeze_at_exit"]
_FREEZING: list[bool] = []  # whether freeze_at_exit has registered its function in this process


def __getattr__(name: str) -> Any:
    if name == "SHORT_FLAGS":  # read from registry.py on first use: a replayed no-op (replayed.py) imports no task
        from .registry import SHORT_FLAGS

        return SHORT_FLAGS
    raise AttributeError(f"module 'dbtasks.cli' has no attribute {name!r}")


def build_namespace(config_file: str | Path) -> Collection:
    """A fresh root Invoke collection with the `db` tasks for the migrations.yaml at `config_file` (tasks.py calls it)."""
    from .invoke_layer import build_namespace as build

    freeze_at_exit()
    return build(config_file)


def build_db_collection(config_file: Path) -> Collection:
    """The `db` Invoke collection, built afresh (Invoke consumes a task's help dict while parsing)."""
    from .invoke_layer import build_db_collection as build

    return build(config_file)


def freeze_at_exit() -> None:
    """Once per process: at exit, after the exit functions registered later (all of ours), put every object out of
    the cyclic collector's reach (gc.freeze). The interpreter's teardown then collects nothing: 17 ms less at the end
    of each `inv` run, most of it walking Invoke's objects. What it would have collected goes back with the process's
    memory anyway."""
    if not _FREEZING:
        import atexit
        import gc

        atexit.register(gc.freeze)  # registered first, so run last
        _FREEZING.append(True)
