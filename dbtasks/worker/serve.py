"""The fork server: one process per interpreter that imports Alembic and SQLAlchemy once, then forks a
child per request. Each child is still a process of its own (Alembic's context and the service's
modules never meet another service's), but it skips the imports every fresh interpreter pays.

A request arrives as a 4-byte length, the JSON (the protocol's Request plus "cwd" and "env") and four
file descriptors: the child's stdin (the parent's lifeline), its stdout, the result pipe and a status
pipe on which this server writes the child's exit code once it has reaped it. The parent side is
dbtasks/run/forkserver.py.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import gc
import json
import os
import select
import signal
import socket
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .protocol import DRIVER_MODULES

_PRELOAD = (
    "alembic.command",
    "alembic.config",
    "alembic.script",
    "alembic.autogenerate",
    "sqlalchemy",
    "psycopg2",
    "logging.config",  # alembic.ini's [loggers]: env.py's fileConfig imports it
)
_FDS = 4  # stdin, stdout, result, status


def serve(sock_fd: int, run_request: Callable[[Any], int], drivers: Sequence[str] = ()) -> NoReturn:
    """Serve fork requests on `sock_fd` once Alembic, SQLAlchemy and the modules of `drivers` are imported (the
    services' drivers, from protocol.DRIVER_MODULES; psycopg 3 alone adds a tenth of a second to each start). A
    {"preload": [driver...]} message adds drivers: before the server is ready (it was started before the project
    was loaded), they are imported first; after, while no request waits (a child forked before imports them itself)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the children; this one ends with its parent
    # Off for good here (the children turn it on again): the imports make no garbage worth collecting, and collections
    # during them cost a tenth of their time.
    gc.disable()
    for name in _PRELOAD:
        _import(name)
    sock = socket.socket(fileno=sock_fd)
    pending = _more(drivers, [])
    while select.select([sock.fileno()], [], [], 0)[0]:  # only preloads come before "ready"
        received = _receive(sock)
        if received is None:
            _leave()
        pending += _more(received[0].get("preload", ()), pending)
    for name in pending:
        _import(name)
    pending = []
    # A child's exit wakes the select below through this pipe; it is reaped there and its code sent.
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_read, False)
    os.set_blocking(wakeup_write, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wakeup_write, warn_on_full_buffer=False)
    sock.sendall(b"ready\n")
    statuses: dict[int, int] = {}  # child pid -> the fd its exit code goes to
    while True:
        readable, _, _ = select.select([sock.fileno(), 0, wakeup_read], [], [], 0 if pending else None)
        if not readable and pending:
            _import(pending.pop(0))
            continue
        if wakeup_read in readable:
            with contextlib.suppress(BlockingIOError):
                os.read(wakeup_read, 512)
            _reap(statuses)
        if 0 in readable and not os.read(0, 4096):
            _leave()  # the parent is gone (or done): so are we
        if sock.fileno() in readable:
            received = _receive(sock)
            if received is None:
                _leave()
            request, fds = received
            if "preload" in request:  # the run's drivers, known once its project is loaded
                pending += _more(request["preload"], pending)
                continue
            pid = os.fork()
            if pid == 0:
                _child(request, fds, [sock.fileno(), fds[3], wakeup_read, wakeup_write, *statuses.values()], run_request)
            for fd in fds[:3]:
                os.close(fd)
            statuses[pid] = fds[3]
            sock.sendall(f"{pid}\n".encode())
            _reap(statuses)  # it may have ended before it was registered


def _more(drivers: Sequence[str], pending: list[str]) -> list[str]:
    """The modules of `drivers` (protocol.DRIVER_MODULES) not imported yet, nor in `pending`."""
    modules = [module for driver in drivers for module in DRIVER_MODULES.get(driver, ())]
    return [name for name in dict.fromkeys(modules) if name not in sys.modules and name not in pending]


def _import(name: str) -> None:
    """Import `name` for the children to share. What they inherit is never garbage: frozen out of their collections,
    it is neither walked nor, through the collector's writes, copied page by page into each child (about a fifth of a
    forked upgrade's CPU)."""
    with contextlib.suppress(Exception):  # a driver this interpreter lacks: a child that needs it reports it
        __import__(name)
    gc.freeze()


def _leave() -> NoReturn:
    """Exit at once, without tearing down the modules imported for the children: the parent waits for this exit, and
    the interpreter's own teardown of Alembic and SQLAlchemy takes tens of milliseconds. atexit functions still run.
    The children are processes of their own, each with its own lifeline: they do not end with this one."""
    atexit._run_exitfuncs()
    os._exit(0)


def _reap(statuses: dict[int, int]) -> None:
    """Send the exit code of every child that has ended to its status pipe."""
    for pid in list(statuses):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 255 << 8
        if done:
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
            fd = statuses.pop(pid)
            with contextlib.suppress(OSError):
                os.write(fd, f"{code}\n".encode())
            os.close(fd)


def _child(request: dict[str, Any], fds: list[int], servers: list[int], run_request: Callable[[Any], int]) -> None:
    """Never returns: runs the request with `fds` (stdin, stdout, result) after closing the server's own `servers`."""
    code = 1
    try:
        for fd in servers:
            os.close(fd)
        gc.enable()  # the child collects its own garbage, as any interpreter does
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # post-write hooks wait for their own children
        stdin, stdout, result = fds[:3]
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stdout, 2)
        for fd in (stdin, stdout):
            os.close(fd)
        os.chdir(request.pop("cwd"))
        os.environ.clear()
        os.environ.update(request.pop("env"))
        _follow_pythonpath(os.environ.get("PYTHONPATH", ""))
        request["result_fd"] = result
        code = run_request(request)
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _follow_pythonpath(value: str) -> None:
    """A spawned worker's sys.path starts with $PYTHONPATH: one forked from a server started under another value gets
    the same (the server's own entries are dropped, this request's put first, as the interpreter would)."""
    started = [entry for entry in _SERVER_PYTHONPATH if entry]
    wanted = [os.path.abspath(entry) for entry in value.split(os.pathsep) if entry]
    if wanted == started:
        return
    sys.path[:] = wanted + [entry for entry in sys.path if entry not in started]


_SERVER_PYTHONPATH = [os.path.abspath(entry) for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]


def _receive(sock: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """One request: a 4-byte length, the JSON, and its file descriptors."""
    fds = array.array("i")
    data, ancillary, _, _ = sock.recvmsg(4, socket.CMSG_SPACE(_FDS * fds.itemsize))
    if not data:
        return None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    (length,) = struct.unpack("!I", data)
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return json.loads(body.decode("utf-8")), list(fds)
