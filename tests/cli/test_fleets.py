"""Fleets (migrations.yaml's targets:): the *-all tasks and status on many databases, through the tasks."""

from __future__ import annotations

import json
import os
import pty
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from _support import (
    CLOSED_URL,
    assert_bad_input,
    assert_ok,
    ctrl_c_while,
    dbtasks_command,
    declared_services,
    execute,
    expected_tables,
    head_of,
    inv,
    plant_migration,
    query,
    schema_of,
    show,
    tables,
    task_environment,
    typed_at_a_terminal,
    version,
    with_database,
)

from dbtasks.fleet.shard import Shard

ALL = list(declared_services())


@pytest.fixture
def make_fleet(pg_server: str) -> Iterator[Callable[[int], tuple[str, list[str]]]]:
    """(prefix, database URLs) of `count` new empty databases named <prefix>_NN; all dropped afterwards."""
    made: list[str] = []

    def make(count: int) -> tuple[str, list[str]]:
        prefix = f"fleet_{secrets.token_hex(4)}"
        names = [f"{prefix}_{number:02d}" for number in range(count)]
        for name in names:
            execute(pg_server, f'CREATE DATABASE "{name}"')
            made.append(name)
        return prefix, [with_database(pg_server, name) for name in names]

    yield make
    for name in made:
        execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_targets(project: Path, text: str) -> None:
    """Append a targets: section to the project's migrations.yaml."""
    with (project / "migrations.yaml").open("a", encoding="utf-8") as handle:
        handle.write("targets:\n" + text)


def fleet_query(prefix: str) -> str:
    return f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%' ORDER BY 1"


def report_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document = json.loads(result.stdout)
    assert isinstance(document, dict), result.stdout
    return document


def states(document: dict[str, Any]) -> dict[str, str]:
    return {entry["target"]: entry["state"] for entry in document["targets"]}


def name_of(url: str) -> str:
    return url.rsplit("/", 1)[-1]


@pytest.mark.slow
def test_a_fleet_of_12_is_upgraded_checked_stamped_and_retried(
    project: Path, pg_server: str, make_fleet: Callable[[int], tuple[str, list[str]]], tmp_path: Path
) -> None:
    prefix, urls = make_fleet(12)
    add_targets(project, f'  tenants:\n    services: [users]\n    query: "{fleet_query(prefix)}"\n')
    planted = urls[3], urls[7], urls[10]
    for url in planted:  # a table in the way: the first migration fails there
        execute(url, "CREATE SCHEMA users", "CREATE TABLE users.users (id int)")

    result = inv(project, "db.upgrade-all", "--targets", "tenants", "--json", url=pg_server)
    assert result.returncode == 1, show(result)
    assert "Traceback" not in result.stderr, show(result)
    report = report_of(result)
    assert report["fleet"] == "tenants" and report["counts"] == {"ok": 9, "failed": 3}, report
    failed = {name for name, state in states(report).items() if state == "failed"}
    assert failed == {name_of(url) for url in planted}
    reasons = {entry["target"]: entry["detail"] for entry in report["targets"] if entry["state"] == "failed"}
    assert all(reason.startswith("users: ") and "already exists" in reason for reason in reasons.values()), reasons
    names = ", ".join(sorted(failed, key=[name_of(url) for url in urls].index))
    assert result.stderr.strip().splitlines()[-1] == (
        f"tenants: 3 of 12 targets failed or did not start ({names}); see the outcomes in the JSON report, and rerun "
        "with --retry-failed REPORT (a --json report) to redo only those"
    ), show(result)
    password = urlsplit(pg_server).password
    assert password and password not in result.stdout + result.stderr
    for url in urls:
        assert version(url, "users") == ([] if url in planted else [head_of("users")]), url

    saved = tmp_path / "report.json"
    saved.write_text(result.stdout, encoding="utf-8")
    for url in planted:
        execute(url, "DROP TABLE users.users")
    retried = assert_ok(inv(project, "db.upgrade-all", "--targets", "tenants", "--retry-failed", str(saved), url=pg_server))
    assert "tenants: 3 targets: 3 ok" in retried.stdout, show(retried)
    for url in urls:
        assert version(url, "users") == [head_of("users")], url
        assert expected_tables("users") <= tables(url, "users"), url

    checked = assert_ok(inv(project, "db.check-all", "--targets", "tenants", "--json", url=pg_server))
    assert report_of(checked)["counts"] == {"ok": 12}

    stamped = assert_ok(inv(project, "db.stamp-all", "base", "--yes", "--targets", "tenants", url=pg_server))
    assert "tenants: 12 targets: 12 ok" in stamped.stdout, show(stamped)
    assert all(version(url, "users") == [] for url in urls)
    status = inv(project, "db.status", "--targets", "tenants", "--json", url=pg_server)
    assert status.returncode == 0, show(status)
    assert report_of(status)["counts"] == {"behind": 12}
    assert_ok(inv(project, "db.stamp-all", "head", "--yes", "--targets", "tenants", url=pg_server))
    status = assert_ok(inv(project, "db.status", "--targets", "tenants", url=pg_server))
    assert status.stdout.strip().splitlines() == ["tenants: 12 targets: 12 up to date"], show(status)
    assert all(version(url, "users") == [head_of("users")] for url in urls)


