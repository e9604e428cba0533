"""Run one Alembic operation for one service in its own worker process, and explain its failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import forkserver
from .config import Service, display_path
from .errors import ServiceError
from .urls import OFFLINE_URL, mask, normalize

WORKER = Path(__file__).with_name("worker.py")
Emit = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """Where a run goes: the database URL (None for offline SQL) and the strings to hide from output."""

    url: str | None
    secrets: tuple[str, ...] = ()
    source: str = "DATABASE_URL"  # where the URL came from, for messages

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return mask(text)

    def redact_values(self, value: Any) -> Any:
        """Mask every string inside a decoded JSON value (keys and structure stay intact)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_values(item) for item in value]
        if isinstance(value, dict):
            return {key: self.redact_values(item) for key, item in value.items()}
        return value


def run(
    service: Service, op: str, target: Target, emit: Emit, *, settings: dict[str, str] | None = None, **args: Any
) -> dict[str, Any]:
    """Run `op` for `service` in a worker; return its data or raise ServiceError with the next step.

    `settings` (statement_timeout, lock_timeout) are set for every transaction env.py's connection runs.
    """
    request = {
        "op": op,
        "service": service.name,
        "settings": settings or {},
        "args": args,
        "ini": str(service.alembic_ini),
        "schema": service.schema,
        "url_env": service.url_env,
        "pythonpath": [str(path) for path in service.pythonpath],
    }
    payload = _spawn(service, request, target, emit)
    if payload.get("ok"):
        return dict(payload["data"] or {})
    raise explain(service, op, args, payload, target)


def _environment(service: Service, target: Target) -> dict[str, str]:
    env = dict(os.environ)
    env.update(service.env)
    env[service.url_env] = normalize(target.url or OFFLINE_URL, service.driver)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONSAFEPATH", None)  # the service folder must stay importable (prepend_sys_path = .)
    return env


def _spawn(service: Service, request: dict[str, Any], target: Target, emit: Emit) -> dict[str, Any]:
    read_fd, write_fd = os.pipe()
    request["result_fd"] = write_fd
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(read_fd, chunks), daemon=True)
    reader.start()
    python, env = service.python or sys.executable, _environment(service, target)
    server = forkserver.server_for(python, WORKER) if forkserver.enabled(service.env) else None
    try:
        process: subprocess.Popen[bytes] | forkserver.Forked = (
            server.fork(request, service.path, env, write_fd)
            if server is not None
            else subprocess.Popen(
                [python, str(WORKER)],
                cwd=service.path,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
            )
        )
    except OSError as error:
        os.close(write_fd)
        reader.join()
        raise ServiceError(
            service.name,
            f"cannot start interpreter {service.python!r} ({error.strerror}); fix 'python' in migrations.yaml",
            kind="interpreter",
        ) from None
    os.close(write_fd)
    assert process.stdin is not None and process.stdout is not None
    # stdin stays open until the worker is done: if this process dies, the worker sees end of file and stops.
    process.stdin.write(json.dumps(request).encode() + b"\n")
    process.stdin.flush()
    try:
        for raw in process.stdout:
            emit(target.redact(raw.decode("utf-8", "replace").rstrip("\n")))
        code = process.wait()
    except KeyboardInterrupt:
        _stop(process)
        reader.join()
        process.stdin.close()
        raise ServiceError(
            service.name,
            "interrupted; the migration in progress was rolled back (each runs in its own transaction); rerun to continue",
            kind="interrupted",
        ) from None
    reader.join()
    process.stdin.close()
    body = b"".join(chunks)
    if not body:
        raise ServiceError(
            service.name,
            f"worker exited{'' if code is None else f' with code {code}'} before reporting; rerun with DBTASKS_DEBUG=1 and "
            "check the interpreter has alembic installed",
            kind="worker",
        )
    return dict(target.redact_values(json.loads(body.decode("utf-8"))))


