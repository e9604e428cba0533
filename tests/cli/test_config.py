"""migrations.yaml is validated before any database is touched: every bad input is one line
`migrations.yaml:<line>: <path>: <message>`, exit 2, and the database stays as it was."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from _support import assert_bad_input, declared_services, inv, local_database_made, replace_once, snapshot, version

from dbtasks import config

CONFIG = "migrations.yaml"


def edit_config(project: Path, old: str, new: str) -> None:
    """Replace the one occurrence of `old` in the copy's migrations.yaml."""
    replace_once(project / CONFIG, old, new)


def service_block(project: Path, service: str) -> str:
    """The text of one service's mapping in the copy's migrations.yaml, from its name to the next service."""
    text = (project / CONFIG).read_text(encoding="utf-8")
    match = re.search(rf"^  {service}:\n(?:^    .*\n|^\s*\n)*", text, re.M)
    assert match, f"no block for {service}"
    return match[0]


def edit_service(project: Path, service: str, old: str, new: str) -> None:
    """Replace `old` inside one service's block only."""
    block = service_block(project, service)
    assert block.count(old) == 1, f"{old!r} occurs {block.count(old)} times in the {service} block"
    edit_config(project, block, block.replace(old, new))


def add_to_service(project: Path, service: str, line: str) -> None:
    block = service_block(project, service)
    edit_config(project, block, block.rstrip("\n") + f"\n    {line}\n")


def key_line(project: Path, *path: str) -> int:
    """The 1-based line of the key at `path` (e.g. 'services', 'habits', 'driver'), read with PyYAML."""
    node = yaml.compose((project / CONFIG).read_text(encoding="utf-8"))
    line = 0
    for key in path:
        for key_node, value_node in node.value:
            if key_node.value == key:
                line, node = key_node.start_mark.line + 1, value_node
                break
        else:
            raise AssertionError(f"no key {'.'.join(path)} in {CONFIG}")
    return line


def line_containing(project: Path, text: str) -> int:
    lines = (project / CONFIG).read_text(encoding="utf-8").splitlines()
    found = [number for number, line in enumerate(lines, start=1) if text in line]
    assert len(found) == 1, f"{text!r} on lines {found}"
    return found[0]


@pytest.fixture
def rejects(project: Path, database_url: str) -> Callable[..., str]:
    """Run a task that would change the database; return its one error line after checking exit 2 and
    that the catalog is exactly as before."""

    def run(*task: str) -> str:
        before = snapshot(database_url)
        result = inv(project, *(task or ("db.upgrade-all",)), url=database_url)
        line = assert_bad_input(result, code=2)
        assert snapshot(database_url) == before
        return line

    return run


def known_services() -> str:
    return ", ".join(declared_services())


# -- each bad input ------------------------------------------------------------------------------


def test_unknown_key_is_named_with_a_suggestion(project: Path, rejects: Callable[..., str]) -> None:
    edit_service(project, "habits", "driver: asyncpg", "drivr: asyncpg")
    line = rejects()
    expected = key_line(project, "services", "habits", "drivr")
    assert re.fullmatch(rf"{CONFIG}:{expected}: services\.habits\.drivr: .*did you mean 'driver'\?.*", line), line


def test_unknown_optional_key_is_named_with_a_suggestion(project: Path, rejects: Callable[..., str]) -> None:
    edit_service(project, "habits", "expect_tables:", "expect_table:")
    line = rejects("db.upgrade", "habits")
    expected = key_line(project, "services", "habits", "expect_table")
    assert re.fullmatch(rf"{CONFIG}:{expected}: services\.habits\.expect_table: .*did you mean 'expect_tables'\?.*", line), line


def test_unknown_top_level_key_is_named(project: Path, rejects: Callable[..., str]) -> None:
    edit_config(project, "services:\n", "servics:\n")
    line = rejects()
    expected = key_line(project, "servics")
    assert re.fullmatch(rf"{CONFIG}:{expected}: servics: .*did you mean 'services'\?.*", line), line


