"""A verify killed with -9 runs no cleanup: its scratch database stays, and the next verify drops it, while
a running verify's and another host's scratch databases are kept (their owners cannot be proven gone)."""

from __future__ import annotations

import secrets
import signal
from pathlib import Path

from _support import assert_ok, execute, head_of, inv, plant_migration, query, show
from safety_helpers import background, wait_for

from dbtasks.database import owner
from dbtasks.database.owner import SCRATCH_OWNER


def scratch_databases(server_url: str) -> set[str]:
    return {row[0] for row in query(server_url, "SELECT datname FROM pg_database WHERE datname LIKE %s", ("%\\_verify\\_%",))}


def sleeping_in_scratch(server_url: str) -> set[str]:
    """The scratch databases in which a session runs the planted pg_sleep."""
    rows = query(
        server_url,
        "SELECT datname FROM pg_stat_activity WHERE datname LIKE %s AND query LIKE %s",
        ("%\\_verify\\_%", "SELECT pg_sleep(60)%"),
    )
    return {row[0] for row in rows}


def create_scratch_database(server_url: str, owned_by: str) -> str:
    """A database named and commented as verify names and comments its scratch databases."""
    name = f"movements_verify_{secrets.token_hex(4)}"
    comment = (SCRATCH_OWNER + owned_by).replace("'", "''")
    execute(server_url, f'CREATE DATABASE "{name}"', f"COMMENT ON DATABASE \"{name}\" IS '{comment}'")
    return name


def test_the_next_verify_drops_the_scratch_database_of_a_verify_killed_with_sigkill(
    project: Path, database_url: str, pg_server: str, tmp_path: Path
) -> None:
    planted = plant_migration(
        project,
        "movements",
        "5afe51ee0012",
        head_of("movements"),
        body="from alembic import op\n\n"
        "    op.execute(\"SET LOCAL client_connection_check_interval = '500ms'\")\n"
        "    op.execute('SELECT pg_sleep(60)')",
    )
    running = create_scratch_database(pg_server, owner.this_process())  # a verify that still runs: this process
    elsewhere = create_scratch_database(pg_server, "build-agent-7.example 4242 123456")  # another host's
    try:
        with background(project, tmp_path / "runs", "db.verify", "movements", url=database_url) as run:
            assert wait_for(lambda: bool(sleeping_in_scratch(pg_server)) or run.process.poll() is not None, 120), show(run.read())
            assert run.process.poll() is None, show(run.read())
            (killed,) = sleeping_in_scratch(pg_server)
            run.kill_group()
        assert run.process.returncode == -signal.SIGKILL, show(run.read())
        assert scratch_databases(pg_server) == {killed, running, elsewhere}  # kill -9: nothing was dropped

        planted.unlink()
        rerun = assert_ok(inv(project, "db.verify", "movements", url=database_url))
        assert f"movements | dropped scratch database {killed}, left by a verify that was killed" in rerun.stderr, show(rerun)
        assert scratch_databases(pg_server) == {running, elsewhere}
    finally:
        for name in scratch_databases(pg_server) & {running, elsewhere}:
            execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_doctor_names_a_scratch_database_left_by_a_killed_verify(project: Path, database_url: str, pg_server: str) -> None:
    import socket

    left, alive = f"movements_verify_{secrets.token_hex(4)}", f"movements_verify_{secrets.token_hex(4)}"
    dead_pid = 2**22 - 7  # above the usual pid range: no such process
    execute(pg_server, f'CREATE DATABASE "{left}"', f'CREATE DATABASE "{alive}"')
    try:
        execute(pg_server, f"COMMENT ON DATABASE \"{left}\" IS '{SCRATCH_OWNER}{socket.gethostname()} {dead_pid} 1'")
        execute(pg_server, f"COMMENT ON DATABASE \"{alive}\" IS '{SCRATCH_OWNER}{owner.this_process()}'")
        found = assert_ok(inv(project, "db.doctor", url=database_url)).stdout
        lines = [line for line in found.splitlines() if "left by a verify that was killed" in line]
        assert len(lines) == 1 and f"'{left}'" in lines[0] and lines[0].startswith("warning"), found
        assert {left, alive} <= {row[0] for row in query(pg_server, "SELECT datname FROM pg_database")}  # doctor drops nothing
    finally:
        execute(pg_server, f'DROP DATABASE IF EXISTS "{left}"', f'DROP DATABASE IF EXISTS "{alive}"')