# -- targets: in migrations.yaml, and the options, before any database is touched ------------------------------


def line_of(project: Path, text: str) -> int:
    lines = (project / "migrations.yaml").read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


@pytest.mark.parametrize(
    ("declared", "marker", "message"),
    [
        (
            "  t:\n    databases: [a]\n    query: SELECT 1\n",
            "  t:",
            "targets.t: give exactly one of query, databases, url_envs or file (got query and databases)",
        ),
        ("  t:\n    services: [users]\n", "  t:", "targets.t: give exactly one of query, databases, url_envs or file (got none)"),
        (
            "  t:\n    services: [user]\n    databases: [a]\n",
            "services: [user]",
            "targets.t.services: unknown service 'user'; known: users, habits, movements, meals, practices, journal",
        ),
        (
            "  t:\n    databases: [a, 'b; DROP DATABASE x']\n",
            "databases:",
            "targets.t.databases: 'b; DROP DATABASE x' is not a plain database name (ASCII letters, digits, _, $ and -; at most 63)",
        ),
        ("  t:\n    databases: [a, a]\n", "databases:", "targets.t.databases: 'a' is listed twice; keep one"),
        ("  t:\n    url_envs: [EU URL]\n", "url_envs:", "targets.t.url_envs: 'EU URL' is not an environment variable name"),
        (
            "  t:\n    databases: [a]\n    x: {tenant: '${tenant}'}\n",
            "x:",
            "targets.t.x.tenant: unknown placeholder ${tenant}; use ${target}",
        ),
        (
            "  t:\n    url_envs: [EU_URL]\n    x: {tenant: '${target}'}\n",
            "x:",
            "targets.t.x: x names a schema per tenant in one database; use databases, query or file",
        ),
        (
            "  t:\n    databases: [a]\n    servces: [users]\n",
            "servces:",
            "targets.t.servces: unknown key; did you mean 'services'?",
        ),
        ("  T:\n    databases: [a]\n", "  T:", "targets.T: target names use lowercase letters, digits, - and _"),
    ],
)
def test_targets_are_validated_with_their_line(project: Path, declared: str, marker: str, message: str) -> None:
    add_targets(project, declared)
    result = inv(project, "db.upgrade-all", "--targets", "t", url=CLOSED_URL)
    assert assert_bad_input(result) == f"migrations.yaml:{line_of(project, marker)}: {message}"


