"""inv db.adopt: databases plain Alembic migrated, taken over without skipping or repeating a migration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from _support import assert_bad_input, assert_ok, execute, head_of, inv, query, show, task_environment, version

from dbtasks.database.lock import key_of

# What plain Alembic leaves when two services' env.py keep the default version table: public.alembic_version.
SHARED = "public.alembic_version"


def plain_alembic_kept(url: str, service: str, table: str = SHARED) -> None:
    """Move `service`'s recorded revision from its own version table to `table`, as plain Alembic would have kept it."""
    execute(
        url,
        f"CREATE TABLE IF NOT EXISTS {table} (version_num varchar(32) NOT NULL PRIMARY KEY)",
        f"INSERT INTO {table} SELECT version_num FROM {service}.alembic_version",
        f"DELETE FROM {service}.alembic_version",
    )


def rows_of(url: str, table: str) -> list[str]:
    return sorted(row[0] for row in query(url, f"SELECT version_num FROM {table}"))


def adopted(project: Path, url: str, *args: str) -> dict[str, dict[str, str]]:
    result = assert_ok(inv(project, "db.adopt", "--json", *args, url=url))
    return {entry["service"]: entry for entry in json.loads(result.stdout)["services"]}


def test_a_service_one_behind_head_in_the_shared_table_is_moved_then_upgraded(project: Path, upgraded_url: str) -> None:
    url = upgraded_url
    assert_ok(inv(project, "db.downgrade", "meals", "--yes", url=url))  # meals at 0002, one behind its head 0003
    plain_alembic_kept(url, "meals")

    report = adopted(project, url, "--service", "meals")["meals"]
    assert (report["state"], report["revision"], report["found_in"], report["command"]) == (
        "row elsewhere",
        "0002",
        SHARED,
        "inv db.adopt --service meals --yes",
    )
    assert report["detail"] == (
        "plain Alembic recorded 0002 (behind its head) in public.alembic_version; adopt moves it to meals.alembic_version"
    )
    assert (version(url, "meals"), rows_of(url, SHARED)) == ([], ["0002"])  # the report changed nothing

    moved = assert_ok(inv(project, "db.adopt", "--service", "meals", "--yes", url=url))
    assert "meals: undo with: inv db.adopt --service meals --move-to public.alembic_version --yes" in moved.stdout, show(moved)
    assert moved.stdout.splitlines()[2].split()[:3] == ["meals", "moved", "0002"], show(moved)
    assert moved.stdout.splitlines()[2].split()[-2:] == ["db.upgrade", "meals"], show(moved)
    assert (version(url, "meals"), rows_of(url, SHARED)) == (["0002"], [])

    # The undo it printed puts the row back where it was; adopting again moves it once more.
    assert_ok(inv(project, "db.adopt", "--service", "meals", "--move-to", SHARED, "--yes", url=url))
    assert (version(url, "meals"), rows_of(url, SHARED)) == ([], ["0002"])
    assert_ok(inv(project, "db.adopt", "--service", "meals", "--yes", url=url))

    # The next step it names runs exactly the one migration that was missing.
    upgraded = assert_ok(inv(project, "db.upgrade", "meals", url=url))
    assert "meals: upgraded 0002 -> 0003 (1 migration)" in upgraded.stdout, show(upgraded)
    assert version(url, "meals") == [head_of("meals")] == ["0003"]


def test_another_service_s_row_in_a_version_table_is_named_and_moved_under_both_locks(project: Path, upgraded_url: str) -> None:
    url = upgraded_url
    plain_alembic_kept(url, "meals", "movements.alembic_version")  # movements' table holds its own row and meals'

    reports = adopted(project, url)
    assert (reports["movements"]["state"], reports["movements"]["command"]) == (
        "holds another's row",
        "inv db.adopt --service meals",
    )
    assert reports["movements"]["detail"] == (
        "movements.alembic_version holds 0003, a revision of meals (plain Alembic kept both in one table)"
    )
    assert (reports["meals"]["state"], reports["meals"]["found_in"]) == ("row elsewhere", "movements.alembic_version")
    assert {name: entry["state"] for name, entry in reports.items() if name not in ("meals", "movements")} == {
        name: "adopted" for name in ("users", "habits", "practices", "journal")
    }

    assert_ok(inv(project, "db.adopt", "--service", "meals", "--yes", url=url))
    assert (version(url, "meals"), version(url, "movements")) == (["0003"], [head_of("movements")])
    assert {entry["state"] for entry in adopted(project, url).values()} == {"adopted"}


