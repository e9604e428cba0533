"""The `db` tasks as plain functions, for Invoke (cli/__init__.py) and for the `dbtasks` command (cli/direct.py)
alike: one list, the same bodies, the same options, the same messages and exit codes. Imports nothing heavy."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DbtasksError, printable
from . import (
    adopt_tasks,
    all_tasks,
    checksum_tasks,
    diagnostic_tasks,
    fleet_options,
    graph_tasks,
    lint_tasks,
    local_tasks,
    plan_tasks,
    selection,
    service_tasks,
)
from .helps import ENV_HELP, LOCK, VERBOSE_HELP, Definitions, Task, missing_module

# The short flags, one meaning in every task (Invoke would derive them from each task's own parameter order).
SHORT_FLAGS = {"env": "e", "jobs": "j", "verbose": "v", "message": "m", "yes": "y", "to": "t"}


# What the registry builds and hands a body (never an option of its own), and the options it builds the Session from.
BUILT = ("pick", "session")
SESSION_DEFAULTS: dict[str, Any] = {"lock_wait": "", "env": "", "verbose": False}

Assembled = list[tuple[str, Callable[..., None], dict[str, str]]]  # (name, the task's function, help per option)


def definitions(config_file: Path) -> Assembled:
    """Every task as (name, function, help per option), assembled from its one description (helps.Task)."""
    return [assemble(task, config_file) for task in descriptions(config_file)]


def descriptions(config_file: Path) -> Definitions:
    """Every task's one description."""
    return [
        *service_tasks.definitions(config_file),
        *all_tasks.definitions(config_file),
        *diagnostic_tasks.definitions(config_file),
        *lint_tasks.definitions(config_file),
        *checksum_tasks.definitions(config_file),
        *adopt_tasks.definitions(config_file),
        *plan_tasks.definitions(config_file),
        *graph_tasks.definitions(config_file),
        *local_tasks.definitions(config_file),
    ]


def assemble(task: Task, config_file: Path) -> tuple[str, Callable[..., None], dict[str, str]]:
    """The one place a task's options are put together: its own, the selection's (before --lock-wait and --env,
    where they have always been), the fleet's; the function parses what it adds and calls the body once."""
    own = [parameter for parameter in inspect.signature(task.body).parameters.values() if parameter.name not in BUILT]
    selected = [name for name in selection.DEFAULTS if task.selection and (task.selection == "all" or name != "fail_fast")]
    opened = [name for name in SESSION_DEFAULTS if task.session and (task.session == "write" or name != "lock_wait")]
    taken = {parameter.name for parameter in own} | set(opened)
    fleet = fleet_options.names(task.fleet == "sample", taken) if task.fleet else []
    at = next((i for i, parameter in enumerate(own) if parameter.name in ("lock_wait", "env")), len(own))
    defaults = {**selection.DEFAULTS, **SESSION_DEFAULTS, **fleet_options.DEFAULTS}
    added = [_parameter(name, defaults[name]) for name in [*selected, *opened, *fleet]]
    parameters = [*own[:at], *added[: len(selected)], *own[at:], *added[len(selected) :]]
    shown = {parameter.name: parameter.default for parameter in parameters}  # the defaults (a required one: empty)

    @functools.wraps(task.body)
    def run(*args: Any, **kwargs: Any) -> None:
        chosen = {name: kwargs.pop(name, fleet_options.DEFAULTS[name]) for name in fleet}
        if fleet and fleet_options.for_a_fleet(task.name, chosen):
            from . import fleet_tasks

            fleet_tasks.run(task, config_file, {**kwargs, **chosen})
            return
        from .. import replay  # imported when a task runs: `inv --list` loads neither
        from . import replayed

        changed = {name: value for name, value in kwargs.items() if value != shown.get(name)}
        key = replay.command(task.name, changed) if len(args) <= 1 else None  # args: Invoke's context alone
        if key is not None and replayed.answered(config_file, key):
            return
        noted = replay.before(config_file) if key is not None else None  # before the project is loaded
        if task.warm:
            from ..run import forkserver

            forkserver.warm_early()
        if task.selection:
            from .options import selection as parse

            picked = {name: kwargs.pop(name, selection.DEFAULTS[name]) for name in selected}
            kwargs["pick"] = parse(picked["only"], picked["exclude"], picked["jobs"], picked.get("fail_fast", False))
        if task.session:
            from . import options

            given = {name: kwargs.pop(name, SESSION_DEFAULTS[name]) for name in opened}
            kwargs["session"] = options.session(
                config_file,
                quiet=task.session == "quiet",
                lock_wait=options.seconds(given.get("lock_wait", "")),
                env=given["env"],
                verbose=given["verbose"],
            )
        if key is None:
            task.body(*args, **kwargs)
            return
        with replayed.noting(config_file, key, kwargs["session"], noted):
            task.body(*args, **kwargs)

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # Invoke and `dbtasks` read it
    helps = {**task.helps, **(LOCK if task.session == "write" else {})}
    helps.update({name: selection.HELP[name] for name in selected})
    if fleet:
        helps.update(
            {"jobs": fleet_options.HELP["jobs"], **{name.rstrip("_"): fleet_options.HELP[name.rstrip("_")] for name in fleet}}
        )
    if "env" in taken:  # every task that touches a database
        helps.update({**ENV_HELP, **VERBOSE_HELP})
    return task.name, run, helps


def _parameter(name: str, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=type(default).__name__)


def expected_failure(error: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit code of an expected failure (a task's detail lines printed first); None for a
    bug, which keeps its traceback. The only place a DbtasksError becomes what the user reads."""
    if isinstance(error, ModuleNotFoundError):  # run by an interpreter without dbtasks' dependencies
        return missing_module(error), 2
    if not isinstance(error, DbtasksError):
        return None
    detail = getattr(error, "detail", None)
    if detail:
        from .render import progress

        progress(detail)
    # One line per problem; a value inside a line (a database's error text, a file's name) cannot split it or move
    # the cursor.
    lines = getattr(error, "problems", None) or [str(error)]
    return "\n".join(printable(line) for line in lines), error.exit_code
