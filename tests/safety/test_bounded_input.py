"""Every input path is bounded and answers in one line: integer options in ASCII digits only, YAML refused by size
and depth before any tree is built, symbolic link loops, pipes and huge files refused by the loader and the report
reader, a URL with a byte that is not UTF-8. Each once broke with a traceback or a hang; each now exits 2 with one line,
and nothing touches a database (the URL points at a closed port, so a run that tried would say so instead)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _support import CLOSED_URL, assert_bad_input, dbtasks_command

from dbtasks import config
from dbtasks.config.project import MAX_FILE_BYTES
from dbtasks.config.yaml_bounds import MAX_DEPTH
from dbtasks.errors import ConfigError, UsageError
from dbtasks.fleet.report import retry_names


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        config.load(path)
    return raised.value.problems


def test_values_nested_hundreds_deep_are_refused_before_the_tree_is_built(tmp_path: Path) -> None:
    depth = 900  # PyYAML's composer recursed into a RecursionError from about 250
    (tmp_path / "migrations.yaml").write_text(f"version: 1\nservices:\n  users:\n    path: {'[' * depth}{']' * depth}\n")
    [line] = problems_of(tmp_path / "migrations.yaml")
    assert line.endswith(
        f"migrations.yaml:4: its values nest more than {MAX_DEPTH} levels deep; a migrations.yaml needs a handful"
    )


def test_a_huge_file_is_refused_by_its_size_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "migrations.yaml"
    with big.open("w") as handle:  # a YAML comment: parsing it would take seconds and memory for nothing
        handle.write("# " + "x" * (MAX_FILE_BYTES + 1) + "\n")
    assert problems_of(big) == [
        f"{big}: {MAX_FILE_BYTES + 4} bytes, more than the 2 MiB a file of dbtasks may hold; is it the right file?"
    ]


def test_a_pipe_as_migrations_yaml_is_refused_instead_of_read_forever(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "migrations.yaml")
    assert problems_of(tmp_path / "migrations.yaml") == [
        f"{tmp_path / 'migrations.yaml'}: not a regular file (a pipe, device or folder); point it at a file"
    ]


def test_a_symbolic_link_loop_as_migrations_yaml_is_one_line(project: Path) -> None:
    (project / "loop-a.yaml").symlink_to(project / "loop-b.yaml")
    (project / "loop-b.yaml").symlink_to(project / "loop-a.yaml")
    result = dbtasks_command(project, "status", url=CLOSED_URL, env={"DBTASKS_CONFIG": str(project / "loop-a.yaml")})
    assert assert_bad_input(result) == "loop-a.yaml: its symbolic links loop (or cannot be followed); point it at a real file"


def test_a_symbolic_link_loop_as_a_service_folder_is_one_line(project: Path) -> None:
    services = project / "services"
    (services / "users-loop").symlink_to(services / "users-loop-too")
    (services / "users-loop-too").symlink_to(services / "users-loop")
    text = (project / "migrations.yaml").read_text(encoding="utf-8").replace("path: services/users", "path: services/users-loop")
    (project / "migrations.yaml").write_text(text, encoding="utf-8")
    line = assert_bad_input(dbtasks_command(project, "status", url=CLOSED_URL))
    assert line == "migrations.yaml:7: services.users.path: folder services/users-loop does not exist; fix the path"


@pytest.mark.parametrize("value", ["\u00b2", "\u0664"])
def test_digits_that_are_not_ascii_are_bad_input(project: Path, value: str) -> None:
    line = assert_bad_input(dbtasks_command(project, "upgrade-all", "--jobs", value, url=CLOSED_URL))
    assert line == f"--jobs: expected a positive number, got {value!r}"


def test_a_url_with_a_byte_that_is_not_utf8_is_one_line(project: Path) -> None:
    url = "postgresql://user:p\udcff@127.0.0.1:1/app"  # how os.environ keeps the byte 0xff of the variable
    line = assert_bad_input(dbtasks_command(project, "status", url=url))
    assert line == "DATABASE_URL: the URL holds a byte that is not UTF-8 text; percent-encode it (%FF for byte 0xff)"


def test_a_password_percent_encoding_bytes_that_are_not_utf8_is_one_line(project: Path) -> None:
    url = "postgresql://user:p%FF@127.0.0.1:1/app"
    line = assert_bad_input(dbtasks_command(project, "status", url=url))
    assert line == "DATABASE_URL: the password in the URL percent-encodes bytes that are not UTF-8 text; fix it"
    doctor = dbtasks_command(project, "doctor", url=url)  # a psycopg2 traceback once
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr, doctor.stderr
    assert f"error    DATABASE_URL     {line}" in doctor.stdout.splitlines(), doctor.stdout


# -- --retry-failed's report --------------------------------------------------------------------------------------------


def test_a_report_that_is_a_pipe_is_refused_instead_of_read_forever(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "report.json")
    with pytest.raises(UsageError) as raised:
        retry_names(str(tmp_path / "report.json"), "tenants")
    assert (
        str(raised.value) == f"--retry-failed: {tmp_path / 'report.json'}: not a regular file; give the file a --json run wrote"
    )


def test_a_report_nested_100k_deep_is_not_json_to_us(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(UsageError) as raised:
        retry_names(str(tmp_path / "report.json"), "tenants")
    assert str(raised.value) == f"--retry-failed: {tmp_path / 'report.json'}: not a JSON report; give the file a --json run wrote"


def test_a_report_entry_without_its_target_is_named(tmp_path: Path) -> None:
    document = {"fleet": "tenants", "targets": [{"target": "acme", "state": "failed"}, {"state": "failed"}]}
    (tmp_path / "report.json").write_text(json.dumps(document))
    with pytest.raises(UsageError) as raised:
        retry_names(str(tmp_path / "report.json"), "tenants")
    assert str(raised.value) == (
        f"--retry-failed: {tmp_path / 'report.json'} has an unfinished entry without its target's name; "
        "give the file a --json run wrote"
    )


def test_a_versions_folder_linked_to_nothing_is_not_a_service_without_migrations(project: Path, database_url: str) -> None:
    from _support import assert_failure, schemas

    versions = project / "services" / "movements" / "alembic" / "versions"
    moved = versions.with_name("versions-moved")
    versions.rename(moved)
    versions.symlink_to(project / "nowhere")  # before, upgrade was a no-op and check passed
    before = schemas(database_url)
    for task in ("upgrade", "check"):
        line = assert_failure(dbtasks_command(project, task, "movements", url=database_url), "movements")
        assert line == (
            f"movements: cannot read the migration files: the versions folder {versions} is a link to nothing (or a link "
            "loop); fix them, then run 'inv db.history movements'"
        )
    assert schemas(database_url) == before
