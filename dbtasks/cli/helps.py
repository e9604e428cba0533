"""The help texts the tasks share (read when Invoke lists the tasks: nothing heavy is imported here)."""

from __future__ import annotations

from collections.abc import Callable

# (task name, body, help per parameter)
Definitions = list[tuple[str, Callable[..., None], dict[str, str]]]

SERVICE = {"service": "service name from migrations.yaml"}
ENV_HELP = {"env": "environment from migrations.yaml's environments (default: $DBTASKS_ENV, else database.url_env)"}
LOCK = {"lock_wait": "seconds to wait for another run's migration lock on a schema (default: 60)"}
JSON = {"json": "print a JSON document instead of a table"}
YES = {"yes": "confirm"}