def test_an_unknown_target_names_the_known_ones_before_any_database(project: Path) -> None:
    add_targets(project, "  tenants:\n    databases: [a]\n  regions:\n    url_envs: [EU_DATABASE_URL]\n")
    line = assert_bad_input(inv(project, "db.upgrade-all", "--targets", "tenant", url=CLOSED_URL))
    assert line == "--targets: unknown target 'tenant'; did you mean 'tenants'? migrations.yaml defines: tenants, regions"
    line = assert_bad_input(inv(project, "db.status", "--targets", "europe", url=CLOSED_URL))
    assert line == "--targets: unknown target 'europe'; migrations.yaml defines: tenants, regions"
    line = assert_bad_input(inv(project, "db.upgrade-all", "--target", "a", url=CLOSED_URL))
    assert line == "--target: say which fleet it belongs to with --targets NAME (known: tenants, regions)"
    line = assert_bad_input(inv(project, "db.upgrade-all", "--targets", "tenants", "--target", "b", url=CLOSED_URL))
    assert line == "--target: 'b' is not a member of tenants now; run 'inv db.status --targets tenants'"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--shard", "1/2"), "upgrade-all: --shard is for a fleet; add --targets NAME (docs/fleets.md)"),
        (("--json",), "upgrade-all: --json is for a fleet; add --targets NAME (docs/fleets.md)"),
        (("--targets", "t", "--shard", "3/2"), "--shard: expected I/N with 1 <= I <= N (e.g. 2/5) or auto, got '3/2'"),
        (
            ("--targets", "t", "--shard", "auto"),
            "--shard auto: none of JOB_COMPLETION_INDEX/JOB_COMPLETIONS, CI_NODE_INDEX/CI_NODE_TOTAL, CIRCLE_NODE_INDEX/CIRCLE_NODE_TOTAL, BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT is set; give --shard I/N",
        ),
        (
            ("--targets", "t", "--connections", "2"),
            "--connections: expected a number of 3 or more (a member being migrated holds up to 3), got '2'",
        ),
        (
            ("--targets", "t", "--retry-failed", "missing.json"),
            "--retry-failed: missing.json: No such file or directory; give the file a --json run wrote",
        ),
        (("--targets", "t", "--only", "habits"), "unknown service 'habits'; known: users"),
        # Digits that are not ASCII: str.isdigit() says yes, int() says no (a traceback once)
        (("--targets", "t", "--jobs", "\u00b2"), "--jobs: expected a positive number, got '\u00b2'"),
        (("--targets", "t", "--shard", "1/\u00b2"), "--shard: expected I/N with 1 <= I <= N (e.g. 2/5) or auto, got '1/\u00b2'"),
        (
            ("--targets", "t", "--connections", "\u0664\u0660"),
            "--connections: expected a number of 3 or more (a member being migrated holds up to 3), got '\u0664\u0660'",
        ),
    ],
)
def test_fleet_options_are_checked_before_any_database(project: Path, args: tuple[str, ...], message: str) -> None:
    add_targets(project, "  t:\n    services: [users]\n    databases: [a]\n")
    assert assert_bad_input(inv(project, "db.upgrade-all", *args, url=CLOSED_URL)) == message


def test_a_bad_name_from_the_file_is_refused_and_nothing_runs(project: Path, database_url: str, pg_server: str) -> None:
    (project / "tenants.txt").write_text(
        f'{name_of(database_url)}\n# a comment\nx"; DROP DATABASE postgres; --\n', encoding="utf-8"
    )
    add_targets(project, "  t:\n    file: tenants.txt\n")
    line = assert_bad_input(inv(project, "db.upgrade-all", "--targets", "t", url=pg_server))
    assert line == (
        "targets.t: tenants.txt holds 'x\"; DROP DATABASE postgres; --', which is not a plain database name "
        "(ASCII letters, digits, _, $ and -; at most 63); rename it or leave it out of the fleet"
    )
    assert all(version(database_url, schema_of(service)) == [] for service in ALL)