def test_wrong_driver_has_the_exact_message(project: Path, rejects: Callable[..., str]) -> None:
    edit_service(project, "habits", "driver: asyncpg", "driver: asyncpgg")
    line = rejects()
    expected = line_containing(project, "driver: asyncpgg")
    assert (
        line == f"{CONFIG}:{expected}: services.habits.driver: expected asyncpg, psycopg2 or psycopg (psycopg 3), got 'asyncpgg'"
    )


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ("depends_on: [users]", "depends_on: users", "depends_on", "expected a list of service names, got 'users'"),
        ("schema: habits", "schema: 12", "schema", "expected a schema name (ASCII letters, digits, _ and $; at most 63), got 12"),
        (
            "expect_tables: [habits, habit_tracking, program_templates]",
            "expect_tables: habits",
            "expect_tables",
            "expected a list of table names, got 'habits'",
        ),
    ],
)
def test_wrong_type_is_named_with_what_was_expected(
    project: Path, rejects: Callable[..., str], old: str, new: str, key: str, message: str
) -> None:
    edit_service(project, "habits", old, new)
    line = rejects()
    expected = line_containing(project, new)
    assert line == f"{CONFIG}:{expected}: services.habits.{key}: {message}"


def test_unknown_dependency_is_named_with_a_suggestion(project: Path, rejects: Callable[..., str]) -> None:
    edit_service(project, "habits", "depends_on: [users]", "depends_on: [userz]")
    line = rejects()
    expected = key_line(project, "services", "habits", "depends_on")
    assert re.fullmatch(
        rf"{CONFIG}:{expected}: services\.habits\.depends_on: unknown service 'userz'; did you mean 'users'\?.*", line
    ), line


def test_dependency_cycle_is_named(project: Path, rejects: Callable[..., str]) -> None:
    add_to_service(project, "users", "depends_on: [practices]")
    line = rejects()
    match = re.fullmatch(rf"{CONFIG}:(\d+): services\.(users|practices)\.depends_on: (.*)", line)
    assert match, line
    assert int(match[1]) == key_line(project, "services", match[2], "depends_on"), line
    assert "cycle" in match[3]
    assert "users" in match[3] and "practices" in match[3]


def test_missing_folder_is_named(project: Path, rejects: Callable[..., str]) -> None:
    edit_service(project, "habits", "path: services/habits", "path: services/habitz")
    line = rejects()
    expected = key_line(project, "services", "habits", "path")
    assert re.fullmatch(rf"{CONFIG}:{expected}: services\.habits\.path: .*services/habitz.*does not exist.*", line), line


def test_missing_alembic_ini_named_in_the_file_is_named(project: Path, rejects: Callable[..., str]) -> None:
    add_to_service(project, "habits", "alembic_ini: migrations.ini")
    line = rejects()
    expected = key_line(project, "services", "habits", "alembic_ini")
    assert re.fullmatch(rf"{CONFIG}:{expected}: services\.habits\.alembic_ini: .*migrations\.ini does not exist.*", line), line


def test_missing_default_alembic_ini_is_named(project: Path, rejects: Callable[..., str]) -> None:
    (project / "services" / "habits" / "alembic.ini").unlink()
    line = rejects()
    allowed = {key_line(project, "services", "habits"), key_line(project, "services", "habits", "path")}
    match = re.fullmatch(rf"{CONFIG}:(\d+): services\.habits\.alembic_ini: .*alembic\.ini does not exist.*", line)
    assert match and int(match[1]) in allowed, line


def test_two_services_sharing_one_version_table_are_both_named(project: Path, rejects: Callable[..., str]) -> None:
    # One schema may hold several services; one version table may not (their env.py both use alembic_version).
    edit_service(project, "meals", "schema: meals", "schema: habits")
    line = rejects()
    expected = key_line(project, "services", "meals", "schema")
    assert re.fullmatch(
        rf"{CONFIG}:{expected}: services\.meals: keeps its version table in habits\.alembic_version, like 'habits' "
        r"in the same database; .*version_table: alembic_version_meals.*",
        line,
    ), line


def test_two_services_may_share_a_schema_with_version_tables_of_their_own(project: Path) -> None:
    edit_service(project, "meals", "schema: meals", "schema: habits\n    version_table: alembic_version_meals")
    loaded = config.load(project / "migrations.yaml")
    assert loaded.services["meals"].expected_version_table == ("habits", "alembic_version_meals")
    assert loaded.services["habits"].expected_version_table == ("habits", "alembic_version")
    assert loaded.shared_schemas(loaded.services["meals"]) == ["habits"]