def _stop(process: subprocess.Popen[bytes] | forkserver.Forked) -> None:
    """Let an interrupted worker roll back and exit (a terminal's Ctrl-C reaches it too; a signal to us alone does not)."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()  # the server rolls back the open transaction of a connection that goes away
        process.wait()


def _drain(fd: int, chunks: list[bytes]) -> None:
    with os.fdopen(fd, "rb") as stream:
        chunks.append(stream.read())


def explain(service: Service, op: str, args: dict[str, Any], payload: dict[str, Any], target: Target) -> ServiceError:
    """Build the one-line message for a failed worker run: the cause, then what to do next."""
    name = service.name
    kind = payload.get("kind", "unexpected")
    data = payload.get("data") or {}
    message = payload.get("message", "")
    ini = display_path(service.alembic_ini)
    builders: dict[str, Callable[[], str]] = {
        "multiple_heads": lambda: (
            f"multiple heads ({', '.join(data.get('heads') or []) or 'see history'}); "
            f"run 'inv db.merge {name}' to merge them, then upgrade"
        ),
        "unknown_revision": lambda: (
            f"no revision {data.get('revision')!r} in {ini}'s migrations; run 'inv db.history {name}' for the known ones"
        ),
        "unknown_database_revision": lambda: (
            f"the database is at revision {data.get('revision')!r}, which no migration file defines; "
            f"restore the missing file, or run 'inv db.stamp {name} REV --yes' with the revision the schema really is at"
        ),
        "not_at_head": lambda: (
            f"database is at {_revisions(data.get('current'))}, head is {data.get('head') or 'base'}; "
            f"run 'inv db.upgrade {name}' first"
        ),
        "broken_chain": lambda: (
            f"{display_path(Path(data.get('path', '')))} declares down_revision {data.get('missing')!r}, which no file "
            f"defines; fix that file's down_revision (see 'inv db.history {name}')"
        ),
        "history": lambda: f"cannot read the migration files: {message}; fix them, then run 'inv db.history {name}'",
        "import": lambda: _import_hint(service, data.get("module") or "", message, ini),
        "connect": lambda: f"cannot connect to the database ({message}); check {target.source} and that the server is running",
        "connection_lost": lambda: (
            f"lost the connection to the database{_during(data)} ({message}); the server rolls back the migration in "
            f"progress, so the service stays at {_revisions(data['reached']) if 'reached' in data else 'its previous revision'}; "
            f"check that the server is up, then rerun"
        ),
        "migration": lambda: (
            f"migration {data.get('revision')} failed: {message}; rolled back, the service stays at "
            f"{_revisions(data['reached']) if 'reached' in data else 'its previous revision'}; fix the migration and rerun"
        ),
        "nothing_to_merge": lambda: "there is only one head; nothing to merge",
        "post_write": lambda: (
            f"the migration was written to {display_path(Path(data.get('path', '')))} but alembic.ini's post-write hook "
            f"failed ({message}); fix [post_write_hooks] in {ini} or format the file yourself, then review it"
        ),
        "out_of_range": lambda: (
            f"{data.get('revision')} goes past the first or last revision; run 'inv db.current {name}' and "
            f"'inv db.history {name}' to pick a target"
        ),
        "version_table": lambda: (
            f"env.py keeps alembic_version in schema {data.get('found')!r}, but migrations.yaml says the service owns "
            f"{service.schema!r}; fix 'schema' in migrations.yaml"
            if data.get("explicit")
            else f"env.py keeps alembic_version in schema {data.get('found')!r}, not in {service.schema!r}; pass "
            f"version_table_schema={service.schema!r} to context.configure (services sharing one version table "
            f"overwrite each other's revision)"
        ),
        "wrong_database": lambda: (
            f"env.py connected to {data.get('actual')}, not to {data.get('expected')}; make env.py read "
            f"{service.url_env} or set 'url_env' in migrations.yaml to the variable it reads"
        ),
        "schema_mismatch": lambda: (
            f"the models' tables are in {', '.join(data.get('found') or [])}, none in {service.schema!r}; "
            f"fix 'schema' in migrations.yaml or the models' schema"
        ),
        "interrupted": lambda: (
            "interrupted; the migration in progress was rolled back (each runs in its own transaction), the service "
            f"stays at {_revisions(data['reached']) if 'reached' in data else 'its previous revision'}; rerun to continue"
        ),
        "command": lambda: f"alembic: {message}; see 'inv db.history {name}' and 'inv db.current {name}'",
    }
    build = builders.get(kind)
    text = build() if build else f"{op} failed: {message}; rerun with DBTASKS_DEBUG=1 for the traceback"
    detail = payload.get("traceback") if os.environ.get("DBTASKS_DEBUG") else None
    error = ServiceError(name, target.redact(text), kind=kind, revision=data.get("revision"), detail=detail)
    if kind in BAD_INPUT:
        error.exit_code = 2
    return error


# Failures caused by what the user typed, not by the service: exit 2 like other bad input.
BAD_INPUT = {"unknown_revision", "out_of_range"}
# Modules a service interpreter must have installed; a folder of the same name is never the fix.
_REQUIREMENTS = {"alembic", "sqlalchemy", "asyncpg", "psycopg2", "greenlet", "psycopg"}


def _import_hint(service: Service, module: str, message: str, ini: str) -> str:
    """A missing module of the service's own code needs a path; anything else needs installing."""
    top = module.split(".")[0]
    interpreter = service.python or sys.executable
    if top and top not in _REQUIREMENTS and _is_local_package(service, top):
        return (
            f"env.py cannot import {module!r} ({message}); add the folder holding {top!r} to 'pythonpath' "
            f"in migrations.yaml or to 'prepend_sys_path' in {ini}"
        )
    what = repr(module) if module else "a dependency"
    return f"env.py cannot import {what} ({message}); install it in {interpreter} or set 'python' in migrations.yaml"


def _is_local_package(service: Service, top: str) -> bool:
    roots = [service.path, *service.path.iterdir()] if service.path.is_dir() else []
    return any((root / top / "__init__.py").is_file() or (root / f"{top}.py").is_file() for root in roots if root.is_dir())


def _during(data: dict[str, Any]) -> str:
    return f" during migration {data['revision']}" if data.get("revision") else ""


def _revisions(revisions: Iterable[str] | None) -> str:
    values = list(revisions or [])
    return ", ".join(values) if values else "base (nothing applied)"