def test_a_failing_query_is_one_line(project: Path, pg_server: str) -> None:
    add_targets(project, "  t:\n    query: SELECT nam FROM pg_database\n")
    line = assert_bad_input(inv(project, "db.status", "--targets", "t", url=pg_server))
    assert line.startswith('targets.t.query: column "nam" does not exist'), line
    assert line.endswith("; fix the query in migrations.yaml"), line


def test_services_with_a_database_of_their_own_are_not_in_a_fleet(project: Path) -> None:
    text = (project / "migrations.yaml").read_text(encoding="utf-8")
    (project / "migrations.yaml").write_text(text.replace("    schema: users\n", "    database: users_db\n"), encoding="utf-8")
    add_targets(project, "  t:\n    services: [users, habits]\n    databases: [a]\n")
    line = assert_bad_input(inv(project, "db.status", "--targets", "t", url=CLOSED_URL))
    assert line == (
        f"migrations.yaml:{line_of(project, 'services: [users, habits]')}: targets.t.services: 'users' has a database of its "
        "own; a target's services live in each member database: leave it out"
    )


def test_the_query_runs_read_only(project: Path, database_url: str) -> None:
    execute(database_url, "CREATE SEQUENCE fleet_counter")
    add_targets(project, "  t:\n    query: SELECT 'a' || nextval('fleet_counter')\n")
    line = assert_bad_input(inv(project, "db.status", "--targets", "t", url=database_url))
    assert line == "targets.t.query: cannot execute nextval() in a read-only transaction; fix the query in migrations.yaml"
    assert query(database_url, "SELECT last_value, is_called FROM fleet_counter") == [(1, False)]


def test_the_query_is_one_statement_so_a_commit_cannot_end_its_read_only_transaction(project: Path, database_url: str) -> None:
    add_targets(project, "  t:\n    query: SELECT 'a'; COMMIT; CREATE TABLE fleet_pwned (x int)\n")
    line = assert_bad_input(inv(project, "db.status", "--targets", "t", url=database_url))
    assert line.startswith('targets.t.query: syntax error at or near ";"') and line.endswith("; fix the query in migrations.yaml")
    assert query(database_url, "SELECT to_regclass('fleet_pwned') IS NULL") == [(True,)]


# -- the six services on a few members ------------------------------------------------------------------------


def assert_at_head(url: str, services: list[str] = ALL) -> None:
    for service in services:
        assert version(url, schema_of(service)) == [head_of(service)], (url, service)
        assert expected_tables(service) <= tables(url, schema_of(service)), (url, service)


