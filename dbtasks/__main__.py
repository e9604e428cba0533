"""`dbtasks` (and `python -m dbtasks`): the commands that are not Invoke tasks, one module each, and every `db` task
without Invoke (`dbtasks upgrade-all` = `inv db.upgrade-all`: cli/direct.py).

Each command's module has `main(argv) -> int` (the exit code); it is imported only when that command runs.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

# command -> (module with main(argv), one line of help)
COMMANDS = {
    "init": ("dbtasks.cli.init_command", "write migrations.yaml and tasks.py for the Alembic services under this folder"),
    "check-files": ("dbtasks.cli.offline", "check every service's migration files, without a database (pre-commit)"),
    "complete": ("dbtasks.cli.complete", "print the service names of migrations.yaml that start with WORD (completion)"),
}


def usage() -> str:
    lines = ["usage: dbtasks TASK [ARGS]     a db task without Invoke: dbtasks upgrade-all = inv db.upgrade-all"]
    lines += ["       dbtasks --list          the tasks", "       dbtasks COMMAND [ARGS]", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def _replayed(args: list[str]) -> int | None:
    """The exit code of a no-op answered by replay.py (its output written), else None."""
    from . import replay
    from .settings import find_config

    config_file = find_config(Path.cwd())
    said = replay.answer(config_file, [args[0].removeprefix("db."), *args[1:]]) if config_file is not None else None
    if said is None:
        return None
    try:
        for stream, text in said:
            (sys.stdout if stream == 1 else sys.stderr).write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `dbtasks status | head`: the reader left, which is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name = args[0]
    if name not in COMMANDS:
        replayed = _replayed(args)
        if replayed is not None:
            return replayed
        from .cli import direct

        return direct.run(args)
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
