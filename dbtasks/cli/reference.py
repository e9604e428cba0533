"""The README's task reference, generated from the tasks themselves: `python -m dbtasks.cli.reference`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import build_db_collection


def task_reference() -> str:
    """The README's task reference (a Markdown table), generated from the tasks themselves."""
    db = build_db_collection(Path("migrations.yaml"))  # building tasks reads no file
    lines = ["| task | what it does | arguments |", "|---|---|---|"]
    for name, task in db.tasks.items():
        summary = (task.__doc__ or "").strip().splitlines()[0]
        arguments = task.get_arguments()  # once: Invoke consumes the help dict while building them
        usage = " ".join(_usage(argument) for argument in arguments)
        helps = "; ".join(f"`{_flag(argument)}`: {argument.help}" for argument in arguments if argument.help)
        lines.append(f"| `inv db.{name}{' ' + usage if usage else ''}` | {summary} | {helps} |")
    return "\n".join(lines)


def _flag(argument: Any) -> str:
    name = str(argument.names[0])
    return name.upper() if argument.positional else f"--{name}"


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
}


if __name__ == "__main__":
    print(task_reference())
