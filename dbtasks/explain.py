"""Every failure's wording: one line per kind (worker.protocol.KINDS, and the parent's own), ending with
the next step, and the exit code each kind gets."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import settings
from .config.project import Service, closest, display_path
from .database.target import Target, where
from .errors import ServiceError, printable
from .settings import CONNECT_TIMEOUT
from .worker.libpq import libpq
from .worker.protocol import KINDS, Result

Emit = Callable[[str], None]  # where lines go: a line at a time

# Failures that happen in the parent, around the worker.
PARENT_KINDS = ("interpreter", "worker", "locked", "lock_lost", "scratch")
# Failures caused by what the user typed, not by the service: exit 2 like other bad input.
BAD_INPUT = frozenset(("unknown_revision", "out_of_range", "not_applied"))
# Modules a service interpreter must have installed; a folder of the same name is never the fix.
_REQUIREMENTS = {"alembic", "sqlalchemy", "asyncpg", "psycopg2", "greenlet", "psycopg"}


def exit_code(kind: str) -> int:
    return 2 if kind in BAD_INPUT else 1


def cannot_connect(reason: str, source: str) -> str:
    """The one wording of a refused or unreachable connection (worker, lock, scratch database)."""
    return _TEMPLATES["connect"].format(message=reason, source=source)


def refused(target: Target, reason: str) -> str:
    """A connection to `target` that failed: a database the server lacks said as a run of several services says it
    (connect_problem), anything else as cannot_connect; secrets hidden."""
    if missing_database(reason) and target.url:
        return target.redact(connect_problem(target, quoted(reason)))
    return target.redact(cannot_connect(quoted(reason), target.source))


def failure(service: Service, op: str, result: Result, target: Target) -> ServiceError:
    """The one-line error for a worker's failed result: the cause, then what to do next."""
    kind = result.get("kind", "unexpected")
    data, message = result.get("data") or {}, result.get("message", "")
    text = _words(kind, service, data, message, target) if kind in KINDS else None
    if text is None:
        text = f"{op} failed: {message}; rerun with DBTASKS_DEBUG=1 for the traceback"
    detail = result.get("traceback") if settings.debug() else None
    return ServiceError(service.name, target.redact(text), kind=kind, detail=detail, exit_code=exit_code(kind))


def interpreter_missing(service: Service, python: str, reason: str) -> ServiceError:
    where = "fix 'python' in migrations.yaml" if service.python else "check the interpreter dbtasks runs with"
    return ServiceError(service.name, f"cannot start interpreter {python!r} ({reason}); {where}", kind="interpreter")


def not_a_worker(service: Service, code: int) -> ServiceError:
    return ServiceError(
        service.name,
        f"not a Python interpreter with dbtasks' worker: {service.python} (it did not answer '--probe', exit code {code}); "
        "point 'python' in migrations.yaml at the service's Python 3.8+ (its venv's bin/python)",
        kind="interpreter",
    )


def worker_silent(service: Service, code: int | None) -> ServiceError:
    if code is not None and code < 0:
        return ServiceError(
            service.name,
            f"the worker process was killed (signal {-code}) before reporting; the server rolls back the migration in "
            f"progress (each runs in its own transaction); run 'inv db.status {service.name}', then rerun",
            kind="worker",
        )
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


# What each destructive task over every selected service does, as it asks for --yes (on one database or a fleet).
DESTRUCTIVE_ALL = {
    "downgrade-all": "downgrading every selected service may drop data",
    "stamp-all": "stamp rewrites every selected service's recorded revision",
    "reset-all": "reset drops every selected service's tables and data",
}


def edited_advice(name: str, edited: list[dict[str, Any]], revision: str = "REV") -> str:
    """The line for applied revisions whose file was edited since, with the command that accepts `revision`."""
    return (
        f"{name}: {edited_files(edited)} after it was applied; restore the file, or review the change and run "
        f"'inv db.checksums {name} --accept {printable(revision)}'"
    )


