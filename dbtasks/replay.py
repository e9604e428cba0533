"""A no-op's answer, replayed: `upgrade-all`, `status`, `current SERVICE` or `upgrade SERVICE` with nothing new to do
prints what its last run printed, after one look at the database, without loading the project or a worker (nor, for
`dbtasks`, the tasks; `inv db.*` gets there once Invoke has loaded them: cli/registry.py, cli/replayed.py).

A run is recorded (in .dbtasks/replay.json) only when every service's state came from the catalog query of the fast
path, no worker started and no lock was taken: its output then follows from the revision files, migrations.yaml, the
variables that chose the database, dbtasks' own code and the rows that query read. The replay checks each of them
first: the files' stats, the variables (each value's seal, a URL's password masked first: no value is written, and
another password reaches the same database), the entry's seal (config/seal.py), and then runs the recorded queries and
compares what they return. Any difference, or any error, and the task runs as usual (and records itself again when it
is still a no-op).

Imports only what that check needs: the standard library, the libpq client and the stat helper.
"""

from __future__ import annotations

import json
import os
import sys

from .config import seal
from .files.stamps import stats

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from .session import Session

FILE_NAME = "replay.json"
_FORMAT = 1
# The tasks a no-op may replay (each a read of the database whose output the rows and the files decide), and the
# options each may be given then: anything else, and the task runs.
REPLAYABLE = {"upgrade-all": (), "status": ("json_",), "current": ("service",), "upgrade": ("service",)}
_REQUIRED = {"current": "service", "upgrade": "service"}  # a key without it would stand for every service
_PREFIX = "DBTASKS_"  # every switch of ours (settings.py): one set or changed since, and the task runs


def command(task: str, given: dict[str, Any]) -> list[str] | None:
    """The key of a replayable run of `task` with the options `given` (those not at their default), else None."""
    allowed = REPLAYABLE.get(task)
    if allowed is None or not set(given) <= set(allowed) or _REQUIRED.get(task, "") not in ("", *given):
        return None
    if any(value is not True and not isinstance(value, str) for value in given.values()):
        return None
    return [task, *(str(given[name]) if given[name] is not True else "--json" for name in allowed if name in given)]


def command_of(argv: list[str]) -> list[str] | None:
    """The key of `dbtasks ARGV` when it is written as command() keys it (SERVICE, --json), else None."""
    if not argv:
        return None
    task, rest = argv[0].removeprefix("db."), argv[1:]
    given: dict[str, Any] = {"json_": True} if "--json" in rest else {}
    if rest.count("--json") > 1:
        return None
    rest = [arg for arg in rest if arg != "--json"]
    if len(rest) > 1 or any(arg.startswith("-") for arg in rest):
        return None
    given.update({"service": rest[0]} if rest else {})
    return command(task, given)


