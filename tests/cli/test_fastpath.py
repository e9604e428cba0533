"""The fast path: services whose state the files and the catalog tell for certain start no worker, and
report exactly what the worker would have reported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import (
    assert_ok,
    declared_services,
    execute,
    head_of,
    inv,
    parent_of,
    plant_migration,
    revisions_of,
    show,
    snapshot,
    task_environment,
    version,
)

WORKER_LINE = re.compile(r"^([a-z][a-z0-9_-]*) \| worker: ", re.M)
DEBUG = {"DBTASKS_DEBUG": "1"}  # each worker start is announced as "<service> | worker: <op>"


def workers_started(stderr: str) -> set[str]:
    return set(WORKER_LINE.findall(stderr))


def status(project: Path, url: str, fast: bool) -> tuple[list[dict[str, object]], set[str]]:
    result = inv(project, "db.status", "--json", url=url, env={"DBTASKS_FASTPATH": "1" if fast else "0", **DEBUG})
    assert "Traceback" not in result.stderr, show(result)
    return json.loads(result.stdout)["services"], workers_started(result.stderr)


def test_no_op_upgrade_all_starts_no_worker(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade-all", url=database_url))
    before = snapshot(database_url)
    result = assert_ok(inv(project, "db.upgrade-all", url=database_url, env=DEBUG))
    assert workers_started(result.stderr) == set(), show(result)
    assert all(f"{name}  " in result.stdout for name in list(declared_services()))
    assert result.stdout.count("already at head") == len(list(declared_services())), show(result)
    assert snapshot(database_url) == before


def test_only_the_services_behind_get_a_worker(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade-all", url=database_url))
    assert_ok(inv(project, "db.downgrade", "habits", "--yes", url=database_url))
    result = assert_ok(inv(project, "db.upgrade-all", url=database_url, env=DEBUG))
    assert workers_started(result.stderr) == {"habits"}, show(result)
    assert version(database_url, "habits") == [head_of("habits")]


def test_single_upgrade_at_head_starts_no_worker(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    result = assert_ok(inv(project, "db.upgrade", "movements", url=database_url, env=DEBUG))
    assert result.stdout.strip() == "movements: nothing to apply (already at or past head)"
    assert workers_started(result.stderr) == set(), show(result)


def test_a_new_migration_file_is_seen_without_a_worker_reading_the_database(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    plant_migration(project, "movements", "f00d00000002", head_of("movements"))
    rows, workers = status(project, database_url, fast=True)
    movements = next(row for row in rows if row["service"] == "movements")
    assert (movements["state"], movements["pending"], movements["head"]) == ("behind", 1, "f00d00000002")
    assert "movements" not in workers
    result = assert_ok(inv(project, "db.upgrade-all", "--only", "movements", url=database_url, env=DEBUG))
    assert workers_started(result.stderr) == {"movements"}
    assert version(database_url, "movements") == ["f00d00000002"]


@pytest.mark.parametrize(
    "state",
    ["fresh", "at head", "behind", "unknown revision", "two heads", "version table in public", "custom version table"],
)
def test_status_is_the_same_with_and_without_the_fast_path(project: Path, request: pytest.FixtureRequest, state: str) -> None:
    # Every state but a fresh database starts from the six services at head: a copy of the session's upgraded database.
    database_url: str = request.getfixturevalue("database_url" if state == "fresh" else "upgraded_url")
    if state == "behind":
        assert_ok(inv(project, "db.downgrade", "meals", "--yes", url=database_url))
    elif state == "unknown revision":
        execute(database_url, "UPDATE habits.alembic_version SET version_num = 'deadbeef0001'")
    elif state == "two heads":
        plant_migration(project, "habits", "5eco0dhead01", parent_of("habits", head_of("habits")))
    elif state == "version table in public":
        # Someone else's alembic_version in public must not be taken for a service's.
        execute(database_url, "CREATE TABLE public.alembic_version (version_num varchar(32) PRIMARY KEY)")
        execute(database_url, f"INSERT INTO public.alembic_version VALUES ('{revisions_of('movements')[0]}')")
    elif state == "custom version table":
        env = project / "services" / "movements" / "alembic" / "env.py"
        text = env.read_text()
        assert "version_table_schema=SCHEMA," in text
        env.write_text(
            text.replace(
                "version_table_schema=SCHEMA,", 'version_table_schema=SCHEMA,\n        version_table="movements_version",'
            )
        )
    slow, every = status(project, database_url, fast=False)
    assert every == set(list(declared_services()))  # the check itself can fail: without the fast path, all start
    before = snapshot(database_url)
    fast, workers = status(project, database_url, fast=True)
    assert fast == slow
    assert snapshot(database_url) == before
    certain = {row["service"] for row in slow if row["state"] in ("up to date", "behind")}
    if state == "custom version table":
        assert "movements" in workers  # only its worker knows where env.py keeps the revision
        certain.discard("movements")
    assert not (workers & certain), (workers, certain)


THREE = "users,habits,movements"  # both drivers and a dependency: what a fork or a spawn could change


@pytest.mark.slow
def test_forked_and_spawned_workers_do_the_same(project: Path, make_database: Callable[[], str]) -> None:
    """The fork server (one interpreter importing Alembic once) is only faster: same results, same database.
    Each worker start is announced with how it started, so the test knows a fork really happened."""
    states, starts = [], []
    for forked in ("1", "0"):
        url = make_database()
        env = {"DBTASKS_FORKSERVER": forked, **DEBUG}
        upgraded = assert_ok(inv(project, "db.upgrade-all", "--only", THREE, "--jobs", "2", url=url, env=env))
        checked = assert_ok(inv(project, "db.check-all", "--json", "--only", THREE, url=url, env=env))
        states.append((upgraded.stdout, json.loads(checked.stdout), snapshot(url)))
        starts.append(
            re.findall(
                r"^\S+ \| worker: \w+ \((forked by the fork server|spawned), pid \d+\)$", upgraded.stderr + checked.stderr, re.M
            )
        )
    assert states[0] == states[1]
    assert all(entry["ok"] for entry in states[0][1]["services"])
    services = len(THREE.split(","))
    assert starts[0] == ["forked by the fork server"] * (2 * services), starts[0]  # upgrade-all and check-all: one each
    assert starts[1] == ["spawned"] * (2 * services), starts[1]


# What a no-op run must not import (each is measured in BENCHMARKS.md): the YAML parser and validation (config_cache.py),
# psycopg2 (pg.py loads libpq itself), the thread pool (orchestrate's inline run), the lock, the runner and the local
# database (nothing to lock, no worker, a URL given), OpenSSL's hashlib (checksums come from the revision cache) and
# configparser (where each environment keeps its files is cached too).
HEAVY = (
    "yaml",
    "psycopg2",
    "concurrent.futures",
    "dbtasks.config.loader",
    "dbtasks.database.lock",
    "dbtasks.run.runner",
    "dbtasks.database.localdb",
)
HEAVY += ("hashlib", "configparser", "tempfile", "invoke")


def direct_process(project: Path, url: str, *args: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """`dbtasks ARGS` in a new interpreter: its stdout, and which HEAVY modules it had imported when it finished."""
    code = (
        "import json, sys; from dbtasks.__main__ import main; code = main(sys.argv[1:]); "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr); sys.exit(code)"
    )
    environment = task_environment(url, env)
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=project, env=environment, capture_output=True, text=True)
    assert result.returncode == 0 and "Traceback" not in result.stderr, show(result)
    return result.stdout, json.loads(result.stderr.splitlines()[-1])


def test_a_no_op_run_imports_only_what_it_runs(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade-all", url=database_url))
    direct_process(project, database_url, "status")  # the first run after a change fills the caches under .dbtasks/
    before = snapshot(database_url)
    for args in (["upgrade-all"], ["status"], ["status", "--json"]):
        (project / ".dbtasks" / "replay.json").unlink(missing_ok=True)  # the whole run, not its replay (test_replay.py)
        shown, imported = direct_process(project, database_url, *args)
        assert imported == [], (args, imported)
        assert shown.count("already at head" if args == ["upgrade-all"] else "up to date") == len(declared_services()), shown
    assert snapshot(database_url) == before


def test_status_is_the_same_through_libpq_and_through_psycopg2(project: Path, database_url: str) -> None:
    """pg.py loads the libpq psycopg2-binary bundles; DBTASKS_LIBPQ=psycopg2 (or no libpq to load) uses psycopg2."""
    assert_ok(inv(project, "db.upgrade-all", url=database_url))
    assert_ok(inv(project, "db.downgrade", "meals", "--yes", url=database_url))
    direct, imported = direct_process(project, database_url, "status", "--json")
    through, imported_too = direct_process(project, database_url, "status", "--json", env={"DBTASKS_LIBPQ": "psycopg2"})
    assert json.loads(direct) == json.loads(through)
    assert [row["state"] for row in json.loads(direct)["services"]].count("behind") == 1
    assert "psycopg2" not in imported and "psycopg2" in imported_too
