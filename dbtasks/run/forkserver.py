"""The parent side of the fork server (worker/serve.py): start one per interpreter, hand it requests.

A fresh worker spends most of its time importing Alembic and SQLAlchemy, as every `alembic`
command does. The fork server pays that once per run and forks a child per service operation; the child
looks to the runner like a spawned worker (its own stdin, stdout and result pipe, and an exit code the
server reports once it has reaped it), so Ctrl-C, kill -9 of the runner and the results work the same.
The runner asks for one only when a run starts several workers, and starts it as soon as it knows (warm), before its
plan and locks; DBTASKS_FORKSERVER=0 turns it off.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from .. import settings

WORKER = Path(__file__).parents[1] / "worker" / "__main__.py"
_servers: dict[str, ForkServer | None] = {}
_guard = threading.Lock()


def warm_early() -> None:
    """For a task that starts a worker per service in most runs, before its project is even loaded: start this
    interpreter's server (the one services without `python:` use), when a second core can run its imports meanwhile.
    runner.warm tells it the project's drivers once they are known."""
    if settings.forkserver({}) and _cores() >= 2:
        warm(sys.executable, WORKER)


def _cores() -> int:
    """The cores this process may run on (its affinity, where the system has one: Linux), else the machine's."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def server_for(python: str, worker: Path, *, start: bool, drivers: tuple[str, ...] = ()) -> ForkServer | None:
    """The fork server of `python`, ready: the running one (or the one warming up), else a new one when `start`,
    which imports the modules of `drivers` once for all its children (None when it cannot start)."""
    with _guard:
        server = _servers.get(python)
        if server is not None and server.process.poll() is not None:  # it died: start afresh, or spawn
            del _servers[python]
        if python not in _servers and start:
            _servers[python] = ForkServer.spawn(python, worker, drivers)
        server = _servers.get(python)
    if server is None or server.ready():
        return server
    with _guard:  # no alembic in that interpreter, say: its workers are spawned, and report it properly
        if _servers.get(python) is server:
            _servers[python] = None
    return None


def warm(python: str, worker: Path, drivers: tuple[str, ...] = ()) -> None:
    """Start `python`'s fork server now, without waiting for it: its imports overlap with the rest of the run's set-up,
    and server_for hands it out once it is ready. One the run never uses is killed at exit (it forked nothing). A
    server started already (before the project was loaded, say) is asked to import `drivers` too."""
    with _guard:
        server = _servers.get(python)
        if server is not None and server.process.poll() is not None:
            del _servers[python]
        if python not in _servers:
            server = ForkServer.spawn(python, worker, drivers)
            if server is not None:
                _servers[python] = server
            return
    if server is not None:
        server.preload(drivers)


def discard(python: str, server: ForkServer) -> None:
    """Stop using `server` (it failed a request): later workers of `python` get a new server, or are spawned."""
    with _guard:
        if _servers.get(python) is server:
            del _servers[python]
    server.close()


class ForkServer:
    def __init__(self, process: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.process = process
        self.sock = sock
        self.lock = threading.Lock()  # one message at a time on the socket
        self.drivers: set[str] = set()  # the drivers whose modules it imports
        self._ready: bool | None = None  # None: its "ready" line not read yet (it may still be importing)
        self._waiting = threading.Lock()
        atexit.register(self.close)

    @classmethod
    def spawn(cls, python: str, worker: Path, drivers: tuple[str, ...] = ()) -> ForkServer | None:
        """A new server, started but perhaps still importing (ready() waits for it); None when `python` cannot start."""
        ours, theirs = socket.socketpair()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            process = subprocess.Popen(
                [python, str(worker), "--serve", str(theirs.fileno()), *drivers],
                stdin=subprocess.PIPE,  # its lifeline: it exits when this closes
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=env,
            )
        except OSError:
            ours.close()
            return None
        finally:
            theirs.close()
        server = cls(process, ours)
        server.drivers.update(drivers)
        return server

    def ready(self) -> bool:
        """Whether the server has imported what it preloads and serves (waits for it the first time); one that
        cannot (no alembic in that interpreter, say) is stopped."""
        with self._waiting:
            if self._ready is None:
                self.sock.settimeout(120)
                try:
                    self._ready = self.sock.recv(6) == b"ready\n"
                except OSError:
                    self._ready = False
                if self._ready:
                    self.sock.settimeout(None)
                else:
                    self._stop()
            return self._ready

    def preload(self, drivers: tuple[str, ...]) -> None:
        """Have the server import the modules of `drivers` as well, while no request waits (one started before the
        project was loaded knew of none)."""
        wanted = [driver for driver in drivers if driver not in self.drivers]
        if not wanted:
            return
        body = json.dumps({"preload": wanted}).encode()
        with self.lock:
            self.drivers.update(wanted)
            with contextlib.suppress(OSError):  # gone: server_for finds it dead, and its workers are spawned
                self.sock.sendall(struct.pack("!I", len(body)) + body)

    def fork(self, request: Any, cwd: Path, env: dict[str, str], result_fd: int) -> Forked:
        """A child running `request` in `cwd` with exactly `env`; its result goes to `result_fd`."""
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        status_read, status_write = os.pipe()
        body = json.dumps({**request, "cwd": str(cwd), "env": env}).encode()
        fds = [stdin_read, stdout_write, result_fd, status_write]
        try:
            with self.lock:
                self.sock.sendmsg([struct.pack("!I", len(body))], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, _int_array(fds))])
                self.sock.sendall(body)
                pid = int(_read_line(self.sock))
        except BaseException:
            for fd in (stdin_write, stdout_read, status_read):
                os.close(fd)
            raise
        finally:
            for fd in (stdin_read, stdout_write, status_write):
                os.close(fd)
        return Forked(pid, os.fdopen(stdin_write, "wb"), os.fdopen(stdout_read, "rb"), status_read)

    def close(self) -> None:
        """Stop the server: one serving ends when its lifeline closes; one still importing (it has forked nothing) is
        killed, rather than waited for."""
        if not self._ready:
            self._stop()
            return
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        self.sock.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def _stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        with self.lock:  # not while another thread sends on it (its descriptor number could be reused)
            self.sock.close()


class Forked:
    """A forked worker, with the part of Popen's interface the runner uses."""

    def __init__(self, pid: int, stdin: IO[bytes], stdout: IO[bytes], status_fd: int) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None
        self._status = os.fdopen(status_fd, "rb")

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code the fork server reports once it has reaped the child (None if the server went away)."""
        if self.returncode is None and not self._status.closed:
            if not self._reported(timeout):
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
            line = self._status.readline().strip()
            self._status.close()
            self.returncode = int(line) if line else None
        return self.returncode

    def _reported(self, timeout: float | None) -> bool:
        """Whether the server has written the exit code (or gone away) within `timeout` seconds."""
        poller = select.poll()  # not select(): it refuses descriptors above 1024
        poller.register(self._status, select.POLLIN)
        return bool(poller.poll(None if timeout is None else int(timeout * 1000)))

    def send_signal(self, number: int) -> None:
        # Once the server has reaped the child its pid may belong to another process: never signal it then.
        if self.returncode is None and not self._status.closed and not self._reported(0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _read_line(sock: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise OSError("the fork server went away")
        line += chunk
    return line


def _int_array(fds: list[int]) -> bytes:
    import array

    return array.array("i", fds).tobytes()
