"""The embedded local PostgreSQL: used when no URL is configured, never when one is."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import (
    assert_bad_input,
    assert_ok,
    declared_services,
    head_of,
    inv,
    local_database_made,
    output,
    schema_of,
    show,
    version,
)

from dbtasks.database.localdb import LocalDatabase

MASKED_URL = re.compile(r"^postgresql://dbtasks:\*\*\*@127\.0\.0\.1:(\d+)/dbtasks$")


@pytest.fixture
def local_project(project: Path) -> Iterator[Path]:
    """The project copy, with its local server stopped afterwards whatever the test did."""
    assert not (project / ".env").exists()
    yield project
    LocalDatabase(project / ".dbtasks").stop()


def local_password(project: Path) -> str:
    return str(json.loads((project / ".dbtasks" / "local.json").read_text())["password"])


def test_local_database_lifecycle(local_project: Path) -> None:
    project = local_project
    started = assert_ok(inv(project, "db.local-start"))
    match = MASKED_URL.match(started.stdout.strip())
    assert match, show(started)
    assert (project / ".dbtasks").is_dir()
    password = local_password(project)
    outputs = [output(started)]

    url = assert_ok(inv(project, "db.local-url"))
    assert url.stdout.strip() == started.stdout.strip()
    again = assert_ok(inv(project, "db.local-start"))  # started once, then reused
    assert again.stdout.strip() == started.stdout.strip()
    outputs += [output(url), output(again)]

    upgraded = assert_ok(inv(project, "db.upgrade-all"))
    assert re.search(r"^target: dbtasks@127\.0\.0\.1:\d+/dbtasks \(the local database under \.dbtasks/", upgraded.stderr, re.M)
    status = assert_ok(inv(project, "db.status", "--json"))
    entries = json.loads(status.stdout)["services"]
    assert {entry["service"]: entry["state"] for entry in entries} == dict.fromkeys(declared_services(), "up to date")
    outputs += [output(upgraded), output(status)]

    real_url = LocalDatabase(project / ".dbtasks").url()
    assert real_url.endswith(f":{match[1]}/dbtasks")
    for service in declared_services():
        assert version(real_url, schema_of(service)) == [head_of(service)]

    stopped = assert_ok(inv(project, "db.local-stop"))
    assert "stopped" in stopped.stdout
    assert LocalDatabase(project / ".dbtasks").running_port() is None
    after = inv(project, "db.local-url")
    assert after.returncode != 0, show(after)
    outputs += [output(stopped), output(after)]

    for text in outputs:
        assert password not in text


def test_a_task_starts_the_local_database_when_needed(local_project: Path) -> None:
    project = local_project
    result = assert_ok(inv(project, "db.upgrade", "habits"))
    assert (project / ".dbtasks").is_dir()
    assert "initialized and started the local PostgreSQL under .dbtasks/" in result.stderr, show(result)
    assert re.search(r"^target: dbtasks@127\.0\.0\.1:\d+/dbtasks \(the local database under \.dbtasks/", result.stderr, re.M)
    assert local_password(project) not in output(result)
    url = LocalDatabase(project / ".dbtasks").url()
    assert version(url, "habits") == [head_of("habits")]


def test_local_start_is_refused_when_a_url_is_set(project: Path, database_url: str) -> None:
    line = assert_bad_input(inv(project, "db.local-start", url=database_url))
    assert "DATABASE_URL" in line
    assert not local_database_made(project)


def test_no_local_database_when_a_url_is_set(project: Path, database_url: str) -> None:
    for task in [("db.upgrade", "habits"), ("db.status",), ("db.check", "habits"), ("db.current", "habits"), ("db.local-stop",)]:
        assert_ok(inv(project, *task, url=database_url))
        assert not local_database_made(project), task
    assert version(database_url, "habits") == [head_of("habits")]


def test_a_url_in_dot_env_is_used_and_no_local_database_starts(project: Path, database_url: str) -> None:
    (project / ".env").write_text(f"# local settings\nexport DATABASE_URL='{database_url}'\n", encoding="utf-8")
    result = assert_ok(inv(project, "db.upgrade", "movements"))
    assert version(database_url, "movements") == [head_of("movements")]
    assert not local_database_made(project)
    assert "local database" not in output(result)
    refused = assert_bad_input(inv(project, "db.local-start"))
    assert "DATABASE_URL" in refused
    assert not local_database_made(project)
