"""Per-service tasks through Invoke on the example services, both drivers (asyncpg and psycopg2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _support import (
    CLOSED_URL,
    assert_bad_input,
    assert_failure,
    assert_ok,
    columns,
    declared_services,
    execute,
    expected_tables,
    head_of,
    inv,
    local_database_made,
    parent_of,
    plant_migration,
    plant_model_column,
    revisions_of,
    schema_of,
    show,
    snapshot,
    table_comment,
    tables,
    version,
    version_files,
    versions_folder,
)

DRIVERS = {"habits": "asyncpg", "movements": "psycopg2"}
# One service per driver: the tasks' paths differ by driver, not by which service's tables they migrate (every
# service runs through the -all tasks in test_all_tasks.py).
SERVICES = list(DRIVERS)
# Services with at least two migrations, for the revision forms that need a middle.
MULTI = [name for name in ("habits", "movements", "meals") if len(revisions_of(name)) >= 2]
BOTH_DRIVERS = list(DRIVERS)


def upgrade(project: Path, service: str, url: str, *extra: str) -> None:
    assert_ok(inv(project, "db.upgrade", service, *extra, url=url))


def assert_at(url: str, service: str, revisions: list[str]) -> None:
    assert version(url, schema_of(service)) == sorted(revisions)


def assert_at_base(url: str, service: str) -> None:
    """Nothing applied: at most an empty alembic_version table is left in the schema."""
    schema = schema_of(service)
    assert version(url, schema) == []
    assert tables(url, schema) <= {"alembic_version"}, tables(url, schema)


@pytest.fixture(autouse=True)
def dependencies_at_head(request: pytest.FixtureRequest) -> None:
    """A test of one service starts with the services it depends on at head, as upgrade-all would leave them
    (meals has a foreign key into users.users)."""
    service = getattr(getattr(request.node, "callspec", None), "params", {}).get("service")
    dependencies = declared_services().get(service or "", {}).get("depends_on") or []
    if dependencies:
        project, url = request.getfixturevalue("project"), request.getfixturevalue("database_url")
        assert_ok(inv(project, "db.upgrade-all", "--only", ",".join(dependencies), url=url))


# -- upgrade ----------------------------------------------------------------------------------------


def test_the_example_services_are_declared_for_both_drivers() -> None:
    assert {"habits", "movements"} <= set(list(declared_services()))


@pytest.mark.parametrize("service", SERVICES)
def test_upgrade_brings_the_service_to_head(project: Path, database_url: str, service: str) -> None:
    result = assert_ok(inv(project, "db.upgrade", service, url=database_url))
    assert result.stdout.startswith(f"{service}: upgraded")
    assert head_of(service) in result.stdout
    assert_at(database_url, service, [head_of(service)])
    assert expected_tables(service) <= tables(database_url, schema_of(service))


@pytest.mark.parametrize("service", SERVICES)
def test_upgrade_again_applies_nothing(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    before = snapshot(database_url)
    result = assert_ok(inv(project, "db.upgrade", service, url=database_url))
    assert "nothing to apply" in result.stdout
    assert snapshot(database_url) == before


@pytest.mark.parametrize("service", SERVICES)
def test_upgrade_touches_only_the_services_schema(project: Path, database_url: str, service: str) -> None:
    before = snapshot(database_url)  # its dependencies are at head already
    upgrade(project, service, database_url)
    after = snapshot(database_url)
    assert schema_of(service) in after and schema_of(service) not in before
    # Besides its own schema, only dbtasks' bookkeeping (the applied files' checksums), in a schema of its own.
    ours = (schema_of(service), "dbtasks_state")
    assert {schema: state for schema, state in after.items() if schema not in ours} == {
        schema: state for schema, state in before.items() if schema not in ours
    }
    assert tables(database_url, "dbtasks_state") == {"checksums"}


@pytest.mark.parametrize("service", MULTI)
def test_upgrade_to_a_specific_revision(project: Path, database_url: str, service: str) -> None:
    first = revisions_of(service)[0]
    result = assert_ok(inv(project, "db.upgrade", service, "--to", first, url=database_url))
    assert first in result.stdout
    assert_at(database_url, service, [first])


@pytest.mark.parametrize("service", MULTI)
def test_relative_revisions_move_one_step(project: Path, database_url: str, service: str) -> None:
    history = revisions_of(service)
    upgrade(project, service, database_url, "--to", "+1")
    assert_at(database_url, service, [history[0]])
    upgrade(project, service, database_url, "--to", "+1")
    assert_at(database_url, service, [history[1]])
    assert_ok(inv(project, "db.downgrade", service, "--to", "-1", "--yes", url=database_url))
    assert_at(database_url, service, [history[0]])


@pytest.mark.parametrize("service", BOTH_DRIVERS)
def test_upgrade_plus_one_from_base(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url, "--to", "+1")
    assert_at(database_url, service, [revisions_of(service)[0]])


@pytest.mark.parametrize("service", MULTI)
def test_unique_prefixes_are_accepted(project: Path, database_url: str, service: str) -> None:
    first, head = revisions_of(service)[0], head_of(service)
    upgrade(project, service, database_url, "--to", first[:4])
    assert_at(database_url, service, [first])
    upgrade(project, service, database_url, "--to", head[:4])
    assert_at(database_url, service, [head])


# -- downgrade --------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("target", [(), ("--to", "base"), ("--to", "-1")])
def test_downgrade_is_refused_without_yes(project: Path, database_url: str, service: str, target: tuple[str, ...]) -> None:
    upgrade(project, service, database_url)
    before = snapshot(database_url)
    line = assert_bad_input(inv(project, "db.downgrade", service, *target, url=database_url))
    assert line.startswith(f"{service}: ")
    assert "--yes" in line
    assert snapshot(database_url) == before


@pytest.mark.parametrize("service", SERVICES)
def test_downgrade_with_yes_goes_one_step_back(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    result = assert_ok(inv(project, "db.downgrade", service, "--yes", url=database_url))
    assert result.stdout.startswith(f"{service}: downgraded")
    history = revisions_of(service)
    if len(history) >= 2:
        assert_at(database_url, service, [history[-2]])
        assert expected_tables(service) & tables(database_url, schema_of(service))
    else:
        assert_at_base(database_url, service)


@pytest.mark.parametrize("service", SERVICES)
def test_downgrade_to_base_removes_every_table(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    result = assert_ok(inv(project, "db.downgrade", service, "--to", "base", "--yes", url=database_url))
    count = len(revisions_of(service))
    assert result.stdout.strip().splitlines()[-1] == (
        f"{service}: downgraded {head_of(service)} -> base ({count} migration{'s' if count > 1 else ''})"
    ), show(result)
    assert_at_base(database_url, service)


# -- current, history, heads ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_current_shows_the_databases_revision(project: Path, database_url: str, service: str) -> None:
    before = assert_ok(inv(project, "db.current", service, url=database_url))
    assert head_of(service) not in before.stdout.replace(f"head is {head_of(service)}", "")
    assert "nothing applied" in before.stdout
    upgrade(project, service, database_url)
    after = assert_ok(inv(project, "db.current", service, url=database_url))
    assert after.stdout.strip() == f"{head_of(service)} (head)"


@pytest.mark.parametrize("service", SERVICES)
def test_history_lists_every_migration_newest_first(project: Path, service: str) -> None:
    result = assert_ok(inv(project, "db.history", service, url=CLOSED_URL))
    listed = [re.search(r"-> ([^\s,]+)", line)[1] for line in result.stdout.splitlines() if "->" in line]  # type: ignore[index]
    assert listed == list(reversed(revisions_of(service)))
    assert "(head)" in result.stdout.splitlines()[0]


@pytest.mark.parametrize("service", SERVICES)
def test_heads_lists_the_head(project: Path, service: str) -> None:
    result = assert_ok(inv(project, "db.heads", service, url=CLOSED_URL))
    assert result.stdout.split() == [head_of(service), "(head)"]


# -- stamp and reset ---------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_stamp_changes_the_recorded_revision_and_not_the_tables(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    schema = schema_of(service)
    before = tables(database_url, schema)

    assert_ok(inv(project, "db.stamp", service, "base", "--yes", url=database_url))
    assert version(database_url, schema) == []
    assert tables(database_url, schema) == before

    result = assert_ok(inv(project, "db.stamp", service, "head", "--yes", url=database_url))
    assert head_of(service) in result.stdout
    assert version(database_url, schema) == [head_of(service)]
    assert tables(database_url, schema) == before


@pytest.mark.parametrize("service", MULTI)
def test_stamp_a_revision_id(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    before = tables(database_url, schema_of(service))
    first = revisions_of(service)[0]
    assert_ok(inv(project, "db.stamp", service, first, "--yes", url=database_url))
    assert_at(database_url, service, [first])
    assert tables(database_url, schema_of(service)) == before


@pytest.mark.parametrize("service", BOTH_DRIVERS)
def test_stamp_is_refused_without_yes(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    before = snapshot(database_url)
    line = assert_bad_input(inv(project, "db.stamp", service, "base", url=database_url))
    assert line.startswith(f"{service}: ") and "--yes" in line
    assert snapshot(database_url) == before


@pytest.mark.parametrize("service", SERVICES)
def test_reset_recreates_the_tables(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    schema = schema_of(service)
    marked = sorted(expected_tables(service))[0]
    execute(database_url, f'COMMENT ON TABLE "{schema}"."{marked}" IS \'made before the reset\'')

    result = assert_ok(inv(project, "db.reset", service, "--yes", url=database_url))
    assert service in result.stdout
    assert version(database_url, schema) == [head_of(service)]
    assert expected_tables(service) <= tables(database_url, schema)
    assert table_comment(database_url, schema, marked) is None  # the table was dropped and created again


@pytest.mark.parametrize("service", BOTH_DRIVERS)
def test_reset_is_refused_without_yes(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    before = snapshot(database_url)
    line = assert_bad_input(inv(project, "db.reset", service, url=database_url))
    assert line.startswith(f"{service}: ") and "--yes" in line
    assert snapshot(database_url) == before


# -- sql (offline) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_sql_renders_without_a_database(project: Path, service: str) -> None:
    result = assert_ok(inv(project, "db.sql", service, url=CLOSED_URL))
    schema = schema_of(service)
    assert "CREATE TABLE" in result.stdout
    for table in expected_tables(service):
        assert f"CREATE TABLE {schema}.{table} " in result.stdout
    assert f"INSERT INTO {schema}.alembic_version" in result.stdout
    assert not local_database_made(project)


@pytest.mark.parametrize("service", BOTH_DRIVERS)
def test_sql_without_any_url_never_starts_a_database(project: Path, service: str) -> None:
    result = assert_ok(inv(project, "db.sql", service))
    assert "CREATE TABLE" in result.stdout
    assert not local_database_made(project)


@pytest.mark.parametrize("service", BOTH_DRIVERS)
def test_sql_output_writes_a_file(project: Path, tmp_path: Path, service: str) -> None:
    target = tmp_path / "out" / f"{service}.sql"
    result = assert_ok(inv(project, "db.sql", service, "--output", str(target), url=CLOSED_URL))
    assert target.is_file()
    text = target.read_text(encoding="utf-8")
    assert "CREATE TABLE" in text
    assert "CREATE TABLE" not in result.stdout
    assert str(target) in result.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_sql_from_head_to_base_renders_a_downgrade(project: Path, service: str) -> None:
    result = assert_ok(inv(project, "db.sql", service, "--from", head_of(service), "--to", "base", url=CLOSED_URL))
    schema = schema_of(service)
    assert "CREATE TABLE" not in result.stdout
    for table in expected_tables(service):
        assert f"DROP TABLE {schema}.{table}" in result.stdout
    assert f"DELETE FROM {schema}.alembic_version" in result.stdout


@pytest.mark.parametrize("service", MULTI)
def test_sql_of_one_step(project: Path, service: str) -> None:
    first, second = revisions_of(service)[:2]
    result = assert_ok(inv(project, "db.sql", service, "--from", first, "--to", second, url=CLOSED_URL))
    assert f"Running upgrade {first} -> {second}" in result.stdout
    assert f"-> {first}" not in result.stdout.replace(f"{first} -> {second}", "")


# -- check ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_check_passes_right_after_upgrade(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    before = snapshot(database_url)
    result = assert_ok(inv(project, "db.check", service, url=database_url))
    assert result.stdout.startswith(f"{service}: OK")
    assert snapshot(database_url) == before


@pytest.mark.parametrize("service", SERVICES)
def test_check_fails_on_a_model_change_naming_the_difference(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    table = plant_model_column(project, service, "color")
    before = snapshot(database_url)
    result = inv(project, "db.check", service, url=database_url)
    line = assert_failure(result, service)
    assert "differ" in line
    difference = f"{schema_of(service)}.{table}.color"
    assert difference in result.stdout, show(result)
    assert snapshot(database_url) == before


@pytest.mark.parametrize("service", MULTI)
def test_check_fails_when_not_at_head_naming_both_revisions(project: Path, database_url: str, service: str) -> None:
    first = revisions_of(service)[0]
    upgrade(project, service, database_url, "--to", first)
    before = snapshot(database_url)
    line = assert_failure(inv(project, "db.check", service, url=database_url), service)
    assert first in line and head_of(service) in line
    assert f"inv db.upgrade {service}" in line
    assert snapshot(database_url) == before


# -- generate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_generate_writes_a_migration_for_a_model_change(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    table = plant_model_column(project, service, "color")
    before_files = version_files(project, service)

    result = assert_ok(inv(project, "db.generate", service, "-m", "add color", url=database_url))
    new_files = version_files(project, service) - before_files
    assert len(new_files) == 1, show(result)
    path = versions_folder(project, service) / new_files.pop()
    assert path.name.endswith("_add_color.py")
    assert result.stdout.strip().splitlines()[-1] == str(path.relative_to(project))
    text = path.read_text(encoding="utf-8")
    assert "op.add_column(" in text and '"color"' in text and f'"{table}"' in text
    assert_at(database_url, service, [head_of(service)])  # generating applies nothing

    upgrade(project, service, database_url)
    assert "color" in columns(database_url, schema_of(service), table)
    assert version(database_url, schema_of(service)) == [head_of(service, project)]
    assert_ok(inv(project, "db.check", service, url=database_url))


@pytest.mark.parametrize("service", BOTH_DRIVERS)
def test_generate_without_a_model_change_writes_nothing(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    before_files = version_files(project, service)
    result = assert_ok(inv(project, "db.generate", service, "-m", "nothing changed", url=database_url))
    assert version_files(project, service) == before_files
    assert "no migration written" in result.stdout
    assert result.stdout.startswith(f"{service}: ")


@pytest.mark.parametrize("service", BOTH_DRIVERS)
def test_generate_empty_writes_an_empty_migration(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    before_files = version_files(project, service)
    before = snapshot(database_url)
    result = assert_ok(inv(project, "db.generate", service, "-m", "hand written", "--empty", url=database_url))
    new_files = version_files(project, service) - before_files
    assert len(new_files) == 1
    path = versions_folder(project, service) / new_files.pop()
    assert result.stdout.strip().splitlines()[-1] == str(path.relative_to(project))
    text = path.read_text(encoding="utf-8")
    assert "def upgrade()" in text and "op." not in text.split("def upgrade()", 1)[1]
    assert head_of(service) in text  # it follows the head it was generated on
    assert snapshot(database_url) == before
    assert head_of(service, project) == path.name.split("_", 1)[0]


@pytest.mark.parametrize("service", MULTI)
def test_generate_is_refused_when_the_database_is_not_at_head(project: Path, database_url: str, service: str) -> None:
    first = revisions_of(service)[0]
    upgrade(project, service, database_url, "--to", first)
    plant_model_column(project, service, "color")
    before_files = version_files(project, service)
    before = snapshot(database_url)
    line = assert_failure(inv(project, "db.generate", service, "-m", "add color", url=database_url), service)
    assert first in line and head_of(service) in line
    assert f"inv db.upgrade {service}" in line
    assert version_files(project, service) == before_files
    assert snapshot(database_url) == before


@pytest.mark.parametrize("service", BOTH_DRIVERS)
def test_generate_needs_a_message(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    before_files = version_files(project, service)
    line = assert_bad_input(inv(project, "db.generate", service, url=database_url))
    assert line.startswith(f"{service}: ") and "message" in line
    assert version_files(project, service) == before_files


# -- merge ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", BOTH_DRIVERS)
def test_two_heads_fail_naming_both_and_merge_fixes_them(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    head = head_of(service)
    parent = parent_of(service, head)
    plant_migration(project, service, "b0b0b0b0b0b0", parent)
    before = snapshot(database_url)

    for task in ("db.upgrade", "db.check"):
        line = assert_failure(inv(project, task, service, url=database_url), service)
        assert head in line and "b0b0b0b0b0b0" in line
        assert f"inv db.merge {service}" in line
    assert snapshot(database_url) == before

    heads = assert_ok(inv(project, "db.heads", service, url=database_url))
    assert {head, "b0b0b0b0b0b0"} <= set(heads.stdout.split())

    before_files = version_files(project, service)
    merged = assert_ok(inv(project, "db.merge", service, url=database_url))
    new_files = version_files(project, service) - before_files
    assert len(new_files) == 1
    assert merged.stdout.strip().splitlines()[-1] == str(
        (versions_folder(project, service) / next(iter(new_files))).relative_to(project)
    )
    merge_revision = head_of(service, project)

    upgrade(project, service, database_url)
    assert version(database_url, schema_of(service)) == [merge_revision]
    assert_ok(inv(project, "db.check", service, url=database_url))


@pytest.mark.parametrize("service", BOTH_DRIVERS)
def test_merge_with_one_head_writes_nothing(project: Path, database_url: str, service: str) -> None:
    before_files = version_files(project, service)
    line = assert_failure(inv(project, "db.merge", service, url=database_url), service)
    assert "one head" in line
    assert version_files(project, service) == before_files