def edited_files(edited: Iterable[dict[str, Any]]) -> str:
    """'revision 1a2b (alembic/versions/1a2b_x.py) was edited', or 'revisions 1a2b (...), 3c4d (...) were edited'."""
    found = [printable(f"{entry['revision']} ({entry.get('file') or 'no file'})") for entry in edited]
    if any(entry.get("unrecorded") for entry in edited):  # its checksum row was deleted: an edit cannot be ruled out
        return (
            f"revision {found[0]} lost its recorded checksum (so it may have been edited)"
            if len(found) == 1
            else (f"revisions {', '.join(found)} were edited or lost their recorded checksum")
        )
    return f"revision {found[0]} was edited" if len(found) == 1 else f"revisions {', '.join(found)} were edited"


def _ini(service: Service) -> str:
    return display_path(service.alembic_ini)


def _version_table(service: Service, data: dict[str, Any]) -> str:
    found, expected = str(data.get("found")), str(data.get("expected"))
    found_schema, expected_schema = found.split(".")[0], expected.split(".")[0]
    declare = f"services.{service.name}.version_table: {found} in migrations.yaml if that table is the service's own"
    if data.get("explicit") and found_schema not in service.owned_schemas:
        return (
            f"env.py keeps its version table in schema {found_schema!r} ({found}), but migrations.yaml says the service "
            f"owns {service.schema!r}; fix 'schema' in migrations.yaml, or declare {declare}"
        )
    if found_schema != expected_schema and not data.get("explicit"):  # env.py passes none: dbtasks can hand it over
        return (
            f"env.py passes no version_table_schema, so its version table goes to {found}, not to {expected}; declare "
            f"services.{service.name}.version_table: {expected} in migrations.yaml (dbtasks then hands it to env.py), "
            f"and for plain alembic pass version_table_schema={expected_schema!r} to context.configure in env.py"
        )
    if found_schema != expected_schema:
        return (
            f"env.py keeps its version table in schema {found_schema!r} ({found}), not in {expected}; pass "
            f"version_table_schema={expected_schema!r} to context.configure in env.py, or declare {declare} "
            f"(services sharing one version table overwrite each other's revision)"
        )
    return (
        f"env.py keeps its version table in {found}, but migrations.yaml expects {expected}; declare {declare} "
        f"(services sharing one version table overwrite each other's revision)"
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


# One line per kind: the cause, then the next step. The fields are filled by _fields(); "import" and
# "version_table" depend on more than the data and have functions of their own.
_TEMPLATES = {
    "multiple_heads": "multiple heads ({heads}); run 'inv db.merge {name}' to merge them, then upgrade",
    "unknown_revision": "no revision {revision!r} in {ini}'s migrations; run 'inv db.history {name}' for the known ones",
    "out_of_range": "{revision} goes past the first or last revision; run 'inv db.current {name}' and 'inv db.history {name}' to pick a target",
    "unknown_database_revision": (
        "the database is at revision {revision!r}, which no migration file of {name} defines; if another service's "
        "files do (plain Alembic kept both in one table), 'inv db.adopt' says whose it is and moves it; else restore "
        "the missing file, or run 'inv db.stamp {name} REV --yes' with the revision the schema really is at"
    ),
    "not_at_head": "database is at {current}, head is {head}; run 'inv db.upgrade {name}' first",
    "broken_chain": "{path} declares down_revision {missing!r}, which no file defines; fix that file's down_revision (see 'inv db.history {name}')",
    "history": "cannot read the migration files: {message}; fix them, then run 'inv db.history {name}'",
    "extension_missing": (
        "the server has no extension {extension!r} (migrations.yaml's extensions); install it on the server (its "
        "package: postgresql-contrib, postgis, pgvector, ...), then rerun"
    ),
    "extension_denied": (
        "cannot create extension {extension!r} ({message}); ask a superuser or the database's owner to run "
        "'CREATE EXTENSION IF NOT EXISTS \"{extension}\"' in this database, then rerun"
    ),
    "bootstrap_metadata": (
        "bootstrap's metadata {spec!r} cannot be loaded ({message}); point bootstrap.metadata in migrations.yaml at the "
        "models' MetaData (module:Base.metadata, importable from the service's folder)"
    ),
    "bootstrap_import": (
        "importing {module!r}, where bootstrap's metadata lives, failed ({message}); it must import in the service's "
        "interpreter, as env.py's models do: fix the module or that interpreter's packages, then rerun"
    ),
    "bootstrap_occupied": (
        "bootstrap builds an empty database only, and {tables} exist with no revision recorded: nothing was changed; "
        "drop them and rerun, or let 'inv db.adopt --service {name}' find the revision they are and record it"
    ),
    "prepare": "prepare file {file} failed: {message}; rolled back, nothing was migrated: fix the file and rerun",
    "alembic_too_old": (
        "{file} configures Alembic in [tool.alembic], which needs Alembic 1.16 or later, and this interpreter has "
        "Alembic {version}; upgrade Alembic in {name}'s environment (pip install 'alembic>=1.16')"
    ),
    "connect": "cannot connect to the database ({message}); check {source} and that the server is running",
    "connection_lost": (
        "lost the connection to the database{during} ({message}); the server rolls back the migration in progress, "
        "so the service stays at {stays}; check that the server is up, then rerun"
    ),
    "lock_lost": (
        "the migration lock's session was ended by the server ({message}); the run may have overlapped another: "
        "run 'inv db.status' to see where each service stands, then rerun"
    ),
    "migration": "migration {revision} failed: {message}; rolled back, the service stays at {stays}; fix the migration and rerun",
    "nothing_to_merge": "there is only one head; nothing to merge",
    "post_write": (
        "the migration was written to {path} but alembic.ini's post-write hook failed ({message}); "
        "fix [post_write_hooks] in {ini} or format the file yourself, then review it"
    ),
    "wrong_database": "env.py connected to {actual}, not to {expected}; make env.py read {url_env} or set 'url_env' in migrations.yaml to the variable it reads",
    "schema_mismatch": "the models' tables are in {found}, none in {schema!r}; fix 'schema' in migrations.yaml or the models' schema",
    "no_models": (
        "env.py passes no target_metadata, so there are no models to generate from; write the migration by hand: "
        'inv db.generate {name} -m "..." --empty'
    ),
    "interrupted": (
        "interrupted; the migration in progress was rolled back (each runs in its own transaction), "
        "the service stays at {stays}; rerun to continue"
    ),
    "command": "alembic: {message}; see 'inv db.history {name}' and 'inv db.current {name}'",
    "edited": (
        "{edited} after it was applied, and the environment is protected: nothing was upgraded; restore the file, "
        "or review the change and run 'inv db.checksums {name} --accept {revision} --yes', or rerun with --allow-edited"
    ),
    "checksum_table": (
        "cannot record the checksum of {revision} in {table} ({message}); rolled back, the service stays at {stays}; "
        "mend the table (ALTER TABLE {table} ADD PRIMARY KEY (version_table, revision)), or drop it to have it made anew "
        "(the revisions applied before then show as unknown), then rerun"
    ),
    "not_applied": (
        "revision {revision} is not applied (the database is at {current}): there is no checksum to accept; "
        "run 'inv db.checksums {name}' for the applied ones"
    ),
}


def _words(kind: str, service: Service, data: dict[str, Any], message: str, target: Target) -> str | None:
    if kind == "connect":
        return refused(target, message)
    if kind == "import":
        return _import(service, data.get("module") or "", message)
    if kind == "wrong_database" and data.get("overridden"):
        return (
            f"env.py's connection reached {data.get('actual')}, although the URL handed to it in {service.url_env} names "
            f"{data.get('expected')}: its engine overrides the database (connect_args, or a URL its driver reads "
            f"differently); let env.py connect with the URL as handed"
        )
    if kind == "version_table":
        return _version_table(service, data)
    if kind == "migration" and "already exists" in message and "reached" in data and not data["reached"]:
        return (
            f"migration {data.get('revision')} failed: {message}; rolled back, the service stays at base: its tables "
            f"exist but no revision is recorded (created before Alembic, left by stamp base, or recorded by plain Alembic "
            f"in another version table): 'inv db.adopt --service {service.name}' finds the revision they are and records "
            f"it, else drop them or fix the migration"
        )
    template = _TEMPLATES.get(kind)
    return template.format(**_fields(service, data, message, target)) if template else None


def _fields(service: Service, data: dict[str, Any], message: str, target: Target) -> dict[str, Any]:
    return {
        "name": service.name,
        "schema": service.schema,
        "url_env": service.url_env,
        "ini": _ini(service),
        "message": quoted(message),
        "source": target.source,
        "revision": data.get("revision"),
        "heads": ", ".join(data.get("heads") or []) or "see history",
        "current": revisions(data.get("current")),
        "head": data.get("head") or "base",
        "path": display_path(Path(data.get("path", ""))),
        "missing": data.get("missing"),
        "actual": data.get("actual"),
        "expected": data.get("expected"),
        "found": ", ".join(data.get("found") or []),
        "table": data.get("table"),
        "stays": stays_at(data),
        "during": f" during migration {data['revision']}" if data.get("revision") else "",
        "edited": edited_files(data.get("edited") or []),
        "file": display_path(Path(data.get("file", ""))),
        "version": data.get("version"),
        "extension": data.get("extension"),
        "spec": data.get("spec"),
        "module": data.get("module"),
        "tables": ", ".join(data.get("tables") or []),
    }


def quoted(text: str) -> str:
    """Another program's words inside one of ours: its own sentence end dropped ("configuration.; fix them" would
    read as two sentences glued), its whitespace made single spaces."""
    return " ".join(text.split()).rstrip(" .;:") or text


# -- a connection that failed ----------------------------------------------------------------------------


CREATE_HINT = "let 'inv db.upgrade-all --create-databases' create it, "  # where that option may run (Session.create_hint)


def missing_database(reason: str) -> bool:
    """Whether a connection failed because the server has no database of the name asked for."""
    return bool(re.search(r'database "[^"]*" does not exist', reason))


def missing_databases(names: list[tuple[str, str]], create_hint: str) -> str:
    """One line for several databases a run needs that their servers lack ((name, host:port) each)."""
    listed = ", ".join(f"{name!r} on {server}" for name, server in names)
    hint = create_hint.replace("create it", "create them")
    return (
        f"{len(names)} databases do not exist: {listed}; create them (CREATE DATABASE ...), {hint}or fix their names in "
        "migrations.yaml"
    )


def connect_problem(target: Target, reason: str, create_hint: str = "") -> str:
    """One message per way a connection fails, naming host:port/dbname and the variable to fix (`create_hint`: how a
    missing database gets created by us, where that works)."""
    assert target.url is not None
    (host, port, database), source = where(target.url), target.source
    user = urlsplit(target.url).username or "(default user)"
    if "could not translate host name" in reason or "Name or service not known" in reason:
        return f"host {host!r} does not resolve (DNS): fix the host name in {source}, or check your network or VPN"
    if "Connection refused" in reason:
        return (
            f"nothing listens on {host}:{port} (connection refused): start the server (e.g. 'docker compose up -d') "
            f"or fix the host and port in {source}"
        )
    if "authentication failed" in reason or re.search(r'role "[^"]*" does not exist', reason):
        return f"authentication failed for user {user!r} on {host}:{port}: the user or password in {source} is wrong"
    if missing_database(reason):
        return (
            f'database {database!r} does not exist on {host}:{port}: create it (CREATE DATABASE "{database}"), '
            f"{create_hint}or fix the database name in {source}{_close_databases(target, database)}"
        )
    if "timeout expired" in reason:
        return (
            f"no answer from {host}:{port} within {CONNECT_TIMEOUT} s (timeout): check the host and port in {source}, "
            f"a firewall, or the VPN"
        )
    if "does not support SSL" in reason:
        return f"{host}:{port} does not accept SSL, but {source} requires it: set sslmode=disable or prefer in the URL"
    return cannot_connect(f"{host}:{port}/{database}: {reason}", source)


def _close_databases(target: Target, wanted: str) -> str:
    """'; did you mean ...?' from the server's databases, read through its maintenance database."""
    import psycopg2

    assert target.url is not None
    parts = urlsplit(libpq(target.url))
    maintenance = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    try:
        connection = psycopg2.connect(maintenance, connect_timeout=CONNECT_TIMEOUT)
    except psycopg2.Error:
        return ""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE NOT datistemplate")
            names = [str(row[0]) for row in cursor.fetchall()]
    finally:
        connection.close()
    close = closest(wanted, names)
    return f"; did you mean {close[0]!r}?" if close else ""
