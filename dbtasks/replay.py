"""A no-op's answer, replayed: `dbtasks upgrade-all` (or `status`) with nothing to do prints what its last run printed,
after one look at the database, without loading the project, the tasks or a worker.

A run is recorded (in .dbtasks/replay.json) only when every service's state came from the catalog query of the fast
path, no worker started and no lock was taken: its output then follows from the revision files, migrations.yaml, the
variables that chose the database, dbtasks' own code and the rows that query read. The replay checks each of them
first: the files' stats, the variables (a URL's password left out: none is written; another password reaches the same
database), the entry's seal (config/seal.py), and then runs the recorded queries and compares what they return. Any
difference, or any error, and the task runs as usual (and records itself again when it is still a no-op).

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
# The command lines a no-op may replay: a read of the database, whose output the rows and the files decide.
REPLAYABLE = (("upgrade-all",), ("status",), ("status", "--json"))
_PREFIX = "DBTASKS_"  # every switch of ours (settings.py): one set or changed since, and the task runs


def answer(config_file: Path, argv: list[str]) -> list[tuple[int, str]] | None:
    """What `dbtasks ARGV` printed last time ([(1 or 2, text), ...] for stdout and stderr), when it was a no-op and
    nothing it read has changed since; else None (run the task)."""
    if tuple(argv) not in REPLAYABLE:
        return None
    try:
        with open(config_file.parent / ".dbtasks" / FILE_NAME, encoding="utf-8") as handle:
            entry = json.load(handle)["entries"][_key(config_file, argv)]
        if not (_variables_now(entry["variables"]) == entry["variables"] and stats(entry["files"][0::2]) == entry["files"]):
            return None
        if not seal.verifies(entry, _source(config_file)):
            return None
        for variable, queries in entry["databases"]:
            if not _same_rows(os.environ[variable], queries):
                return None
        return [(int(stream), str(text)) for stream, text in entry["output"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def record(config_file: Path, argv: list[str], session: Session, output: list[tuple[int, str]], source: bytes) -> bool:
    """Keep `output` of the run of `argv` that `session` made, when it was a no-op a replay can prove, and migrations.yaml
    still holds `source` (its bytes before the run); whether it was kept."""
    from .files.graph_cache import write_json

    witnessed = session.witnessed() if tuple(argv) in REPLAYABLE else None
    inputs = session.inputs() if witnessed is not None else None
    if witnessed is None or inputs is None or _source(config_file) != source:
        return False
    databases = []
    for variable, url, queries in witnessed:
        from .worker.libpq import libpq

        if os.environ.get(variable) is None or libpq(os.environ[variable]) != libpq(url):
            return False  # the URL came from .env, or was rewritten: only the whole run reads it right
        databases.append([variable, [[sql, _digest(rows)] for sql, rows in queries]])
    names = {*session.url_variables(), *(name for name in os.environ if name.startswith(_PREFIX))}
    entry: dict[str, Any] = {
        "variables": _variables_now({name: None for name in names}),
        "files": [*inputs, *stats(_own_code())],
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
    key = _key(config_file, argv)
    if entries.get(key, {}).get("seal") != sealed:
        entries[key] = {**entry, "seal": sealed}
        write_json(file, {"format": _FORMAT, "entries": entries})
    return True


def _key(config_file: Path, argv: list[str]) -> str:
    return "\0".join([str(config_file), *argv])


def _source(config_file: Path) -> bytes:
    with open(config_file, "rb") as handle:
        return handle.read()


def _variables_now(recorded: dict[str, Any]) -> dict[str, Any]:
    """The recorded variables as they are now, passwords masked, and every DBTASKS_* one set now (a new one differs)."""
    from .database.urls import mask

    names = {*recorded, *(name for name in os.environ if name.startswith(_PREFIX))}
    return {name: mask(os.environ[name]) if name in os.environ else None for name in sorted(names)}


def _same_rows(url: str, queries: list[list[str]]) -> bool:
    """Whether the recorded queries return what they returned when the run was recorded."""
    from .database import pg
    from .worker.libpq import libpq

    try:
        with pg.connect(libpq(url)) as connection:
            return all(_digest(connection.rows(sql)) == digest for sql, digest in queries)
    except pg.PgError:
        return False


def _digest(rows: list[tuple[str | None, ...]] | list[list[str | None]]) -> str:
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - an interpreter without the built-in module
        from hashlib import blake2b
    return blake2b(json.dumps([list(row) for row in rows]).encode("utf-8"), digest_size=16).hexdigest()


def _own_code() -> list[str]:
    """dbtasks' modules this process ran: a change to any of them may change what the task prints."""
    modules = list(sys.modules.items())
    return sorted(
        str(module.__file__) for name, module in modules if name.split(".")[0] == "dbtasks" and getattr(module, "__file__", None)
    )
