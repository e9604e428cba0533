"""The README's "Adopting an existing monorepo", step by step, in a fresh monorepo of two `alembic init` services
(generic and async, one hand-written migration each): a venv of its own, `pip install` of this checkout,
`dbtasks init`, then `inv db.status` and `inv db.upgrade-all` against a fresh database, as a new user runs them.

pip installs from its cache after the first run (the checkout itself is built with build isolation, as a user's
pip builds it); the whole test takes about 20 s, hence `slow`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import REPO, query, summary_states, tables

MIGRATION = '''"""create {table}

Revision ID: {revision}
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("{table}", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("body", sa.Text()))


def downgrade() -> None:
    op.drop_table("{table}")
'''
SERVICES = {"notes": ("generic", "5d8e2f1a9c3b"), "events": ("async", "8c4f1e2d7a6b")}  # folder: (template, revision)


class Shell:
    """Commands run in the monorepo as in a shell where `. .venv/bin/activate` was run: its bin first on PATH."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / ".venv"
        dropped = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DATABASE_URL")
        self.environment = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("DBTASKS_")}
        self.environment.update(
            PATH=f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            VIRTUAL_ENV=str(self.venv),
            PYTHONDONTWRITEBYTECODE="1",
        )

    def run(self, *args: str, cwd: Path | None = None, url: str | None = None) -> subprocess.CompletedProcess[str]:
        environment = {**self.environment, **({"DATABASE_URL": url} if url else {})}
        return subprocess.run(
            list(args), cwd=cwd or self.root, env=environment, capture_output=True, text=True, timeout=300, check=False
        )

    def ok(self, *args: str, cwd: Path | None = None, url: str | None = None) -> subprocess.CompletedProcess[str]:
        result = self.run(*args, cwd=cwd, url=url)
        assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
        return result


def monorepo(root: Path) -> None:
    """Two services as `alembic init` writes them, each with one hand-written migration; nothing else."""
    alembic = Path(sys.executable).with_name("alembic")
    for folder, (template, revision) in SERVICES.items():
        service = root / "services" / folder
        service.mkdir(parents=True)
        subprocess.run([str(alembic), "init", "-t", template, "alembic"], cwd=service, check=True, capture_output=True)
        migration = service / "alembic" / "versions" / f"{revision}_create_{folder}.py"
        migration.write_text(MIGRATION.format(table=folder, revision=revision))


@pytest.mark.slow
@pytest.mark.network
def test_a_new_monorepo_adopts_dbtasks_with_the_readme_steps(
    tmp_path: Path, database_url: str, make_database: Callable[[], str]
) -> None:
    root = tmp_path / "mono"
    monorepo(root)
    shell = Shell(root)

    # python3 -m venv .venv && . .venv/bin/activate
    subprocess.run([sys.executable, "-m", "venv", str(shell.venv)], check=True, timeout=120)
    # pip install /path/to/dbtasks asyncpg "sqlalchemy[asyncio]"
    shell.ok("pip", "install", str(REPO), "asyncpg", "sqlalchemy[asyncio]")
    assert (shell.venv / "bin" / "dbtasks").is_file() and (shell.venv / "bin" / "inv").is_file()
    assert (shell.venv / "bin" / "squawk").is_file()  # lint's squawk comes with dbtasks' dependencies

    # dbtasks init
    init = shell.ok("dbtasks", "init")
    assert init.stdout.splitlines() == [
        "found 2 Alembic services under .: events, notes",
        "wrote migrations.yaml",
        "wrote tasks.py",
        "added .dbtasks/ to .gitignore",
        "to check (init could not decide these):",
        "services/events, services/notes: each keeps public.alembic_version, so each got a database of its own, named by "
        "init: events, notes (the local database creates them; on your server, inv db.upgrade-all --create-databases does, "
        "or put your databases' names in services.NAME.database); to keep them in one database instead, each with a version table of its own, run dbtasks init --force --one-database "
        "(it writes migrations.yaml and tasks.py anew)",
        "depends_on and expect_tables: init took depends_on from the migrations (foreign keys, extensions, tables two services create) (none found); "
        "add the others, and uncomment expect_tables for verify to check them (docs/configuration.md)",
        "next: inv db.status",
    ]
    assert init.stderr == "" and (root / ".gitignore").read_text() == ".dbtasks/\n"

    # No DATABASE_URL: the local database, which creates each service's database itself; no edit at all
    try:
        local = shell.ok("inv", "db.upgrade-all")
        assert local.stdout.splitlines()[-1] == "2 ok, 0 failed, 0 skipped", local.stdout
        assert "initialized and started the local PostgreSQL under .dbtasks/" in local.stderr, local.stderr
        rows = json.loads(shell.ok("inv", "db.status", "--json").stdout)["services"]
        assert {(row["service"], row["database"], row["state"]) for row in rows} == {
            (service, service, "up to date") for service in SERVICES
        }, rows
    finally:
        shell.ok("inv", "db.local-stop")

    # inv db.lint-all: offline, with the venv's own squawk; create_table on a new table takes no risky lock
    linted = shell.ok("inv", "db.lint-all")
    assert summary_states(linted) == {"events": ("ok", "no findings in 1 revision"), "notes": ("ok", "no findings in 1 revision")}

    # DATABASE_URL names a server of ours: the databases the printed lines ask for, put in migrations.yaml
    own = {service: make_database() for service in SERVICES}
    text = (root / "migrations.yaml").read_text()
    for service, url in own.items():
        text = text.replace(f"    database: {service}\n", f"    database: {url.rsplit('/', 1)[1]}\n")
    (root / "migrations.yaml").write_text(text)

    # inv db.status
    status = shell.ok("inv", "db.status", url=database_url).stdout.splitlines()
    assert status[0].split() == ["service", "database", "schema", "current", "head", "pending", "state"]
    rows = {line.split()[0]: line.split() for line in status[2:]}
    for service, (_, revision) in SERVICES.items():
        assert rows[service][2:] == ["public", "-", revision, "1", "not", "initialized"], status

    # inv db.upgrade-all
    upgraded = shell.ok("inv", "db.upgrade-all", url=database_url)
    assert upgraded.stdout.splitlines()[-1] == "2 ok, 0 failed, 0 skipped", upgraded.stdout
    assert summary_states(upgraded) == {
        service: ("ok", f"base -> {revision} (1 migration)") for service, (_, revision) in SERVICES.items()
    }, upgraded.stdout
    for service, (_, revision) in SERVICES.items():
        assert f"{service} | Running upgrade  -> {revision}, create {service}" in upgraded.stderr, upgraded.stderr

    # inv db.status --json
    states = json.loads(shell.ok("inv", "db.status", "--json", url=database_url).stdout)["services"]
    assert [(s["service"], s["current"], s["head"], s["pending"], s["state"]) for s in states] == [
        (service, revision, revision, 0, "up to date") for service, (_, revision) in sorted(SERVICES.items())
    ]
    for service, (_, revision) in SERVICES.items():
        url = own[service]
        assert [row[0] for row in query(url, "SELECT version_num FROM public.alembic_version")] == [revision]
        assert tables(url, "public") == {"alembic_version", service}
    assert tables(database_url, "public") == set()  # DATABASE_URL's own database: neither service lives there
