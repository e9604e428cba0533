"""The schema fence: several services share one database, their env.py files compare every schema
(include_schemas=True, no filter), yet check and generate only ever see the service's own schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import (
    assert_ok,
    copy_project,
    create_database,
    declared_services,
    drop_database,
    execute,
    inv,
    plant_model_column,
    schema_of,
    show,
    version_files,
    versions_folder,
)

SERVICES = list(declared_services())
# Tables no service owns: one in another schema, one in the default schema.
FOREIGN = ("analytics.page_views", "public.legacy_accounts")


def share_one_database(project: Path, url: str) -> str:
    """Upgrade every present service into `url` and add tables that belong to nobody."""
    assert len(SERVICES) >= 2
    assert_ok(inv(project, "db.upgrade-all", "--only", ",".join(SERVICES), url=url))
    execute(
        url,
        "CREATE SCHEMA analytics",
        "CREATE TABLE analytics.page_views (id int PRIMARY KEY, path text)",
        "CREATE TABLE public.legacy_accounts (id int PRIMARY KEY)",
    )
    return url


@pytest.fixture(scope="module")
def shared(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """For the tests that change nothing: one project copy and one shared database per module."""
    project = copy_project(tmp_path_factory.mktemp("fence") / "repo")
    url = create_database(pg_server)
    try:
        yield project, share_one_database(project, url)
    finally:
        drop_database(pg_server, url)


@pytest.fixture
def shared_database(project: Path, database_url: str) -> str:
    """For the tests that plant a change: their own copy and database."""
    return share_one_database(project, database_url)


def foreign_names(service: str) -> list[str]:
    """Strings that must never appear in what check or generate says about `service`."""
    names = [f"{schema_of(other)}." for other in SERVICES if other != service]
    names += [f"'{schema_of(other)}'" for other in SERVICES if other != service]
    return [*names, "analytics", "page_views", "legacy_accounts"]


def assert_fenced(text: str, service: str) -> None:
    for name in foreign_names(service):
        assert name not in text, f"{name!r} leaked into {service}'s output:\n{text}"


def test_the_env_files_compare_every_schema_without_a_filter(project: Path) -> None:
    for service in SERVICES:
        env = (project / declared_services()[service]["path"] / "alembic" / "env.py").read_text(encoding="utf-8")
        assert "include_schemas=True" in env, service
        assert "include_name" not in env and "include_object" not in env, service


def test_plain_alembic_check_sees_the_other_schemas(shared: tuple[Path, str]) -> None:
    """The control: without dbtasks, `alembic check` on one service wants to drop the others' tables."""
    project, shared_database = shared
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment.update(DATABASE_URL=shared_database, PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "check"],
        cwd=project / "services" / "habits",
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0, show(result)
    assert "remove_table" in result.stdout + result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_check_sees_only_its_own_schema(shared: tuple[Path, str], service: str) -> None:
    project, shared_database = shared
    result = assert_ok(inv(project, "db.check", service, url=shared_database))
    assert result.stdout.startswith(f"{service}: OK")
    assert_fenced(result.stdout + result.stderr, service)


def test_check_all_json_passes_for_every_service(shared: tuple[Path, str]) -> None:
    project, shared_database = shared
    result = assert_ok(inv(project, "db.check-all", "--json", "--only", ",".join(SERVICES), url=shared_database))
    entries = json.loads(result.stdout)["services"]
    clean = {"edited": [], "missing": [], "unknown": []}
    assert entries == [{"service": service, "ok": True, "differences": [], "checksums": clean} for service in SERVICES]


@pytest.mark.parametrize("service", [name for name in ("habits", "movements") if name in SERVICES])
def test_a_planted_change_is_the_only_difference(project: Path, shared_database: str, service: str) -> None:
    table = plant_model_column(project, service, "color")
    result = inv(project, "db.check", service, url=shared_database)
    assert result.returncode == 1, show(result)
    differences = [line for line in result.stdout.splitlines() if line.startswith("  - ")]
    assert differences == [f"  - add column {schema_of(service)}.{table}.color"], show(result)
    assert_fenced(result.stdout + result.stderr, service)


@pytest.mark.parametrize("service", [name for name in ("habits", "movements") if name in SERVICES])
def test_generate_writes_only_the_services_own_schema(project: Path, shared_database: str, service: str) -> None:
    table = plant_model_column(project, service, "color")
    before = version_files(project, service)
    result = assert_ok(inv(project, "db.generate", service, "-m", "add color", url=shared_database))
    created = version_files(project, service) - before
    assert len(created) == 1, show(result)
    text = (versions_folder(project, service) / created.pop()).read_text(encoding="utf-8")
    assert "op.add_column(" in text and f'"{table}"' in text and f'schema="{schema_of(service)}"' in text
    assert "drop_table" not in text and "create_table" not in text
    assert_fenced(text, service)
    assert_fenced(result.stdout + result.stderr, service)


@pytest.mark.parametrize("service", [name for name in ("habits", "movements") if name in SERVICES])
def test_generate_without_a_change_ignores_other_schemas(shared: tuple[Path, str], service: str) -> None:
    project, shared_database = shared
    before = version_files(project, service)
    result = assert_ok(inv(project, "db.generate", service, "-m", "nothing", url=shared_database))
    assert version_files(project, service) == before
    assert "no migration written" in result.stdout
    assert_fenced(result.stdout + result.stderr, service)