@pytest.mark.slow
def test_the_six_services_on_three_databases(
    project: Path, pg_server: str, make_fleet: Callable[[int], tuple[str, list[str]]], tmp_path: Path
) -> None:
    _, urls = make_fleet(3)
    names = [name_of(url) for url in urls]
    add_targets(project, f"  shards:\n    databases: [{', '.join(names)}]\n")
    result = assert_ok(inv(project, "db.upgrade-all", "--targets", "shards", url=pg_server))
    assert result.stdout.strip().splitlines() == ["shards: 3 targets: 3 ok"], show(result)
    assert [line for line in result.stderr.splitlines() if line.startswith("[")] == [
        f"[{done}/3] {name}: ok" for done, name in enumerate(sorted(names, key=lambda n: result.stderr.index(f"] {n}:")), 1)
    ]
    for url in urls:
        assert_at_head(url)

    status = assert_ok(inv(project, "db.status", "--targets", "shards", "--json", url=pg_server))
    document = report_of(status)
    assert document["counts"] == {"up to date": 3} and document["verb"] == "status" and document["shard"] == "1/1"
    assert {entry["target"]: [row["state"] for row in entry["services"]] for entry in document["targets"]} == {
        name: ["up to date"] * 6 for name in names
    }

    refused = assert_bad_input(inv(project, "db.reset-all", "--targets", "shards", url=pg_server))
    assert (
        refused
        == "reset-all: reset drops every selected service's tables and data on every member of shards; rerun with --yes to confirm"
    )
    down = assert_ok(
        inv(project, "db.downgrade-all", "--to", "base", "--yes", "--targets", "shards", "--target", names[1], url=pg_server)
    )
    assert down.stdout.strip().splitlines() == ["shards: 1 targets: 1 ok"], show(down)
    assert all(version(urls[1], schema_of(service)) == [] for service in ALL)
    assert_at_head(urls[0])
    assert_at_head(urls[2])
    behind = assert_ok(inv(project, "db.status", "--targets", "shards", url=pg_server))
    assert behind.stdout.strip().splitlines() == [
        "target" + " " * (len(names[1]) - 6 + 2) + "state   detail",
        *behind.stdout.strip().splitlines()[1:2],
        f"{names[1]}  behind  {render_detail()}",
        "shards: 3 targets: 2 up to date, 1 behind",
    ], show(behind)

    reset = assert_ok(inv(project, "db.reset-all", "--yes", "--targets", "shards", url=pg_server))
    assert "shards: 3 targets: 3 ok" in reset.stdout, show(reset)
    for url in urls:
        assert_at_head(url)

    out = tmp_path / "sql"
    assert_ok(inv(project, "db.sql-all", "--output-dir", str(out), "--targets", "shards", url=pg_server))
    assert sorted(path.relative_to(out).as_posix() for path in out.rglob("*.sql")) == sorted(
        f"{name}/{service}.sql" for name in names for service in ALL
    )

    verified = assert_ok(inv(project, "db.verify-all", "--targets", "shards", "--sample", "2", "--only", "users", url=pg_server))
    assert "shards: 2 targets: 2 ok" in verified.stdout, show(verified)


def render_detail() -> str:
    from dbtasks.cli.render import shorten

    return shorten(", ".join(f"{service}: not initialized" for service in ALL), 100)


# -- url_envs, environments, retries, two runners ----------------------------------------------------------------


def test_url_envs_members_are_the_variables(project: Path, make_database: Callable[[], str]) -> None:
    eu, us = make_database(), make_database()
    add_targets(project, "  regions:\n    services: [movements]\n    url_envs: [EU_DATABASE_URL, US_DATABASE_URL]\n")
    missing = assert_bad_input(inv(project, "db.upgrade-all", "--targets", "regions", env={"EU_DATABASE_URL": eu}))
    assert missing == "targets.regions: US_DATABASE_URL is not set; set it (or put it in .env) to that database's URL"
    assert version(eu, "movements") == []
    (project / ".env").write_text(f"US_DATABASE_URL={us}\n", encoding="utf-8")
    result = assert_ok(inv(project, "db.upgrade-all", "--targets", "regions", "--json", env={"EU_DATABASE_URL": eu}))
    assert states(report_of(result)) == {"EU_DATABASE_URL": "ok", "US_DATABASE_URL": "ok"}
    assert version(eu, "movements") == version(us, "movements") == [head_of("movements")]
    assert "closed-port-password" not in result.stdout + result.stderr


PROTECTED = "environments:\n  production: {protected: true, url_env: PROD_DATABASE_URL}\n"


def protected_fleet(
    project: Path, pg_server: str, make_fleet: Callable[[int], tuple[str, list[str]]]
) -> tuple[list[str], dict[str, str]]:
    """A fleet `tenants` of two databases in the protected environment `production`, upgraded: (URLs, environment)."""
    prefix, urls = make_fleet(2)
    with (project / "migrations.yaml").open("a", encoding="utf-8") as handle:
        handle.write(PROTECTED)
    add_targets(project, f'  tenants:\n    services: [movements]\n    query: "{fleet_query(prefix)}"\n')
    env = {"PROD_DATABASE_URL": pg_server}
    assert_ok(inv(project, "db.upgrade-all", "--targets", "tenants", "--env", "production", env=env))
    return urls, env


