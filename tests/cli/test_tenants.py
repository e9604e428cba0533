"""examples/tenants: one database holding a schema per tenant, the notes service's env.py reading `-x tenant=`,
migrated as a fleet whose x hands each member's name to env.py."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from _support import REPO, assert_ok, inv, schemas, show, tables, version

EXAMPLE = REPO / "examples" / "tenants"
TENANTS = ["acme", "globex", "initech"]
HEAD = "5b1e0c7a9d24"


@pytest.fixture
def tenants(tmp_path: Path) -> Path:
    """A copy of examples/tenants a test may change."""
    return Path(shutil.copytree(EXAMPLE, tmp_path / "tenants", ignore=shutil.ignore_patterns("__pycache__")))


def test_each_tenant_gets_its_own_schema_tables_and_version(tenants: Path, database_url: str) -> None:
    result = assert_ok(inv(tenants, "db.upgrade-all", "--targets", "tenants", url=database_url))
    assert "tenants: 3 targets: 3 ok" in result.stdout, show(result)
    for tenant in TENANTS:
        assert version(database_url, tenant) == [HEAD], tenant
        assert tables(database_url, tenant) == {"notes", "alembic_version"}, tenant
    assert "notes" not in tables(database_url, "public")

    status = assert_ok(inv(tenants, "db.status", "--targets", "tenants", "--json", url=database_url))
    document = json.loads(status.stdout)
    assert document["counts"] == {"up to date": 3}, document
    rows = {entry["target"]: entry["services"][0] for entry in document["targets"]}
    assert {tenant: (row["schema"], row["current"]) for tenant, row in rows.items()} == {t: (t, HEAD) for t in TENANTS}
    one = assert_ok(inv(tenants, "db.status", "--targets", "tenants", "--target", "globex", url=database_url))
    assert one.stdout.strip().splitlines()[2].split() == ["notes", "globex", HEAD, HEAD, "0", "up", "to", "date"], show(one)
    assert one.stdout.strip().splitlines()[-1] == "tenants: 1 targets: 1 up to date", show(one)
    checked = assert_ok(inv(tenants, "db.check-all", "--targets", "tenants", "--json", url=database_url))
    assert json.loads(checked.stdout)["counts"] == {"ok": 3}, show(checked)


def test_one_tenant_goes_down_and_the_others_stay(tenants: Path, database_url: str) -> None:
    assert_ok(inv(tenants, "db.upgrade-all", "--targets", "tenants", url=database_url))
    result = assert_ok(
        inv(tenants, "db.downgrade-all", "--to", "base", "--yes", "--targets", "tenants", "--target", "globex", url=database_url)
    )
    assert "tenants: 1 targets: 1 ok" in result.stdout, show(result)
    assert version(database_url, "globex") == [] and "notes" not in tables(database_url, "globex")
    assert version(database_url, "acme") == [HEAD] and version(database_url, "initech") == [HEAD]


def test_a_new_tenant_in_the_file_is_migrated_on_the_next_run(tenants: Path, database_url: str) -> None:
    assert_ok(inv(tenants, "db.upgrade-all", "--targets", "tenants", url=database_url))
    with (tenants / "tenants.txt").open("a", encoding="utf-8") as handle:
        handle.write("umbrella\n")
    result = assert_ok(inv(tenants, "db.upgrade-all", "--targets", "tenants", url=database_url))
    assert "tenants: 4 targets: 4 ok" in result.stdout, show(result)
    assert version(database_url, "umbrella") == [HEAD]
    assert {"acme", "globex", "initech", "umbrella"} <= schemas(database_url)


def test_without_x_the_service_uses_public(tenants: Path, database_url: str) -> None:
    assert_ok(inv(tenants, "db.upgrade", "notes", url=database_url))
    assert version(database_url, "public") == [HEAD]
    assert "notes" in tables(database_url, "public")
    assert not set(TENANTS) & schemas(database_url)


def test_sql_all_writes_a_folder_per_tenant(tenants: Path, tmp_path: Path) -> None:
    out = tmp_path / "sql"
    result = assert_ok(inv(tenants, "db.sql-all", "--output-dir", str(out), "--targets", "tenants"))
    assert "tenants: 3 targets: 3 ok" in result.stdout, show(result)
    for tenant in TENANTS:
        text = (out / tenant / "notes.sql").read_text(encoding="utf-8")
        assert f'SET search_path TO "{tenant}"' in text, text
        assert f"{tenant}.alembic_version" in text, text


def test_check_all_names_each_tenants_differences(tenants: Path, database_url: str) -> None:
    assert_ok(inv(tenants, "db.upgrade-all", "--targets", "tenants", url=database_url))
    models = tenants / "notes" / "models.py"
    models.write_text(
        models.read_text(encoding="utf-8").replace(
            '    Column("body", Text, nullable=False),\n',
            '    Column("body", Text, nullable=False),\n    Column("color", Text),\n',
        ),
        encoding="utf-8",
    )
    result = inv(tenants, "db.check-all", "--targets", "tenants", url=database_url)
    assert result.returncode == 1, show(result)
    lines = result.stdout.strip().splitlines()
    assert lines[:3] == [f"{tenant}/notes: - add column notes.color" for tenant in TENANTS], show(result)
    assert lines[-1] == "tenants: 3 targets: 3 failed", show(result)
    assert all(re.search(rf"^{tenant} +failed +notes: 1 difference$", result.stdout, re.M) for tenant in TENANTS), show(result)
