"""The task reference of docs/tasks.md, generated from the tasks themselves: `python -m dbtasks.cli.reference`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import build_db_collection


def task_reference() -> str:
    """The task reference of docs/tasks.md, generated from the tasks themselves."""
    db = build_db_collection(Path("migrations.yaml"))  # building tasks reads no file
    lines = ["| task | what it does | its own arguments |", "|---|---|---|"]
    shared: dict[str, str] = {}
    for name, task in db.tasks.items():
        summary = (task.__doc__ or "").strip().splitlines()[0]
        arguments = task.get_arguments()  # once: Invoke consumes the help dict while building them
        usage = _compact(" ".join(_usage(argument) for argument in arguments))
        own = []
        for argument in arguments:
            if str(argument.names[0]) in SHARED:
                shared.setdefault(_flag(argument), str(argument.help))
            elif argument.help:
                own.append(f"`{_flag(argument)}`: {argument.help}")
        lines.append(f"| `inv db.{name}{' ' + usage if usage else ''}` | {summary} | {'; '.join(own)} |")
    lines += [
        "",
        "The options many tasks share (`SELECTION` is `--only`, `--exclude`, `-j/--jobs` and, where shown in `--help`, `--fail-fast`;"
        " `FLEET` is `--targets`, `--target`, `--shard`, `--retry-failed`, `--connections` and `--no-progress`, see Fleets):",
        "",
    ]
    lines += [f"- `{flag}`: {text}" for flag, text in sorted(shared.items())]
    return "\n".join(lines)


def _compact(usage: str) -> str:
    """The shared options in their short forms, the selection ones as one group."""
    for long, short in (
        ("[--env ENV]", "[-e ENV]"),
        ("[--verbose]", "[-v]"),
        ("[--yes]", "[-y]"),
        ("[--lock-wait SECONDS]", "[--lock-wait S]"),
    ):
        usage = usage.replace(long, short)
    fleet = "[--targets NAME] [--target NAME] [--shard I/N] [--retry-failed REPORT] [--connections N] [--no-progress]"
    usage = usage.replace(fleet, "[FLEET]")
    group = "[--only NAMES] [--exclude NAMES] [--jobs N]"
    usage = usage.replace(f"{group} [--fail-fast]", "[SELECTION]").replace(group, "[SELECTION]")
    return usage


# Options described once below the table rather than in every row.
SHARED: tuple[str, ...] = ("env", "verbose", "lock-wait", "only", "exclude", "jobs", "fail-fast", "yes", "service")
SHARED += ("targets", "target", "shard", "retry-failed", "connections", "no-progress")  # FLEET


def _flag(argument: Any) -> str:
    name = str(argument.names[0])
    if argument.positional:
        return name.upper()
    short = [str(other) for other in argument.names[1:]]
    return f"-{short[0]}, --{name}" if short else f"--{name}"


def _usage(argument: Any) -> str:
    name = str(argument.names[0])
    if argument.positional:
        return name.upper()
    if argument.kind is bool:
        return f"[--{name}]"
    return f"[--{name} {_PLACEHOLDERS.get(name, name.upper())}]"


_PLACEHOLDERS = {
    "to": "REV",
    "from": "REV",
    "message": "MSG",
    "output": "FILE",
    "output-dir": "DIR",
    "only": "NAMES",
    "exclude": "NAMES",
    "jobs": "N",
    "junit": "FILE",
    "lock-wait": "SECONDS",
    "targets": "NAME",
    "target": "NAME",
    "shard": "I/N",
    "retry-failed": "REPORT",
    "connections": "N",
    "sample": "N",
    "accept": "REV",
}


if __name__ == "__main__":
    print(task_reference())