def test_a_protected_environment_protects_every_member(
    project: Path, pg_server: str, make_fleet: Callable[[int], tuple[str, list[str]]]
) -> None:
    urls, env = protected_fleet(project, pg_server, make_fleet)
    line = assert_bad_input(inv(project, "db.downgrade-all", "--targets", "tenants", "--env", "production", env=env))
    assert line == (
        "downgrade-all: downgrading every selected service may drop data on every member of tenants in protected "
        "environment 'production'; rerun with --yes to confirm"
    )
    assert all(version(url, "movements") == [head_of("movements")] for url in urls)
    result = assert_ok(inv(project, "db.downgrade-all", "--yes", "--targets", "tenants", "--env", "production", env=env))
    assert result.stderr.count("production is protected; --yes given and no terminal attached, going ahead") == 1
    assert all(version(url, "movements") == [] for url in urls)


@pytest.mark.parametrize("typed", ["tenant", "tenants"], ids=["mismatch", "match"])
def test_a_protected_fleet_at_a_terminal_asks_for_the_fleets_name(
    project: Path, pg_server: str, make_fleet: Callable[[int], tuple[str, list[str]]], typed: str
) -> None:
    urls, env = protected_fleet(project, pg_server, make_fleet)
    args = ["db.downgrade-all", "--yes", "--targets", "tenants", "--env", "production"]
    process = typed_at_a_terminal(project, task_environment(pg_server, env), args, typed)
    stdout, stderr = process.stdout, process.stderr
    assert "Type the fleet name (tenants) to go ahead:" in stdout, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    if typed == "tenants":
        assert process.returncode == 0, (stdout, stderr)
        assert all(version(url, "movements") == [] for url in urls)
    else:
        assert process.returncode == 2, (stdout, stderr)
        assert stderr.strip().splitlines()[-1] == "downgrade-all: the name typed does not match 'tenants'; nothing was changed"
        assert all(version(url, "movements") == [head_of("movements")] for url in urls)


def test_fleet_options_work_the_same_through_the_dbtasks_command(
    project: Path, pg_server: str, make_fleet: Callable[[int], tuple[str, list[str]]]
) -> None:
    prefix, urls = make_fleet(3)
    add_targets(project, f'  tenants:\n    services: [users]\n    query: "{fleet_query(prefix)}"\n')
    first = dbtasks_command(project, "upgrade-all", "--targets", "tenants", "--shard", "1/2", "--json", url=pg_server)
    second = dbtasks_command(project, "upgrade-all", "--targets", "tenants", "--shard", "2/2", "--json", url=pg_server)
    assert first.returncode == 0 and second.returncode == 0, show(first) + show(second)
    shares = [set(states(report_of(result))) for result in (first, second)]
    assert shares[0] | shares[1] == {name_of(url) for url in urls} and not shares[0] & shares[1]
    assert all(version(url, "users") == [head_of("users")] for url in urls)
    by_inv = inv(project, "db.status", "--targets", "tenants", "--json", url=pg_server)
    by_dbtasks = dbtasks_command(project, "status", "--targets", "tenants", "--json", url=pg_server)
    assert by_inv.returncode == by_dbtasks.returncode == 0, show(by_inv) + show(by_dbtasks)
    assert report_of(by_dbtasks) == report_of(by_inv)
    assert set(states(report_of(by_inv)).values()) == {"up to date"}
    refused = dbtasks_command(project, "status", "--targets", "tenants", "--shard", "3/2", url=pg_server)
    assert refused.returncode == inv(project, "db.status", "--targets", "tenants", "--shard", "3/2").returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("--shard"), show(refused)


