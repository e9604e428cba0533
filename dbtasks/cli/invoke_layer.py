"""The Invoke layer: the `db` collection for a migrations.yaml, from the tasks of registry.py."""

from __future__ import annotations

import copy
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.parser.argument import Argument
from invoke.tasks import Task

from ..errors import DbtasksError
from . import registry
from .registry import SHORT_FLAGS


def build_namespace(config_file: str | Path) -> Collection:
    """A fresh root collection with the `db` tasks for the migrations.yaml at `config_file`."""
    namespace = Collection()
    namespace.add_collection(build_db_collection(Path(config_file)), name="db")
    return namespace


def build_db_collection(config_file: Path) -> Collection:
    """The `db` tasks, built afresh (Invoke consumes a task's help dict while parsing)."""
    db = Collection("db")
    for name, body, helps in registry.definitions(config_file):
        db.add_task(_Task(guarded(body), name=name, help=dict(helps), auto_shortflags=False), name=name)
    return db


class _Task(Task):  # type: ignore[type-arg]  # Invoke is untyped
    def __deepcopy__(self, memo: dict[int, Any]) -> _Task:
        """Invoke deep-copies the whole `db` collection it loads from tasks.py (about 8 ms of each `inv` run, most of it
        in the bodies' signatures); a task is built afresh for each run and only its help dict is consumed while
        parsing: a copy with a help dict of its own is the same copy."""
        copied = copy.copy(self)
        copied.help = dict(self.help)
        memo[id(self)] = copied
        return copied

    def arg_opts(self, name: str, default: Any, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(name)
        if short is not None and short not in taken_names:
            opts["names"].append(short)
        return opts

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        arguments: list[Argument] = super().get_arguments(ignore_unknown_help)
        for argument in arguments:
            argument.__class__ = _Argument
        return arguments


class _Argument(Argument):
    """Invoke's parser deep-copies every task's arguments each time it is made (twice a run): most of a parse's time,
    about 8 ms of each `inv` run. A parse only assigns an argument's attributes, or appends to a list value: a copy
    of the attributes with a list of its own is the same copy, made at once."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _Argument:
        copied = copy.copy(self)
        if isinstance(self._value, list):
            copied._value = list(self._value)
        if isinstance(self.raw_value, list):
            copied.raw_value = list(self.raw_value)
        memo[id(self)] = copied
        return copied


def guarded(body: Callable[..., None]) -> Callable[..., None]:
    """Turn an expected failure into Invoke's Exit: its one-line message and exit code (registry.expected_failure)."""

    @functools.wraps(body)
    def run(*args: Any, **kwargs: Any) -> None:
        # Invoke turns bytecode writing off (for the tasks' folder); a body imports only dbtasks and its dependencies,
        # whose bytecode is worth keeping (12 % of a no-op run's CPU), unless the user asked for none.
        writes = sys.dont_write_bytecode
        sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
        try:
            body(*args, **kwargs)
        except (ModuleNotFoundError, DbtasksError) as error:
            message, code = registry.expected_failure(error) or (str(error), 1)
            raise Exit(message, code=code) from None
        finally:
            sys.dont_write_bytecode = writes

    return run