def answer(config_file: Path, key: list[str]) -> list[tuple[int, str]] | None:
    """What the run of command `key` printed last time ([(1 or 2, text), ...] for stdout and stderr), when it was a
    no-op and nothing it read has changed since; else None (run the task)."""
    try:
        with open(config_file.parent / ".dbtasks" / FILE_NAME, encoding="utf-8") as handle:
            entry = json.load(handle)["entries"][_key(config_file, key)]
        if not (_variables_now(entry["variables"]) == entry["variables"] and stats(entry["files"][0::2]) == entry["files"]):
            return None
        if not seal.verifies(entry, source_of(config_file) or b""):
            return None
        for variable, queries in entry["databases"]:
            if not _same_rows(os.environ[variable], queries):
                return None
        return [(int(stream), str(text)) for stream, text in entry["output"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def before(config_file: Path) -> tuple[bytes, int] | None:
    """What a run to be recorded notes before it loads the project: migrations.yaml's bytes and the time (ns);
    None when migrations.yaml cannot be read (the run says why)."""
    import time

    source = source_of(config_file)
    return None if source is None else (source, time.time_ns())


# A file changed this close to the run's start, or during it, may not be what the run read: nothing is recorded (the
# margin: a file's change time comes from a coarser clock than time.time_ns, by a clock tick at most).
_SETTLED_NS = 100_000_000


def record(config_file: Path, key: list[str], session: Session, output: list[tuple[int, str]], noted: tuple[bytes, int]) -> bool:
    """Keep `output` of the run of command `key` that `session` made, when it was a no-op a replay can prove, and
    nothing it read changed since `noted` (before(): migrations.yaml's bytes, the start); whether it was kept."""
    from .files.graph_cache import write_json

    source, started = noted
    witnessed = session.witnessed()
    inputs = _inputs(session, started - _SETTLED_NS) if witnessed is not None else None
    if witnessed is None or inputs is None or source_of(config_file) != source:
        return False
    from .worker.libpq import libpq

    databases = []
    for variable, url, queries in witnessed:
        if os.environ.get(variable) is None or libpq(os.environ[variable]) != libpq(url):
            return False  # the URL came from .env, or was rewritten: only the whole run reads it right
        databases.append([variable, [[sql, _digest(rows)] for sql, rows in queries]])
    names = {*_url_variables(session), *(name for name in os.environ if name.startswith(_PREFIX))}
    entry: dict[str, Any] = {
        "variables": _variables_now({name: None for name in names}),
        "files": inputs,
        "databases": databases,
        "output": [list(chunk) for chunk in output],
    }
    sealed = seal.seal(entry, source)
    if sealed is None:
        return False
    file = config_file.parent / ".dbtasks" / FILE_NAME
    try:
        with open(file, encoding="utf-8") as handle:
            entries = dict(json.load(handle)["entries"])
    except (OSError, ValueError, KeyError, TypeError):
        entries = {}
    name = _key(config_file, key)
    if entries.get(name, {}).get("seal") != sealed:
        entries[name] = {**entry, "seal": sealed}
        write_json(file, {"format": _FORMAT, "entries": entries})
    return True


def _url_variables(session: Session) -> list[str]:
    """The variables that choose the databases (set or not), the project's and each service's own, and those that
    found a service's `python:`."""
    from .config.cache import input_variables
    from .database.target import own_url_env

    project = session.project
    own = [own_url_env(service, session.environment) for service in project.services.values()]
    return [project.url_env, *(name for name in own if name), *input_variables(project)]


def _inputs(session: Session, settled: int) -> list[Any] | None:
    """[path, stat, ...] of what the project and its services' revision graphs (env.py too) were read from, the
    graphs' as they were read (a service the run did not read, as it is now), of .env, which a variable not set would be read from, and of dbtasks' own modules; None
    when a graph was not read through the cache (only a whole run knows what it depends on), or when a file stat'ed now
    changed after `settled` (ns): it may have changed after the run read it (a deleted one changes its folder)."""
    from .config.cache import input_paths

    project = session.project
    found = stats([*input_paths(project), str(project.root / ".env"), *_own_code()])
    if any(stat is not None and stat[2] >= settled for stat in found[1::2]):
        return None
    for service in project.services.values():
        located = session.graphs.located(service.alembic_source)  # one this run did not read: its cached stats checked
        if located is not None:
            session.graphs.graph(located[0])
        read_from = session.graphs.read_from(service.alembic_source)
        if not read_from:
            return None
        found += read_from
    session.graphs.save()
    return found


def _key(config_file: Path, key: list[str]) -> str:
    """The entry of command `key` for this migrations.yaml, by its real path (a link pointed elsewhere is another)."""
    return "\0".join([os.path.realpath(config_file), *key])


def source_of(config_file: Path) -> bytes | None:
    """migrations.yaml's bytes (which the seal covers), None when it cannot be read (the run says why)."""
    try:
        with open(config_file, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _variables_now(recorded: dict[str, Any]) -> dict[str, Any]:
    """The recorded variables as they are now, and every DBTASKS_* one set now (a new one differs): each value's
    seal, a password in it masked first (another password reaches the same database), so that none is written."""
    from .database.masking import mask

    names = {*recorded, *(name for name in os.environ if name.startswith(_PREFIX))}
    return {name: seal.seal({name: mask(os.environ[name])}, b"") if name in os.environ else None for name in sorted(names)}


def _same_rows(url: str, queries: list[list[str]]) -> bool:
    """Whether the recorded queries return what they returned when the run was recorded."""
    from .database import pg
    from .worker.libpq import libpq

    try:  # libpq's shortest wait: a server that does not answer costs the run that much more before its own wait
        with pg.connect(libpq(url), timeout=2) as connection:
            return all(_digest(connection.rows(sql)) == digest for sql, digest in queries)
    except pg.PgError:
        return False


def _digest(rows: list[tuple[str | None, ...]] | list[list[str | None]]) -> str:
    return seal.digest(json.dumps([list(row) for row in rows]).encode("utf-8"), size=16)


def _own_code() -> list[str]:
    """dbtasks' modules this process ran: a change to any of them may change what the task prints."""
    modules = list(sys.modules.items())
    return sorted(
        str(module.__file__) for name, module in modules if name.split(".")[0] == "dbtasks" and getattr(module, "__file__", None)
    )