def test_a_report_of_another_fleet_is_refused(project: Path, tmp_path: Path) -> None:
    add_targets(project, "  a:\n    databases: [x]\n  b:\n    databases: [y]\n")
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"fleet": "a", "targets": [{"target": "x", "state": "failed"}]}), encoding="utf-8")
    line = assert_bad_input(inv(project, "db.upgrade-all", "--targets", "b", "--retry-failed", str(report), url=CLOSED_URL))
    assert line == f"--retry-failed: {report} reports on 'a', not 'b'; give --targets a"


def test_fail_fast_leaves_the_rest_not_started(
    project: Path, pg_server: str, make_fleet: Callable[[int], tuple[str, list[str]]]
) -> None:
    prefix, urls = make_fleet(4)
    add_targets(project, f'  tenants:\n    services: [users]\n    query: "{fleet_query(prefix)}"\n')
    execute(urls[0], "CREATE SCHEMA users", "CREATE TABLE users.users (id int)")
    result = inv(project, "db.upgrade-all", "--targets", "tenants", "--fail-fast", "--jobs", "1", "--json", url=pg_server)
    assert result.returncode == 1, show(result)
    assert list(states(report_of(result)).values()) == ["failed", "not started", "not started", "not started"]
    assert all(version(url, "users") == [] for url in urls)


