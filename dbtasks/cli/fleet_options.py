"""The fleet options of status and the *-all tasks (--targets, --target, --shard, --retry-failed, --connections,
--no-progress, and --sample for verify-all): added to a task's signature; given --targets or --target, the task
runs on a fleet (cli/fleet_tasks.py) instead. Imported when Invoke lists the tasks: nothing heavy here."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

HELP = {
    "targets": "run on every member of this fleet (migrations.yaml's targets:)",
    "target": "run on this one member of the fleet (with --targets, or the only fleet there is)",
    "shard": "I/N: this runner's stable share of the fleet (by a hash of each member's name), or auto (docs/fleets.md)",
    "retry_failed": "a --json report of an earlier fleet run: redo only the targets that failed or did not start",
    "connections": "the most database connections a fleet run holds at once (default: 20)",
    "no_progress": "a plain line per target instead of the live progress line (also when NO_COLOR is set)",
}
SAMPLE = {"sample": "verify on this many members of the fleet (a stable choice; default: all)"}
JSON = {"json": "with --targets: print the fleet's JSON report (for --retry-failed) instead of its summary"}
_DEFAULTS: dict[str, Any] = {
    "targets": "",
    "target": "",
    "shard": "",
    "retry_failed": "",
    "connections": "",
    "no_progress": False,
    "sample": "",
    "json_": False,
}


def fleeting(
    definition: tuple[str, Callable[..., None], dict[str, str]], config_file: Path, *, sample: bool = False
) -> tuple[str, Callable[..., None], dict[str, str]]:
    """Task definition (name, body, helps) with the fleet options added; `sample` adds --sample (verify-all)."""
    name, task, helps = definition
    own = list(inspect.signature(task).parameters.values())
    taken = {parameter.name for parameter in own}
    added = [key for key in _DEFAULTS if key not in taken and (sample or key != "sample")]

    @functools.wraps(task)
    def run(*args: Any, **kwargs: Any) -> None:
        chosen = {key: kwargs.pop(key, _DEFAULTS[key]) for key in added}
        if not (chosen.get("targets") or chosen.get("target")):
            given = [key for key in added if chosen[key] != _DEFAULTS[key]]
            if given:
                from ..errors import UsageError

                flag = "--" + given[0].rstrip("_").replace("_", "-")
                raise UsageError(f"{name}: {flag} is for a fleet; add --targets NAME (docs/fleets.md)")
            task(*args, **kwargs)
            return
        from . import fleet_tasks

        fleet_tasks.run(name, config_file, {**kwargs, **chosen})

    parameters = [
        inspect.Parameter(
            key, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=_DEFAULTS[key], annotation=type(_DEFAULTS[key]).__name__
        )
        for key in added
    ]
    run.__signature__ = inspect.Signature([*own, *parameters])  # type: ignore[attr-defined]  # Invoke reads it
    texts = {**HELP, **SAMPLE, **JSON}
    jobs = {"jobs": "how many independent services (with --targets: members) run at once (default: one per CPU)"}
    return name, run, {**helps, **jobs, **{key.rstrip("_"): texts[key.rstrip("_")] for key in added}}
