"""`dbtasks` (and `python -m dbtasks`): the commands that are not Invoke tasks, one module each, and every `db` task
without Invoke (`dbtasks upgrade-all` = `inv db.upgrade-all`: cli/direct.py).

Each command's module has `main(argv) -> int` (the exit code); it is imported only when that command runs.
"""

from __future__ import annotations

import importlib
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


def _replayed(args: list[str]) -> bool:
    """Whether a no-op's last output answered `dbtasks ARGS` (replay.py): one look at the database, no task loaded."""
    from . import replay
    from .cli import replayed
    from .settings import find_config

    key = replay.command_of(args)
    config_file = find_config(Path.cwd()) if key is not None else None
    return key is not None and config_file is not None and replayed.answered(config_file, key, remember=True)


def main(argv: list[str] | None = None) -> int:
    from .cli import freeze_at_exit

    freeze_at_exit()
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name = args[0]
    if name not in COMMANDS:
        if _replayed(args):
            return 0
        from .cli import direct, replayed

        try:
            return direct.run(args)
        finally:
            replayed.looked.clear()
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
