"""Every failure's wording: one line per kind (worker.protocol.KINDS, and the parent's own), ending with
the next step, and the exit code each kind gets."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import settings
from .errors import ServiceError
from .project import Service, display_path
from .target import Target
from .worker.protocol import KINDS, Result

# Failures that happen in the parent, around the worker.
PARENT_KINDS = ("interpreter", "worker", "locked", "scratch")
# Failures caused by what the user typed, not by the service: exit 2 like other bad input.
BAD_INPUT = frozenset(("unknown_revision", "out_of_range"))
# Modules a service interpreter must have installed; a folder of the same name is never the fix.
_REQUIREMENTS = {"alembic", "sqlalchemy", "asyncpg", "psycopg2", "greenlet", "psycopg"}


def exit_code(kind: str) -> int:
    return 2 if kind in BAD_INPUT else 1


def cannot_connect(reason: str, source: str) -> str:
    """The one wording of a refused or unreachable connection (worker, lock, scratch database)."""
    return f"cannot connect to the database ({reason}); check {source} and that the server is running"


def failure(service: Service, op: str, result: Result, target: Target) -> ServiceError:
    """The one-line error for a worker's failed result: the cause, then what to do next."""
    kind = result.get("kind", "unexpected")
    words = _WORDS.get(kind) if kind in KINDS else None
    data, message = result.get("data") or {}, result.get("message", "")
    text = (
        words(service, data, message, target)
        if words
        else f"{op} failed: {message}; rerun with DBTASKS_DEBUG=1 for the traceback"
    )
    detail = result.get("traceback") if settings.debug() else None
    return ServiceError(service.name, target.redact(text), kind=kind, detail=detail, exit_code=exit_code(kind))


def interpreter_missing(service: Service, reason: str) -> ServiceError:
    return ServiceError(
        service.name,
        f"cannot start interpreter {service.python!r} ({reason}); fix 'python' in migrations.yaml",
        kind="interpreter",
    )


def worker_silent(service: Service, code: int | None) -> ServiceError:
    return ServiceError(
        service.name,
        f"worker exited{'' if code is None else f' with code {code}'} before reporting; rerun with DBTASKS_DEBUG=1 and "
        "check the interpreter has alembic installed",
        kind="worker",
    )


def interrupted(service: Service) -> ServiceError:
    return ServiceError(
        service.name,
        "interrupted; the migration in progress was rolled back (each runs in its own transaction); rerun to continue",
        kind="interrupted",
    )


def stays_at(data: dict[str, Any]) -> str:
    return revisions(data["reached"]) if "reached" in data else "its previous revision"


def revisions(values: Iterable[str] | None) -> str:
    found = list(values or [])
    return ", ".join(found) if found else "base (nothing applied)"


Words = Callable[[Service, dict[str, Any], str, Target], str]


def _ini(service: Service) -> str:
    return display_path(service.alembic_ini)


def _version_table(service: Service, data: dict[str, Any]) -> str:
    found = data.get("found")
    if data.get("explicit"):
        return (
            f"env.py keeps alembic_version in schema {found!r}, but migrations.yaml says the service owns "
            f"{service.schema!r}; fix 'schema' in migrations.yaml"
        )
    return (
        f"env.py keeps alembic_version in schema {found!r}, not in {service.schema!r}; pass "
        f"version_table_schema={service.schema!r} to context.configure (services sharing one version table "
        f"overwrite each other's revision)"
    )


def _import(service: Service, module: str, message: str) -> str:
    """A missing module of the service's own code needs a path; anything else needs installing."""
    top = module.split(".")[0]
    if top and top not in _REQUIREMENTS and _is_local_package(service, top):
        return (
            f"env.py cannot import {module!r} ({message}); add the folder holding {top!r} to 'pythonpath' "
            f"in migrations.yaml or to 'prepend_sys_path' in {_ini(service)}"
        )
    what = repr(module) if module else "a dependency"
    interpreter = service.python or sys.executable
    return f"env.py cannot import {what} ({message}); install it in {interpreter} or set 'python' in migrations.yaml"


