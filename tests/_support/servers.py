"""The test server's folders and the databases the tests make on it (psycopg2, autocommit)."""

from __future__ import annotations

import contextlib
import secrets
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg2

from dbtasks.database import owner
from dbtasks.database.localdb import LocalDatabase

# A port nothing listens on: offline tasks must work with it, online ones fail cleanly.
CLOSED_URL = "postgresql://nobody:closed-port-password@127.0.0.1:1/nowhere"


# The session's servers keep their data in folders of the suite's own under the temporary folder, never under
# pytest's basetemp: any other pytest run of the same user resets <tmp>/pytest-of-<user> to mode 0700, and a
# server that runs as another account (as root: 'nobody') then cannot reach its data and PANICs.
SERVER_FOLDER_PREFIX = "dbtasks-tests-"
SERVERS: list[LocalDatabase] = []  # this process's session server, for the diagnosis of failed tests


def cheap_logins(admin_url: str) -> None:
    """Store the test server's password again with one SCRAM iteration instead of 4,096: a login then costs the
    client and the server about 0.3 ms of hashing instead of 3 ms each, over the suite's tens of thousands of
    connections. Logins stay real SCRAM-SHA-256 exchanges; nothing a test checks depends on the count."""
    parts = urlsplit(admin_url)
    connection = psycopg2.connect(admin_url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SET scram_iterations = 1")
            cursor.execute(f'ALTER ROLE "{parts.username}" PASSWORD %s', (unquote(parts.password or ""),))
    finally:
        connection.close()


def remove_abandoned_server_folders(parent: Path) -> list[Path]:
    """Stop the servers of, and remove, the suite's folders under `parent` (a session's server, a test process's compiled
    services) whose process is gone (a crashed run)."""
    removed = []
    for folder in parent.glob(f"{SERVER_FOLDER_PREFIX}*"):
        try:
            owned_by = (folder / "owner").read_text()
        except OSError:  # being made by a session that starts right now, or not a folder of ours
            continue
        if not owner.is_gone(owned_by):
            continue
        with contextlib.suppress(Exception):  # a crashed session's server may still run
            LocalDatabase(folder / "home").stop()
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def server_trouble(server: LocalDatabase) -> str | None:
    """None while `server` answers; else why not, with its log's last PANIC and FATAL lines."""
    if server.running_port() is not None:
        return None
    try:
        lines = server.log_file.read_text(errors="replace").splitlines()
    except OSError as error:
        lines = [f"(no log: {error})"]
    telling = [line for line in lines if "PANIC:" in line or "FATAL:" in line] or lines[-1:]
    panics = [line for line in telling if "PANIC:" in line]
    # The last PANIC is the cause (a FATAL about the same trouble often follows it); the last line, the end.
    last_words = [*panics[-1:], *telling[-1:]] if panics[-1:] != telling[-1:] else telling[-1:]
    return f"the test PostgreSQL server in {server.data} is not running; its log ({server.log_file}) ends with:\n" + "\n".join(
        last_words
    )


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def execute(url: str, *statements: str) -> None:
    """Run statements in autocommit mode."""
    connection = psycopg2.connect(url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def create_database(server_url: str, template: str | None = None) -> str:
    """A new database with a random name on the server (a copy of the database `template` when given); returns its URL."""
    name = f"dbtasks_test_{secrets.token_hex(6)}"
    copy = f' TEMPLATE "{template}"' if template else ""
    _administer(server_url, f'CREATE DATABASE "{name}"{copy}', file_copy=True)
    return with_database(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    _administer(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_ADMIN: dict[str, Any] = {}  # server URL -> this process's open session in its admin database


def _administer(server_url: str, statement: str, file_copy: bool = False) -> None:
    """Run one statement on a session kept open in the server's admin database: every test makes and drops databases,
    and a new session costs the server a process start each time (about 2 ms of its CPU). A session the server ended
    (a test restarted it) is replaced once.

    `file_copy` adds STRATEGY FILE_COPY where the server has it (PostgreSQL 15 and later): a database is then copied
    file by file instead of through the WAL, which halves what making and dropping one costs the server (about 15 ms
    of 30) on the test servers, whose fsync is off; the copy is the same."""
    for attempt in (1, 2):
        connection = _ADMIN.get(server_url)
        if connection is None:
            connection = _ADMIN[server_url] = psycopg2.connect(server_url, application_name="dbtasks-tests admin")
            connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement + (" STRATEGY FILE_COPY" if file_copy and connection.server_version >= 150000 else ""))
            return
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            _ADMIN.pop(server_url, None)
            with contextlib.suppress(psycopg2.Error):
                connection.close()
            if attempt == 2:
                raise
