"""`driver: psycopg` (psycopg 3): the service gets a postgresql+psycopg:// URL and every task works through it."""

from __future__ import annotations

from pathlib import Path

import pytest
from _support import assert_bad_input, assert_ok, head_of, inv, plant_migration, query, replace_once, version

pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install 'psycopg[binary]', the examples extra)")

# A migration that records which DBAPI module env.py's connection uses.
RECORD_DRIVER = (
    'from alembic import op\n\n    op.execute("COMMENT ON SCHEMA movements IS \'" + op.get_bind().dialect.driver + "\'")'
)


def test_a_psycopg3_service_runs_every_kind_of_task(project: Path, database_url: str) -> None:
    replace_once(
        project / "migrations.yaml",
        "    driver: psycopg2\n    expect_tables: [exercises",
        "    driver: psycopg\n    expect_tables: [exercises",
    )
    plant_migration(project, "movements", "d0d0d0d0d0d0", head_of("movements"), body=RECORD_DRIVER)
    upgraded = assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    assert "movements: upgraded base -> d0d0d0d0d0d0 (2 migrations)" in upgraded.stdout
    assert query(database_url, "SELECT obj_description('movements'::regnamespace, 'pg_namespace')") == [("psycopg",)]
    assert_ok(inv(project, "db.check", "movements", url=database_url))
    status = assert_ok(inv(project, "db.status", "--only", "movements", "--json", url=database_url))
    assert '"state": "up to date"' in status.stdout
    assert (
        "movements: downgraded d0d0d0d0d0d0 -> 0001 (1 migration)"
        in assert_ok(inv(project, "db.downgrade", "movements", "--yes", url=database_url)).stdout
    )
    assert version(database_url, "movements") == ["0001"]
    verified = assert_ok(inv(project, "db.verify", "movements", url=database_url))
    assert "FAILED" not in verified.stdout


def test_an_unknown_driver_names_the_three_known_ones(project: Path, database_url: str) -> None:
    replace_once(
        project / "migrations.yaml",
        "    driver: psycopg2\n    expect_tables: [exercises",
        "    driver: psycopg3\n    expect_tables: [exercises",
    )
    line = assert_bad_input(inv(project, "db.status", url=database_url))
    assert line.endswith("services.movements.driver: expected asyncpg, psycopg2 or psycopg (psycopg 3), got 'psycopg3'")