def _is_local_package(service: Service, top: str) -> bool:
    roots = [service.path, *service.path.iterdir()] if service.path.is_dir() else []
    return any((root / top / "__init__.py").is_file() or (root / f"{top}.py").is_file() for root in roots if root.is_dir())


def _during(data: dict[str, Any]) -> str:
    return f" during migration {data['revision']}" if data.get("revision") else ""


_WORDS: dict[str, Words] = {
    "multiple_heads": lambda s, d, m, t: (
        f"multiple heads ({', '.join(d.get('heads') or []) or 'see history'}); "
        f"run 'inv db.merge {s.name}' to merge them, then upgrade"
    ),
    "unknown_revision": lambda s, d, m, t: (
        f"no revision {d.get('revision')!r} in {_ini(s)}'s migrations; run 'inv db.history {s.name}' for the known ones"
    ),
    "out_of_range": lambda s, d, m, t: (
        f"{d.get('revision')} goes past the first or last revision; run 'inv db.current {s.name}' and "
        f"'inv db.history {s.name}' to pick a target"
    ),
    "unknown_database_revision": lambda s, d, m, t: (
        f"the database is at revision {d.get('revision')!r}, which no migration file defines; "
        f"restore the missing file, or run 'inv db.stamp {s.name} REV --yes' with the revision the schema really is at"
    ),
    "not_at_head": lambda s, d, m, t: (
        f"database is at {revisions(d.get('current'))}, head is {d.get('head') or 'base'}; run 'inv db.upgrade {s.name}' first"
    ),
    "broken_chain": lambda s, d, m, t: (
        f"{display_path(Path(d.get('path', '')))} declares down_revision {d.get('missing')!r}, which no file "
        f"defines; fix that file's down_revision (see 'inv db.history {s.name}')"
    ),
    "history": lambda s, d, m, t: f"cannot read the migration files: {m}; fix them, then run 'inv db.history {s.name}'",
    "import": lambda s, d, m, t: _import(s, d.get("module") or "", m),
    "connect": lambda s, d, m, t: cannot_connect(m, t.source),
    "connection_lost": lambda s, d, m, t: (
        f"lost the connection to the database{_during(d)} ({m}); the server rolls back the migration in "
        f"progress, so the service stays at {stays_at(d)}; check that the server is up, then rerun"
    ),
    "migration": lambda s, d, m, t: (
        f"migration {d.get('revision')} failed: {m}; rolled back, the service stays at {stays_at(d)}; fix the migration and rerun"
    ),
    "nothing_to_merge": lambda s, d, m, t: "there is only one head; nothing to merge",
    "post_write": lambda s, d, m, t: (
        f"the migration was written to {display_path(Path(d.get('path', '')))} but alembic.ini's post-write hook "
        f"failed ({m}); fix [post_write_hooks] in {_ini(s)} or format the file yourself, then review it"
    ),
    "version_table": lambda s, d, m, t: _version_table(s, d),
    "wrong_database": lambda s, d, m, t: (
        f"env.py connected to {d.get('actual')}, not to {d.get('expected')}; make env.py read "
        f"{s.url_env} or set 'url_env' in migrations.yaml to the variable it reads"
    ),
    "schema_mismatch": lambda s, d, m, t: (
        f"the models' tables are in {', '.join(d.get('found') or [])}, none in {s.schema!r}; "
        f"fix 'schema' in migrations.yaml or the models' schema"
    ),
    "interrupted": lambda s, d, m, t: (
        "interrupted; the migration in progress was rolled back (each runs in its own transaction), the service "
        f"stays at {stays_at(d)}; rerun to continue"
    ),
    "command": lambda s, d, m, t: f"alembic: {m}; see 'inv db.history {s.name}' and 'inv db.current {s.name}'",
}
