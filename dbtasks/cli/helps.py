"""The help texts the tasks share (read when Invoke lists the tasks: nothing heavy is imported here)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

# The core verb a fleet runs (Session, Selection -> Report) with the task's own options bound, and, when each member
# needs its own (sql-all's folder per member), a function of the member that makes it; else None.
FleetVerbs = tuple[Callable[..., Any], "Callable[[Any], Callable[..., Any]] | None"]


class Task:
    """One task, described once: its name, its body (the options it takes of its own, `pick` when it takes the
    service selection, `session` when it runs with one), the help of each option, and which shared options it takes.
    registry.py makes from it the Invoke task and the `dbtasks` command's, their signature included, and builds the
    body's Session from --env, --verbose (and --lock-wait for a writing task); cli/fleet_tasks.py runs the verb
    `on_fleet` gives on each member of a fleet, and asks for --yes first when the task is `destructive`.
    (A plain class: making a dataclass takes 1.7 ms of every start of `inv`.)"""

    __slots__ = ("body", "destructive", "fleet", "helps", "name", "on_fleet", "selection", "session", "warm")

    def __init__(
        self,
        name: str,
        body: Callable[..., None],
        helps: dict[str, str],
        *,
        selection: str = "",  # "all": --only/--exclude/--jobs/--fail-fast; "no-fail-fast": the same without --fail-fast
        fleet: str = "",  # "targets": --targets, --target, --shard, ... (runs on a fleet when given); "sample": also --sample
        on_fleet: Callable[[dict[str, Any]], FleetVerbs] | None = None,  # the given options -> the verb a fleet runs
        destructive: bool = False,  # needs --yes (its wording: explain.DESTRUCTIVE_ALL)
        session: str = "",  # the Session registry.py hands the body: "read", "quiet" (no Alembic lines), "write"
        warm: bool = False,  # starts a worker per service in most runs: the fork server starts before the project loads
    ) -> None:
        self.name, self.body, self.helps = name, body, helps
        self.selection, self.fleet, self.on_fleet = selection, fleet, on_fleet
        self.destructive, self.session, self.warm = destructive, session, warm


Definitions = list[Task]

SERVICE = {"service": "service name from migrations.yaml"}
ENV_HELP = {"env": "environment from migrations.yaml's environments (default: $DBTASKS_ENV, else database.url_env)"}
LOCK = {"lock_wait": "seconds to wait for another run's migration lock on a version table (default: 60)"}
JSON = {"json": "print a JSON document instead of a table"}
YES = {"yes": "confirm"}
CREATE = {"create_databases": "create each database migrations.yaml names that does not exist yet (when the role may)"}
EDITED = {"allow_edited": "upgrade a protected environment even when an applied revision's file was edited (see checksums)"}
RESET_EDITED = {"allow_edited": "reset a protected environment even when an applied revision's file was edited (see checksums)"}
VERBOSE_HELP = {"verbose": "show Alembic's whole log (default: its Running upgrade/downgrade lines only)"}


def missing_module(error: ModuleNotFoundError) -> str:
    """One line for a task run by an interpreter that lacks dbtasks or one of its dependencies."""
    return (
        f"dbtasks: {error.name or error} is not installed for {sys.executable}; activate the project's venv "
        f"(. .venv/bin/activate) or install dbtasks into this interpreter "
        '(pip install /path/to/dbtasks, or pip install "git+<URL of the dbtasks repository>")'
    )