def test_tables_without_a_revision_are_matched_in_a_scratch_database_and_stamped_only_on_a_match(
    project: Path, upgraded_url: str
) -> None:
    url = upgraded_url
    assert_ok(inv(project, "db.downgrade", "meals", "--yes", url=url))
    execute(url, "DELETE FROM meals.alembic_version")  # meals' tables at 0002, no revision recorded anywhere

    report = adopted(project, url, "--service", "meals")["meals"]
    assert (report["state"], report["revision"], report["command"]) == (
        "tables without revision",
        "0002",
        "inv db.adopt --service meals --yes",
    )
    assert report["detail"] == (
        "its tables are the schema of 0002 (its migrations applied one at a time in a scratch database); adopt records "
        "0002 in meals.alembic_version"
    )
    assert version(url, "meals") == []
    assert not query(url, "SELECT datname FROM pg_database WHERE datname LIKE %s", ("meals_verify_%",))  # the scratch is gone

    stamped = assert_ok(inv(project, "db.adopt", "--service", "meals", "--yes", url=url))
    assert "meals: undo with: inv db.stamp meals base --yes" in stamped.stdout, show(stamped)
    assert version(url, "meals") == ["0002"]
    upgraded = assert_ok(inv(project, "db.upgrade", "meals", url=url))
    assert "meals: upgraded 0002 -> 0003 (1 migration)" in upgraded.stdout, show(upgraded)

    # A column no revision makes: no revision matches, and nothing is recorded.
    assert_ok(inv(project, "db.downgrade", "meals", "--yes", url=url))
    execute(url, "DELETE FROM meals.alembic_version", "ALTER TABLE meals.foods ADD COLUMN extra integer")
    report = adopted(project, url, "--service", "meals", "--yes")["meals"]
    assert (report["state"], report["revision"], report["action"], report["command"]) == (
        "tables without revision",
        None,
        "none",
        None,
    )
    assert report["detail"] == (
        "no revision's schema is the live one (closest: 0002, which differs: created column meals.foods.extra); nothing "
        "to record: bring the tables in line with a revision, or fix the migrations"
    )
    assert version(url, "meals") == []


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("--move-to", SHARED, "--yes"),
            "--move-to moves one service's row: name the service (inv db.adopt --service SERVICE --move-to TABLE --yes)",
        ),
        (
            ("--service", "meals", "--move-to", "nodot", "--yes"),
            "--move-to 'nodot': expected SCHEMA.TABLE, such as public.alembic_version",
        ),
        (
            ("--service", "meals", "--move-to", "public.nowhere", "--yes"),
            "meals: public.nowhere is not a version table in its database; give the table adopt moved the row from",
        ),
        (
            ("--service", "meals", "--move-to", SHARED),
            "meals: --move-to moves its recorded revision from meals.alembic_version to public.alembic_version; rerun with "
            "--yes to confirm",
        ),
        (
            ("--service", "meals", "--move-to", "meals.alembic_version", "--yes"),
            "meals: --move-to names its own version table; give the table to move the row to",
        ),
    ],
)
def test_bad_adopt_options_change_nothing(project: Path, upgraded_url: str, args: tuple[str, ...], line: str) -> None:
    execute(upgraded_url, f"CREATE TABLE {SHARED} (version_num varchar(32) NOT NULL PRIMARY KEY)")
    assert assert_bad_input(inv(project, "db.adopt", *args, url=upgraded_url)) == line
    assert (version(upgraded_url, "meals"), rows_of(upgraded_url, SHARED)) == (["0003"], [])


def test_a_match_is_made_again_under_the_lock_before_anything_is_recorded(project: Path, upgraded_url: str) -> None:
    """adopt --yes waits for the service's lock; the tables change meanwhile: it matches again under the lock, finds
    no revision, and records nothing."""
    url = upgraded_url
    assert_ok(inv(project, "db.downgrade", "meals", "--yes", url=url))
    execute(url, "DELETE FROM meals.alembic_version")  # meals' tables at 0002, no revision recorded
    holder = psycopg2.connect(url, application_name="someone else's deploy")
    holder.autocommit = True
    holder.cursor().execute("SELECT pg_advisory_lock(%s, %s)", key_of("meals"))
    with subprocess.Popen(  # waited for on the way out, also when an assertion fails
        [sys.executable, "-m", "invoke", "db.adopt", "--service", "meals", "--yes", "--lock-wait", "60"],
        cwd=project,
        env=task_environment(url, None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as adopting:
        try:
            assert adopting.stderr is not None
            waiting = ""
            while "waiting for the migration lock" not in waiting:  # matched once, now waiting for the lock
                waiting = adopting.stderr.readline()
                assert waiting, "adopt ended before it waited for the lock"
            execute(url, "ALTER TABLE meals.foods ADD COLUMN extra integer")  # what another deploy does meanwhile
        finally:
            holder.close()
        stdout, stderr = adopting.communicate(timeout=120)
        assert adopting.returncode == 1, (stdout, stderr)
        assert stderr.splitlines()[-1] == (
            "meals: its tables or version tables changed while adopt waited for the lock; nothing was recorded: rerun "
            "inv db.adopt --service meals to see where it stands now"
        )
    assert version(url, "meals") == []
