"""The layout examples (examples/layouts): services as `alembic init` makes them, driven with no edit to their
files, through a copy of tasks.py beside their own migrations.yaml."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO, assert_failure, assert_ok, inv, query, tables

EXAMPLES = REPO / "examples" / "layouts"


@pytest.fixture
def layouts(tmp_path: Path) -> Path:
    root = tmp_path / "layouts"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns("__pycache__", ".dbtasks"))
    return root


def public_version(url: str) -> list[str]:
    return [row[0] for row in query(url, "SELECT version_num FROM public.alembic_version")]


def test_a_plain_alembic_init_service_in_public_runs_every_kind_of_task(layouts: Path, database_url: str) -> None:
    result = assert_ok(inv(layouts, "db.upgrade-all", url=database_url))
    assert "plain_sync  ok      base -> 4a1b2c3d4e5f (1 migration)" in result.stdout
    assert public_version(database_url) == ["4a1b2c3d4e5f"]
    assert "notes" in tables(database_url, "public")

    status = json.loads(assert_ok(inv(layouts, "db.status", "--json", url=database_url)).stdout)
    assert status["services"] == [
        {
            "service": "plain_sync",
            "schema": "public",
            "current": "4a1b2c3d4e5f",
            "head": "4a1b2c3d4e5f",
            "pending": 0,
            "state": "up to date",
        }
    ]
    checked = assert_ok(inv(layouts, "db.check", "plain_sync", url=database_url))
    assert "no models to compare: env.py has no target_metadata" in checked.stdout
    line = assert_failure(inv(layouts, "db.generate", "plain_sync", "-m", "x", url=database_url), "plain_sync")
    assert "--empty" in line

    verified = json.loads(assert_ok(inv(layouts, "db.verify", "plain_sync", "--json", url=database_url)).stdout)
    results = {check["name"]: check["ok"] for check in verified["checks"]}
    assert results.pop("drift") is None and results.pop("expected-tables") is None  # no models, no expect_tables
    assert all(results.values()), verified

    assert_ok(inv(layouts, "db.downgrade", "plain_sync", "--yes", url=database_url))
    assert public_version(database_url) == [] and "notes" not in tables(database_url, "public")
