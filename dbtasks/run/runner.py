"""Run one operation for one service in a worker process (dbtasks/worker), and turn its result into data
or a ServiceError.

The worker gets the request (on stdin, or through the fork server), keeps stdin open as its lifeline,
streams Alembic's output on stdout and writes one JSON result on a pipe of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from .. import explain, settings
from ..config.project import Service
from ..database.lock import Held
from ..database.target import Target
from ..database.urls import OFFLINE_URL, SECRET_NAME, expand, normalize, ssl_file_environment
from ..explain import Emit
from ..worker.protocol import Request, Result
from . import forkserver

WORKER = forkserver.WORKER
PROBE = b"dbtasks worker"  # what `WORKER --probe` prints
_probed: set[str] = set()  # interpreters that answered the probe in this process


def run(
    service: Service,
    op: str,
    target: Target,
    emit: Emit,
    *,
    timeouts: dict[str, str] | None = None,
    fork: bool = False,
    announce: Emit | None = None,
    shared: tuple[str, ...] = (),
    foreign: tuple[tuple[str, str], ...] = (),
    lock: Held | None = None,
    engines: dict[str, str] | None = None,
    bookkeeping: str = "",
    drivers: tuple[str, ...] = (),
    **args: Any,
) -> dict[str, Any]:
    """Run `op` for `service` in a worker; return its data or raise ServiceError with the next step.

    `timeouts` (statement_timeout, lock_timeout) are set for every transaction env.py's connection runs;
    `fork` starts the interpreter's fork server if it is not running yet (worth it when a run starts several
    workers), importing the modules of `drivers` (the run's services' drivers); a running one is always used. With
    DBTASKS_DEBUG=1, `announce` hears of each worker start.
    `shared` and `foreign` tell the worker which of its schemas other services use, and their version tables.
    `lock` is the migration lock the caller holds: the worker checks it before each commit, and is stopped (rolling
    back) when the lock is lost.
    """
    request: Request = {
        "op": op,
        "service": service.name,
        "schema": service.schema,
        "bookkeeping_schema": bookkeeping,
        "schemas": list(service.owned_schemas),
        "shared": list(shared),
        "version_table": list(service.expected_version_table),
        "hand_version_table": list(service.expected_version_table) if service.version_table_declared else None,
        "foreign_version_tables": [list(table) for table in foreign],
        "create_schemas": service.create_schema,
        "ini": str(service.alembic_ini),
        "ini_section": service.ini_section,
        "toml": str(service.pyproject) if service.pyproject else None,
        "extensions": list(service.extensions),
        "prepare": [str(path) for path in service.prepare],
        "bootstrap": service.bootstrap,
        "branch": service.branch,
        "engines": {engine: normalize(url, service.driver) for engine, url in (engines or {}).items()},
        "url_env": service.url_env,
        "pythonpath": [str(path) for path in service.pythonpath],
        "settings": timeouts or {},
        "args": args,
        "x": [expand(item, target.url or OFFLINE_URL, service.driver) for item in service.x],  # ${db.*} filled in
        "lock": [lock.server_pid, *lock.oids] if lock is not None else [],
        "result_fd": -1,
    }
    target = _with_env_secrets(service, target)
    result = _start(service, request, target, emit, fork, drivers, announce if settings.debug() else None, lock)
    if result.get("ok"):
        return dict(result.get("data") or {})
    raise explain.failure(service, op, result, target)


def warm(services: Iterable[Service], drivers: tuple[str, ...]) -> None:
    """Start the fork server of each interpreter `services` run in now, while the run goes on with its set-up, so that
    its imports overlap with it. Only interpreters known to run the worker (ours, or one probed already): another is
    probed by its first worker, as before."""
    for python in sorted({service.python or sys.executable for service in services if settings.forkserver(service.env)}):
        if python == sys.executable or python in _probed:
            forkserver.warm(python, WORKER, drivers)


def _with_env_secrets(service: Service, target: Target) -> Target:
    """`target`, hiding also the values of the service's `env:` named like secrets (POSTGRES_PASSWORD, API_TOKEN...),
    as env.py may print them: its output and result are masked with these too."""
    url = target.url or OFFLINE_URL
    found = [expand(value, url, service.driver) for name, value in service.env.items() if SECRET_NAME.search(name)]
    extra = tuple(value for value in found if len(value) >= 4 and value not in target.secrets)  # a short value is no secret
    return replace(target, secrets=(*target.secrets, *extra)) if extra else target


def _environment(service: Service, target: Target) -> dict[str, str]:
    env = dict(os.environ)
    url = target.url or OFFLINE_URL
    env.update({name: expand(value, url, service.driver) for name, value in service.env.items()})
    env[service.url_env] = normalize(url, service.driver)
    env.update(ssl_file_environment(url, service.driver))
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONSAFEPATH", None)  # the service folder must stay importable (prepend_sys_path = .)
    return env


def _start(
    service: Service,
    request: Request,
    target: Target,
    emit: Emit,
    fork: bool,
    drivers: tuple[str, ...],
    debug: Emit | None,
    lock: Held | None,
) -> Result:
    read_fd, write_fd = os.pipe()
    request["result_fd"] = write_fd
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(read_fd, chunks), daemon=True)
    reader.start()
    python, env = service.python or sys.executable, _environment(service, target)
    if service.python is not None:
        _probe(service, python)
    server = forkserver.server_for(python, WORKER, start=fork, drivers=drivers) if settings.forkserver(service.env) else None
    process: subprocess.Popen[bytes] | forkserver.Forked | None = None
    if server is not None:
        try:
            process = server.fork(request, service.path, env, write_fd)
        except OSError:  # the fork server died (or was killed): spawn this worker; later ones get a new server
            forkserver.discard(python, server)
            server = None
    try:
        if process is None:
            process = subprocess.Popen(
                [python, str(WORKER)],
                cwd=service.path,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
            )
    except OSError as error:
        os.close(write_fd)
        reader.join()
        raise explain.interpreter_missing(service, python, error.strerror or str(error)) from None
    os.close(write_fd)
    assert process.stdin is not None and process.stdout is not None
    show = _Output(emit)
    unwatch = lock.on_lost(lambda: process.send_signal(signal.SIGINT)) if lock is not None else lambda: None
    # stdin stays open until the worker is done: if this process dies, the worker sees end of file and stops.
    # Whatever goes wrong here, the worker is stopped and awaited before this returns: the caller's lock must
    # outlive it.
    try:
        if debug is not None:  # shows which services the fast path could not answer, and how each worker started
            how = "forked by the fork server" if server is not None else "spawned"
            show(f"{service.name} | worker: {request['op']} ({how}, pid {process.pid})", debug)
        if server is None:  # a forked worker got its request from the server
            try:
                process.stdin.write(json.dumps(request).encode() + b"\n")
                process.stdin.flush()
            except BrokenPipeError:  # it exited at once: what it printed and its exit code say why
                pass
        for raw in process.stdout:
            show(target.redact(raw.decode("utf-8", "replace").rstrip("\n")))
        code = process.wait()
    except KeyboardInterrupt:
        _stop(process)
        reader.join()
        process.stdin.close()
        raise explain.interrupted(service) from None
    except BaseException:
        _stop(process)
        reader.join()
        with contextlib.suppress(OSError):
            process.stdin.close()
        raise
    finally:
        unwatch()
        with contextlib.suppress(OSError):
            process.stdout.close()
    reader.join()
    process.stdin.close()
    body = b"".join(chunks)
    if not body:
        raise explain.worker_silent(service, code)
    result: Result = target.redact_values(json.loads(body.decode("utf-8")))
    return result


class _Output:
    """The worker's lines to `emit`; once writing them fails (the terminal went away) they are drained and dropped,
    so that the worker runs to its end, and its lock is released only then."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.gone = False

    def __call__(self, line: str, to: Emit | None = None) -> None:
        if self.gone:
            return
        try:
            (to or self.emit)(line)
        except (OSError, ValueError, AttributeError):  # broken pipe, closed file, no stderr (None)
            self.gone = True


def _probe(service: Service, python: str) -> None:
    """Refuse an interpreter that does not run the worker (`/bin/true`, `/bin/cat`: a worker would never answer)."""
    if python in _probed:
        return
    try:
        done = subprocess.run(
            [python, str(WORKER), "--probe"], stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False
        )
    except OSError:
        return  # cannot start at all: the worker's start says so (explain.interpreter_missing)
    except subprocess.TimeoutExpired:
        done = subprocess.CompletedProcess([], -1, b"", b"")
    if done.returncode != 0 or done.stdout.strip() != PROBE:
        raise explain.not_a_worker(service, done.returncode)
    _probed.add(python)


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