def test_invalid_yaml_syntax_is_one_line_with_its_line(project: Path, rejects: Callable[..., str]) -> None:
    edit_service(project, "habits", "    schema: habits", "      schema: habits")  # indented under path
    line = rejects()
    expected = line_containing(project, "      schema: habits")
    assert re.fullmatch(rf"{CONFIG}:{expected}: .*YAML.*", line), line


def test_missing_file_is_named(project: Path, rejects: Callable[..., str]) -> None:
    (project / CONFIG).unlink()
    line = rejects()
    assert line.startswith(f"{CONFIG}: ")
    assert "not found" in line


@pytest.mark.parametrize("value", ["2", "'1'", "0"])
def test_version_other_than_1_is_rejected(project: Path, rejects: Callable[..., str], value: str) -> None:
    edit_config(project, "version: 1\n", f"version: {value}\n")
    line = rejects()
    expected = key_line(project, "version")
    assert re.fullmatch(rf"{CONFIG}:{expected}: version: expected 1, got .*", line), line


def test_a_broken_service_does_not_cascade_into_errors_about_its_dependents(project: Path, rejects: Callable[..., str]) -> None:
    """One bad input, one line: practices depends on movements, whose folder is wrong; practices'
    dependency on a service that *is* declared must not be reported as unknown."""
    edit_service(project, "movements", "path: services/movements", "path: services/movementz")
    line = rejects()
    assert line.startswith(f"{CONFIG}:{key_line(project, 'services', 'movements', 'path')}: services.movements.path: "), line


# -- the service named on the command line ------------------------------------------------------


def test_unknown_service_on_the_command_line_suggests_the_closest(project: Path, rejects: Callable[..., str]) -> None:
    line = rejects("db.upgrade", "habit")
    assert line == f"unknown service 'habit'; did you mean 'habits'? known: {known_services()}"


@pytest.mark.parametrize(
    "task",
    [
        ("db.downgrade", "movement", "--yes"),
        ("db.check", "movement"),
        ("db.stamp", "movement", "head", "--yes"),
        ("db.upgrade-all", "--only", "movement"),
        ("db.upgrade-all", "--exclude", "movement"),
    ],
)
def test_unknown_service_in_other_tasks(rejects: Callable[..., str], task: tuple[str, ...]) -> None:
    line = rejects(*task)
    assert line == f"unknown service 'movement'; did you mean 'movements'? known: {known_services()}"


def test_unknown_service_without_a_close_name_lists_the_known_ones(rejects: Callable[..., str]) -> None:
    line = rejects("db.upgrade", "zzzz")
    assert line == f"unknown service 'zzzz'; known: {known_services()}"


def test_merge_keys_and_extension_fields_share_settings(project: Path, database_url: str) -> None:
    """`x-` top-level fields hold anchors and `<<: *common` merges them; explicit keys win."""
    text = (project / CONFIG).read_text(encoding="utf-8")
    text = text.replace("services:\n", "x-sync: &sync\n  driver: psycopg2\n  schema: not-used\nservices:\n", 1)
    block = service_block(project, "movements")
    merged = block.replace("    driver: psycopg2\n", "    <<: *sync\n")
    assert merged != block
    (project / CONFIG).write_text(text.replace(block, merged), encoding="utf-8")
    result = inv(project, "db.upgrade", "movements", url=database_url)
    assert result.returncode == 0, result.stderr
    assert version(database_url, "movements") == ["0001"]  # the explicit schema won over the merged one


def test_local_false_refuses_to_fall_back_to_the_embedded_database(project: Path) -> None:
    edit_config(project, "database:\n", "database:\n  local: false\n")
    result = inv(project, "db.upgrade-all")  # no DATABASE_URL
    line = assert_bad_input(result, code=2)
    assert "DATABASE_URL is not set" in line and "database.local: false" in line
    assert not local_database_made(project)


def test_local_must_be_a_boolean(rejects: Callable[..., str], project: Path) -> None:
    edit_config(project, "database:\n", "database:\n  local: maybe\n")
    line = rejects()
    assert re.fullmatch(rf"{CONFIG}:\d+: database\.local: expected true or false, got 'maybe'", line), line
