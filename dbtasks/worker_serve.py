"""The fork server: one process per interpreter that imports Alembic and SQLAlchemy once, then forks a
child per request. Each child is still a process of its own (Alembic's context and the service's
modules never meet another service's), but it skips the imports every fresh interpreter pays.

Loaded by path by worker.py in the service's interpreter: standard library only, Python 3.8 syntax.
The parent side is dbtasks/forkserver.py.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import select
import signal
import socket
import struct
import sys
from collections.abc import Callable
from typing import Any

_PRELOAD = (
    "alembic.command",
    "alembic.config",
    "alembic.script",
    "alembic.autogenerate",
    "sqlalchemy",
    "sqlalchemy.ext.asyncio",
    "asyncpg",
    "psycopg2",
)


def serve(sock_fd: int, run_request: Callable[[dict[str, Any]], int]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the children; this one ends with its parent
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    for name in _PRELOAD:
        with contextlib.suppress(Exception):  # a driver this interpreter lacks: a child that needs it reports it
            __import__(name)
    sock = socket.socket(fileno=sock_fd)
    sock.sendall(b"ready\n")
    while True:
        readable, _, _ = select.select([sock.fileno(), 0], [], [])
        if 0 in readable and not os.read(0, 4096):
            return 0  # the parent is gone (or done): so are we
        if sock.fileno() in readable:
            received = _receive(sock)
            if received is None:
                return 0
            request, fds = received
            pid = os.fork()
            if pid == 0:
                sock.close()
                _child(request, fds, run_request)  # never returns
            for fd in fds:
                os.close(fd)
            sock.sendall(f"{pid}\n".encode())


def _child(request: dict[str, Any], fds: list[int], run_request: Callable[[dict[str, Any]], int]) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # post-write hooks wait for their own children
        stdin, stdout, result = fds
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stdout, 2)
        for fd in (stdin, stdout):
            os.close(fd)
        os.chdir(request.pop("cwd"))
        os.environ.clear()
        os.environ.update(request.pop("env"))
        request["result_fd"] = result
        code = run_request(request)
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _receive(sock: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """One request: a 4-byte length, the JSON, and three file descriptors (stdin, stdout, result)."""
    fds = array.array("i")
    data, ancillary, _, _ = sock.recvmsg(4, socket.CMSG_SPACE(3 * fds.itemsize))
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
