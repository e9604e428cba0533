"""Helpers for tests/test_safety.py: `inv` runs in the background, the processes they start, the sessions
they hold on the server, roles with a known password, and edits of a project copy.

Nothing here mocks anything; every wait is bounded and every process started here can be killed by id."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _support import create_database, drop_database, execute, query, with_database

# -- editing a project copy -------------------------------------------------------------------------


def line_number(path: Path, line: str) -> int:
    """The 1-based number of the one line of `path` that equals `line`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines.count(line) == 1, f"{path}: expected exactly one line {line!r}"
    return lines.index(line) + 1


# -- inv in the background ---------------------------------------------------------------------------


def inv_environment(url: str | None, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment conftest.inv gives a task: DATABASE_URL only when `url` is given, no debug switch."""
    environment = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DBTASKS_DEBUG")}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    if url is not None:
        environment["DATABASE_URL"] = url
    environment.update(env or {})
    return environment


@dataclass
class Background:
    """An `inv` process in its own session (process group), its output going to files."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def finish(self, timeout: float) -> subprocess.CompletedProcess[str]:
        """Wait at most `timeout` seconds (then kill the group and fail); return what it printed."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise AssertionError(f"inv {self.process.args} did not finish within {timeout} s:\n{self.read()}") from None
        return self.read()

    def read(self) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            self.process.args,
            self.process.returncode if self.process.returncode is not None else -1,
            self.stdout.read_text(encoding="utf-8", errors="replace"),
            self.stderr.read_text(encoding="utf-8", errors="replace"),
        )

    def kill_group(self) -> None:
        """SIGKILL the process group this run leads (only processes this run started), then reap it."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)


def start_inv(project: Path, folder: Path, *args: str, url: str | None, env: dict[str, str] | None = None) -> Background:
    """Start `inv ARGS` in `project` in a new session; stdout/stderr go to files under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    tag = secrets.token_hex(4)
    stdout, stderr = folder / f"inv-{tag}.out", folder / f"inv-{tag}.err"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=project,
            env=inv_environment(url, env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    return Background(process, stdout, stderr)


@contextmanager
def background(
    project: Path, folder: Path, *args: str, url: str | None, env: dict[str, str] | None = None
) -> Iterator[Background]:
    """start_inv, and kill the run's process group on the way out whatever happened."""
    run = start_inv(project, folder, *args, url=url, env=env)
    try:
        yield run
    finally:
        if run.process.poll() is None:
            run.kill_group()


# -- processes ------------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process from /proc, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def worker_children(parent: int) -> list[int]:
    """Live dbtasks worker processes (`.../dbtasks/worker/__main__.py`) whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat and stat[1] == parent and stat[0] != "Z" and "dbtasks/worker/__main__.py" in _cmdline(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def is_running_worker(pid: int) -> bool:
    """True while `pid` is a live (not zombie) dbtasks worker process."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z" and "dbtasks/worker/__main__.py" in _cmdline(pid)


def kill_pids(pids: list[int]) -> None:
    """SIGKILL the given processes (ones the test's run started), ignoring those already gone."""
    for pid in pids:
        if is_running_worker(pid):
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; return whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# -- sessions on the server ------------------------------------------------------------------------------


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def sessions_running(url: str, pattern: str) -> list[int]:
    """Backend pids of sessions on `url`'s database whose current query matches the LIKE `pattern`."""
    rows = query(
        url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE %s",
        (pattern,),
    )
    return [row[0] for row in rows]


def other_sessions(url: str) -> list[int]:
    """Backend pids of every other session connected to `url`'s database."""
    rows = query(url, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
    return [row[0] for row in rows]


def advisory_lock_holders(url: str) -> list[int]:
    """Backend pids holding a granted advisory lock in `url`'s database."""
    rows = query(
        url,
        "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()",
    )
    return sorted({row[0] for row in rows})


# -- a role with a known password --------------------------------------------------------------------------


def with_credentials(url: str, user: str, password_in_url: str) -> str:
    """`url` with its user and password replaced (the password written exactly as given)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{user}:{password_in_url}@{parts.hostname}:{parts.port}", parts.path, "", ""))


@dataclass(frozen=True)
class Owner:
    """A login role with CREATEDB and a known password, owning some databases."""

    role: str
    admin: str  # the server's admin URL
    password_in_url: str

    def database(self) -> tuple[str, str]:
        """A new database owned by the role: (its URL with the role's credentials, its admin URL)."""
        admin_url = create_database(self.admin)
        execute(self.admin, f'ALTER DATABASE "{database_name(admin_url)}" OWNER TO "{self.role}"')
        return with_credentials(admin_url, self.role, self.password_in_url), admin_url


@contextmanager
def role_with_password(pg_server: str, password: str, password_in_url: str) -> Iterator[Owner]:
    """A role with `password` (its URL spelling `password_in_url`); its databases and the role are dropped after."""
    role = f"safety_{secrets.token_hex(4)}"
    literal = password.replace("'", "''")
    execute(pg_server, f"CREATE ROLE \"{role}\" LOGIN CREATEDB PASSWORD '{literal}'")
    try:
        yield Owner(role, pg_server, password_in_url)
    finally:
        owned = query(
            pg_server,
            "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = %s)",
            (role,),
        )
        for (name,) in owned:  # its databases, and any scratch database verify --keep left
            drop_database(pg_server, with_database(pg_server, name))
        execute(pg_server, f'DROP ROLE IF EXISTS "{role}"')


# -- scanning for a secret ------------------------------------------------------------------------------------


def leaks(text: str | bytes, spellings: tuple[str, ...]) -> list[str]:
    """The spellings of a secret that occur in `text`."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    return [spelling for spelling in spellings if spelling.encode("utf-8") in data]


def files_under(*folders: Path) -> list[Path]:
    return sorted(path for folder in folders if folder.exists() for path in folder.rglob("*") if path.is_file())


PROGRESS = re.compile(r"^(?P<service>[a-z][a-z0-9_-]*) \| .*Running upgrade (?P<source>.*?) -> (?P<target>\w+)")


def upgrades_logged(stderr: str) -> list[tuple[str, str]]:
    """(service, revision) for every 'Running upgrade ... -> REV' progress line of a run."""
    return [(match["service"], match["target"]) for line in stderr.splitlines() if (match := PROGRESS.match(line))]


def with_port(url: str, port: int) -> str:
    """`url` with another port, credentials kept as written."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return urlunsplit((parts.scheme, f"{netloc}:{port}", parts.path, parts.query, parts.fragment))