def fleet_process(project: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=project,
        env=task_environment(url, None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_rolls_back_the_running_member_and_starts_no_other(
    project: Path, pg_server: str, make_fleet: Callable[[int], tuple[str, list[str]]]
) -> None:
    prefix, urls = make_fleet(3)
    add_targets(project, f'  tenants:\n    services: [users]\n    query: "{fleet_query(prefix)}"\n')
    plant_migration(
        project, "users", "5100000000cc", head_of("users"), 'from alembic import op\n    op.execute("SELECT pg_sleep(60)")'
    )
    result, _ = ctrl_c_while(
        project, pg_server, ["db.upgrade-all", "--targets", "tenants", "--jobs", "1", "--no-progress"], "SELECT pg_sleep(60)"
    )
    process, stdout, stderr = result, result.stdout, result.stderr
    assert process.returncode == 1 and "Traceback" not in stdout + stderr, (stdout, stderr)
    assert stdout.strip().splitlines()[-1] == "tenants: 3 targets: 2 not started, 1 failed", (stdout, stderr)
    assert "interrupted; the migration in progress was rolled back" in stdout + stderr, (stdout, stderr)
    assert version(urls[0], "users") == [head_of("users")]  # its earlier migrations committed, the slow one rolled back
    assert [version(url, "users") for url in urls[1:]] == [[], []]
    assert not query(pg_server, "SELECT 1 FROM pg_stat_activity WHERE query LIKE %s", ("SELECT pg_sleep(60)%",))


def test_two_runners_given_the_same_shard_serialize_on_the_locks(
    project: Path, pg_server: str, make_fleet: Callable[[int], tuple[str, list[str]]]
) -> None:
    prefix, urls = make_fleet(6)
    add_targets(project, f'  tenants:\n    services: [users, habits]\n    query: "{fleet_query(prefix)}"\n')
    task = ("db.upgrade-all", "--targets", "tenants", "--shard", "2/2", "--json", "--no-progress")
    runners = [fleet_process(project, pg_server, *task) for _ in range(2)]
    results = [runner.communicate(timeout=300) for runner in runners]
    assert [runner.returncode for runner in runners] == [0, 0], results
    reports = [json.loads(stdout) for stdout, _ in results]
    share = {name_of(url) for url in urls if Shard(2, 2).holds(name_of(url))}
    assert {entry["target"] for report in reports for entry in report["targets"]} == share
    for name in share:
        applied = [
            service["service"]
            for report in reports
            for entry in report["targets"]
            if entry["target"] == name
            for service in entry["services"]
            if service["detail"] != "already at head"
        ]
        assert sorted(applied) == ["habits", "users"], (name, reports)  # each migrated once, by one runner or the other
    for url in urls:
        expected = [[head_of(service)] if name_of(url) in share else [] for service in ("users", "habits")]
        assert [version(url, service) for service in ("users", "habits")] == expected, url


# -- progress -----------------------------------------------------------------------------------------------------


def on_a_terminal(project: Path, url: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `inv ARGS` as a process whose stderr is a terminal: (exit code, stdout, what the terminal showed)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=project,
        env=task_environment(url, {"TERM": "xterm", **(env or {})}),
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the process closed the terminal's last descriptor
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    stdout, _ = process.communicate(timeout=120)
    return process.returncode, stdout, shown.decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("env", "flags", "live"),
    [({}, (), True), ({"NO_COLOR": "1"}, (), False), ({}, ("--no-progress",), False)],
    ids=["terminal", "NO_COLOR", "no-progress"],
)
def test_progress_is_a_live_line_on_a_terminal(
    project: Path,
    pg_server: str,
    make_fleet: Callable[[int], tuple[str, list[str]]],
    env: dict[str, str],
    flags: tuple[str, ...],
    live: bool,
) -> None:
    prefix, urls = make_fleet(3)
    add_targets(project, f'  tenants:\n    services: [users]\n    query: "{fleet_query(prefix)}"\n')
    code, stdout, shown = on_a_terminal(project, pg_server, "db.upgrade-all", "--targets", "tenants", *flags, env=env)
    assert code == 0, (stdout, shown)
    assert stdout.strip().splitlines() == ["tenants: 3 targets: 3 ok"], (stdout, shown)
    assert all(version(url, "users") == [head_of("users")] for url in urls)
    plain = [line for line in shown.splitlines() if line.startswith("[")]
    if live:
        assert re.search(r"\r\x1b\[2Ktenants: 3/3 targets, 0 failed, [0-9.]+/s, ETA 0s", shown), repr(shown)
        assert plain == [], repr(shown)
    else:
        assert "\x1b" not in shown and "\r\x1b" not in shown, repr(shown)
        matches = [re.fullmatch(r"\[(\d)/3\] (\S+): ok", line) for line in plain]
        assert all(matches), plain
        assert [match[1] for match in matches if match] == ["1", "2", "3"], plain
        assert {match[2] for match in matches if match} == {name_of(url) for url in urls}, plain


@pytest.mark.parametrize("budget", [6])  # two members at a time, three connections each
def test_the_connection_budget_bounds_the_server_connections(
    project: Path, pg_server: str, make_fleet: Callable[[int], tuple[str, list[str]]], budget: int
) -> None:
    prefix, urls = make_fleet(8)
    add_targets(project, f'  tenants:\n    services: [users, habits, meals]\n    query: "{fleet_query(prefix)}"\n')
    peak, done = [0], threading.Event()

    def watch() -> None:  # the fleet's connections, as the server counts them, every few milliseconds
        while not done.is_set():
            rows = query(pg_server, "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s", (f"{prefix}%",))
            peak[0] = max(peak[0], int(rows[0][0]))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = assert_ok(
            inv(project, "db.upgrade-all", "--targets", "tenants", "--jobs", "8", "--connections", str(budget), url=pg_server)
        )
    finally:
        done.set()
        watcher.join()
    assert f"tenants: 8 targets, {budget // 3} at a time" in result.stderr, show(result)
    assert all(version(url, "meals") == [head_of("meals")] for url in urls)
    assert 2 <= peak[0] <= budget, peak


def test_create_databases_is_not_for_a_fleets_members(project: Path, pg_server: str) -> None:
    add_targets(project, "  shards:\n    databases: [dbtasks_never_made]\n")
    line = assert_bad_input(inv(project, "db.upgrade-all", "--targets", "shards", "--create-databases", url=pg_server))
    assert line == (
        "--create-databases creates the databases of migrations.yaml's services, not a fleet's members; rerun without "
        "--targets or without it"
    )
    assert not query(pg_server, "SELECT 1 FROM pg_database WHERE datname = 'dbtasks_never_made'")
