"""Safety: bad input changes nothing, passwords never leak, a failing migration is isolated, concurrent
runs apply each migration once, and a killed runner or a restarted server leaves every service at its
old or its new revision, from which a rerun completes.

Everything runs through `inv` in subprocesses against real PostgreSQL servers; every wait is bounded and
every process a test starts is killed by id (or by the process group it leads) on the way out."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from _support import (
    assert_bad_input,
    assert_failure,
    assert_ok,
    declared_services,
    error_lines,
    expected_tables,
    head_of,
    inv,
    local_database_made,
    output,
    plant_migration,
    replace_once,
    revisions_of,
    schema_of,
    show,
    snapshot,
    summary_states,
    tables,
    version,
)
from safety_helpers import (
    Background,
    advisory_lock_holders,
    background,
    files_under,
    is_running_worker,
    kill_pids,
    leaks,
    line_number,
    other_sessions,
    role_with_password,
    sessions_running,
    start_inv,
    upgrades_logged,
    wait_for,
    with_port,
    worker_children,
)

from dbtasks.database.localdb import LocalDatabase

ALL = list(declared_services())
CONFIG = "migrations.yaml"


def assert_all_at_head(url: str, project: Path | None = None, services: list[str] = ALL) -> None:
    """Every service is at its head (the copy's, when `project` is given) with its expected tables."""
    for service in services:
        schema = schema_of(service)
        head = head_of(service, project) if project is not None else head_of(service)
        assert version(url, schema) == [head], service
        assert expected_tables(service) <= tables(url, schema), service


def assert_password_hidden(url: str, *results: subprocess.CompletedProcess[str]) -> None:
    """Neither spelling of `url`'s password shows up in what the runs printed."""
    password = urlsplit(url).password
    assert password
    spellings = tuple(dict.fromkeys((password, unquote(password))))
    found = [spelling for result in results for spelling in leaks(output(result), spellings)]
    assert not found, found


def assert_untouched(url: str, service: str) -> None:
    schema = schema_of(service)
    assert version(url, schema) == [], service
    assert tables(url, schema) <= {"alembic_version"}, service


# == 1. bad input: one line, a non-zero exit, nothing changed ============================================


Edit = Callable[[Path], None]


def yaml_replace(old: str, new: str) -> Edit:
    return lambda project: replace_once(project / CONFIG, old, new)


def yaml_append(text: str) -> Edit:
    def append(project: Path) -> None:
        with open(project / CONFIG, "a", encoding="utf-8") as handle:
            handle.write(text)

    return append


def yaml_delete(project: Path) -> None:
    (project / CONFIG).unlink()


def dotenv(text: str) -> Edit:
    return lambda project: (project / ".env").write_text(text, encoding="utf-8")


ENVIRONMENTS = """\
environments:
  production:
    protected: true
    url_env: PROD_DATABASE_URL
    statement_timeout: 30s
    lock_timeout: 5s
  staging:
    url_env: STAGING_DATABASE_URL
"""
# Both environments point at the upgraded database: a refusal that did not refuse would change it.
ENV_URLS = {"PROD_DATABASE_URL": "{url}", "STAGING_DATABASE_URL": "{url}"}


def environments(old: str = "", new: str = "") -> Edit:
    """Append ENVIRONMENTS to migrations.yaml, with `old` replaced by `new` in it."""
    assert not old or ENVIRONMENTS.count(old) == 1
    return yaml_append(ENVIRONMENTS.replace(old, new) if old else ENVIRONMENTS)


@dataclass(frozen=True)
class Bad:
    task: tuple[str, ...]
    words: tuple[str, ...]  # each must be in the error line
    edit: Edit | None = None  # applied to the project copy first
    at: str | None = None  # the line of migrations.yaml the message must point at (file:line:)
    url: str | None = "{url}"  # DATABASE_URL ({url}: the upgraded database); None: unset
    env: Mapping[str, str] = field(default_factory=dict)  # more variables ({url} is replaced)
    service: str | None = None  # reported by the service's worker: one line 'service: ...' besides progress lines
    code: int = 2


BAD_INPUTS = [
    # -- migrations.yaml ------------------------------------------------------------------------------------
    pytest.param(
        Bad(
            ("db.upgrade-all",),
            ("migrations.yaml:", "invalid YAML", "fix the syntax"),
            yaml_replace("    schema: habits\n", "    schema: [habits\n"),
        ),
        id="yaml-syntax-error",
    ),
    pytest.param(
        Bad(
            ("db.upgrade", "habits"),
            ("services.habits.drivr", "unknown key", "did you mean 'driver'"),
            yaml_replace("    schema: habits\n    driver: asyncpg\n", "    schema: habits\n    drivr: asyncpg\n"),
            at="    drivr: asyncpg",
        ),
        id="yaml-unknown-key",
    ),
    pytest.param(
        Bad(
            ("db.downgrade-all", "--yes"),
            ("services.habits.driver", "expected asyncpg, psycopg2 or psycopg (psycopg 3)", "'asyncpgg'"),
            yaml_replace("    schema: habits\n    driver: asyncpg\n", "    schema: habits\n    driver: asyncpgg\n"),
            at="    driver: asyncpgg",
        ),
        id="yaml-bad-driver",
    ),
    pytest.param(
        Bad(
            ("db.upgrade-all",),
            ("services.habits.depends_on", "expected a list of service names"),
            yaml_replace(
                "    depends_on: [users]\n    expect_tables: [habits", "    depends_on: users\n    expect_tables: [habits"
            ),
            at="    depends_on: users",
        ),
        id="yaml-depends-on-not-a-list",
    ),
    pytest.param(
        Bad(
            ("db.reset", "habits", "--yes"),
            ("services.habits.schema", "expected a schema name", "42"),
            yaml_replace("    schema: habits\n", "    schema: 42\n"),
            at="    schema: 42",
        ),
        id="yaml-schema-not-a-name",
    ),
    pytest.param(
        Bad(
            ("db.upgrade-all",),
            ("services.journal.env", "expected a mapping"),
            yaml_replace("    env: {ALEMBIC_ENV: local}\n", "    env: [local]\n"),
            at="    env: [local]",
        ),
        id="yaml-env-not-a-mapping",
    ),
    pytest.param(
        Bad(
            ("db.stamp-all", "base", "--yes"),
            ("services.habits", "missing 'schema'"),
            yaml_replace("    path: services/habits\n    schema: habits\n", "    path: services/habits\n"),
            at="  habits:",
        ),
        id="yaml-missing-schema",
    ),
    pytest.param(
        Bad(
            ("db.upgrade", "movements"),
            ("services.movements", "missing 'path'"),
            yaml_replace("  movements:\n    path: services/movements\n", "  movements:\n"),
            at="  movements:",
        ),
        id="yaml-missing-path",
    ),
    pytest.param(
        Bad(
            ("db.downgrade-all", "--yes"),
            ("dependency cycle users -> journal -> users", "remove one"),
            yaml_replace("    schema: users\n", "    schema: users\n    depends_on: [journal]\n"),
            at="    depends_on: [journal]",
        ),
        id="yaml-dependency-cycle",
    ),
    pytest.param(
        Bad(
            ("db.upgrade-all",),
            ("services.habits.depends_on", "unknown service 'user'", "did you mean 'users'"),
            yaml_replace(
                "    depends_on: [users]\n    expect_tables: [habits", "    depends_on: [user]\n    expect_tables: [habits"
            ),
            at="    depends_on: [user]",
        ),
        id="yaml-unknown-dependency",
    ),
    pytest.param(
        Bad(
            ("db.reset-all", "--yes"),
            ("services.movements:", "habits.alembic_version, like 'habits'", "version_table: alembic_version_movements"),
            yaml_replace("    schema: movements\n", '    schema: "habits"\n'),
            at='    schema: "habits"',
        ),
        id="yaml-shared-version-table",
    ),
    pytest.param(
        Bad(
            ("db.upgrade", "habits"),
            ("services.habits.path", "services/habit", "does not exist", "fix the path"),
            yaml_replace("    path: services/habits\n", "    path: services/habit\n"),
            at="    path: services/habit",
        ),
        id="yaml-path-does-not-exist",
    ),
    pytest.param(
        Bad(
            ("db.upgrade", "habits"),
            ("services.habits.alembic_ini", "alembic-prod.ini", "does not exist"),
            yaml_replace("    schema: habits\n", "    schema: habits\n    alembic_ini: alembic-prod.ini\n"),
            at="    alembic_ini: alembic-prod.ini",
        ),
        id="yaml-alembic-ini-does-not-exist",
    ),
    pytest.param(
        Bad(
            ("db.upgrade-all",),
            ("services.movements.python", "not an executable interpreter", "fix python"),
            yaml_replace("    schema: movements\n", "    schema: movements\n    python: .venv/bin/python\n"),
            at="    python: .venv/bin/python",
        ),
        id="yaml-interpreter-does-not-exist",
    ),
    pytest.param(
        Bad(
            ("db.upgrade-all",),
            ("version: expected 1, got 2",),
            yaml_replace("\nversion: 1\n", "\nversion: 2\n"),
            at="version: 2",
        ),
        id="yaml-version-2",
    ),
    pytest.param(
        Bad(
            ("db.downgrade-all", "--yes"),
            ("database.local", "expected true or false", "'maybe'"),
            yaml_replace("  url_env: DATABASE_URL", "  local: maybe\n  url_env: DATABASE_URL"),
            at="  local: maybe",
        ),
        id="yaml-local-not-a-bool",
    ),
    pytest.param(
        Bad(
            ("db.upgrade", "habits"),
            ("services.habits.schema", "duplicate key"),
            yaml_replace("    schema: habits\n", "    schema: habits\n    schema: habitz\n"),
            at="    schema: habitz",
        ),
        id="yaml-duplicate-key",
    ),
    pytest.param(Bad(("db.status",), ("migrations.yaml", "not found", "create it"), yaml_delete), id="yaml-file-missing"),
    # -- arguments -----------------------------------------------------------------------------------------
    pytest.param(Bad(("db.upgrade", "payments"), ("unknown service 'payments'", "known: users, habits")), id="unknown-service"),
    pytest.param(
        Bad(("db.reset", "habit", "--yes"), ("unknown service 'habit'", "did you mean 'habits'")), id="misspelled-service"
    ),
    pytest.param(Bad(("db.verify", "movement"), ("'movement'", "did you mean 'movements'")), id="misspelled-service-verify"),
    pytest.param(Bad(("db.upgrade-all", "--jobs", "0"), ("--jobs: expected a positive number, got '0'",)), id="jobs-0"),
    pytest.param(Bad(("db.downgrade-all", "--yes", "--jobs", "abc"), ("--jobs", "'abc'")), id="jobs-abc"),
    pytest.param(Bad(("db.generate", "habits"), ("habits", "a message is required", "-m")), id="generate-without-message"),
    pytest.param(Bad(("db.upgrade-all", "--only", "habits,payment"), ("unknown service 'payment'", "known:")), id="only-unknown"),
    pytest.param(
        Bad(("db.downgrade-all", "--yes", "--exclude", "meal"), ("unknown service 'meal'", "did you mean 'meals'")),
        id="exclude-misspelled",
    ),
    pytest.param(
        Bad(("db.reset-all", "--yes", "--exclude", ",".join(ALL)), ("no service selected", "--only", "--exclude")),
        id="exclude-everything",
    ),
    pytest.param(Bad(("db.downgrade", "habits"), ("habits", "--yes")), id="downgrade-without-yes"),
    pytest.param(Bad(("db.reset", "meals"), ("meals", "--yes")), id="reset-without-yes"),
    pytest.param(Bad(("db.stamp", "movements", "base"), ("movements", "--yes")), id="stamp-without-yes"),
    pytest.param(Bad(("db.downgrade-all", "--to", "base"), ("downgrade-all", "--yes")), id="downgrade-all-without-yes"),
    pytest.param(Bad(("db.reset-all",), ("reset-all", "--yes")), id="reset-all-without-yes"),
    pytest.param(Bad(("db.stamp-all", "base"), ("stamp-all", "--yes")), id="stamp-all-without-yes"),
    pytest.param(Bad(("db.sql-all",), ("--output-dir is required",)), id="sql-all-without-output-dir"),
    # Invoke's own parser rejects these before dbtasks runs, with its exit code 1.
    pytest.param(Bad(("db.upgrade", "habits", "--too", "base"), ("--too",), code=1), id="unknown-option"),
    pytest.param(Bad(("db.stamp", "habits", "--yes"), ("revision",), code=1), id="stamp-without-revision"),
    # -- URLs --------------------------------------------------------------------------------------------------
    pytest.param(
        Bad(("db.upgrade-all",), ("DATABASE_URL", "expected a postgresql:// URL"), url="mysql://app:pw@127.0.0.1:3306/app"),
        id="url-not-postgres",
    ),
    pytest.param(
        Bad(
            ("db.downgrade-all", "--yes"),
            ("DATABASE_URL", "names no database", "/dbname"),
            url="postgresql://app:pw@127.0.0.1:5432",
        ),
        id="url-without-database",
    ),
    pytest.param(
        Bad(("db.upgrade", "habits"), ("DATABASE_URL", "raw '@'", "%40"), url="postgresql://app:p@ss@127.0.0.1:5432/app"),
        id="url-raw-at-in-password",
    ),
    pytest.param(
        Bad(
            ("db.status", "--json"),
            ("DATABASE_URL", "malformed URL", "fix the variable"),
            url="postgresql://app:pw@127.0.0.1:54x2/app",
        ),
        id="url-malformed-port",
    ),
    pytest.param(
        Bad(
            ("db.reset-all", "--yes"),
            ("DATABASE_URL (in .env)", "malformed URL"),
            dotenv("DATABASE_URL=postgresql://app:pw@127.0.0.1:99999/app\n"),
            url=None,
        ),
        id="url-in-dotenv-port-out-of-range",
    ),
    pytest.param(
        Bad(
            ("db.upgrade-all",),
            ("DATABASE_URL is not set", "database.local: false"),
            yaml_replace("  url_env: DATABASE_URL", "  local: false\n  url_env: DATABASE_URL"),
            url=None,
        ),
        id="url-unset-local-off",
    ),
    # -- revisions (reported by the service's worker) ---------------------------------------------------------
    pytest.param(
        Bad(("db.upgrade", "habits", "--to", "feedface9999"), ("'feedface9999'", "inv db.history habits"), service="habits"),
        id="upgrade-to-unknown-revision",
    ),
    pytest.param(
        Bad(
            ("db.downgrade", "movements", "--to", "feedface9999", "--yes"),
            ("'feedface9999'", "inv db.history movements"),
            service="movements",
        ),
        id="downgrade-to-unknown-revision",
    ),
    pytest.param(
        Bad(("db.stamp", "meals", "feedface9999", "--yes"), ("'feedface9999'", "inv db.history meals"), service="meals"),
        id="stamp-unknown-revision",
    ),
    pytest.param(
        Bad(("db.sql", "habits", "--from", "feedface9999"), ("'feedface9999'", "inv db.history habits"), service="habits"),
        id="sql-from-unknown-revision",
    ),
    pytest.param(
        Bad(("db.upgrade", "habits", "--to", "nope-1"), ("no revision 'nope'", "inv db.history habits"), service="habits"),
        id="upgrade-relative-to-unknown-revision",
    ),
    pytest.param(
        Bad(
            ("db.downgrade", "meals", "--to", "nope-1", "--yes"),
            ("no revision 'nope'", "inv db.history meals"),
            service="meals",
        ),
        id="downgrade-relative-to-unknown-revision",
    ),
    pytest.param(
        Bad(("db.upgrade", "habits", "--to", "+99"), ("+99", "goes past", "inv db.history habits"), service="habits"),
        id="upgrade-plus-99",
    ),
    pytest.param(
        Bad(("db.downgrade", "meals", "--to", "-99", "--yes"), ("-99", "goes past", "inv db.current meals"), service="meals"),
        id="downgrade-minus-99",
    ),
    # -- environments ---------------------------------------------------------------------------------------------
    pytest.param(
        Bad(("db.downgrade-all", "--yes", "--env", "prod"), ("'prod'", "production", "staging"), environments(), env=ENV_URLS),
        id="env-unknown-name",
    ),
    pytest.param(
        Bad(
            ("db.downgrade", "habits", "--yes"),
            ("'prod'", "DBTASKS_ENV", "production", "staging"),
            environments(),
            env={**ENV_URLS, "DBTASKS_ENV": "prod"},
        ),
        id="env-unknown-DBTASKS_ENV",
    ),
    pytest.param(
        Bad(
            ("db.reset-all", "--yes", "--env", "nosuch"),
            ("'nosuch'", "production"),
            environments(),
            env={**ENV_URLS, "DBTASKS_ENV": "staging"},
        ),
        id="env-flag-wins-over-DBTASKS_ENV",
    ),
    pytest.param(
        Bad(
            ("db.status", "--env", "production"),
            ("environments.production.protect", "did you mean 'protected'"),
            environments("    protected: true\n", "    protect: true\n"),
            at="    protect: true",
            env=ENV_URLS,
        ),
        id="env-unknown-key",
    ),
    pytest.param(
        Bad(
            ("db.upgrade-all", "--env", "production"),
            ("environments.production.protected", "'maybe'"),
            environments("    protected: true\n", "    protected: maybe\n"),
            at="    protected: maybe",
            env=ENV_URLS,
        ),
        id="env-protected-maybe",
    ),
    pytest.param(
        Bad(
            ("db.upgrade-all", "--env", "production"),
            ("environments.production.statement_timeout", "30 parsecs"),
            environments("    statement_timeout: 30s\n", "    statement_timeout: 30 parsecs\n"),
            at="    statement_timeout: 30 parsecs",
            env=ENV_URLS,
        ),
        id="env-statement-timeout-parsecs",
    ),
    pytest.param(
        Bad(
            ("db.downgrade-all", "--yes", "--env", "staging"),
            ("environments.production.lock_timeout", "soon"),
            environments("    lock_timeout: 5s\n", "    lock_timeout: soon\n"),
            at="    lock_timeout: soon",
            env=ENV_URLS,
        ),
        id="env-lock-timeout-not-a-duration",
    ),
    pytest.param(
        Bad(
            ("db.upgrade-all", "--env", "staging"),
            ("environments", "expected a mapping"),
            yaml_append("environments: [production, staging]\n"),
            at="environments: [production, staging]",
            env=ENV_URLS,
        ),
        id="env-not-a-mapping",
    ),
    pytest.param(
        Bad(
            ("db.upgrade-all", "--env", "staging"),
            ("STAGING_DATABASE_URL",),
            environments(),
            url=None,
            env={"PROD_DATABASE_URL": "{url}"},
        ),
        id="env-url-env-unset",
    ),
    pytest.param(
        Bad(("db.downgrade", "habits", "--env", "production"), ("habits", "production", "--yes"), environments(), env=ENV_URLS),
        id="env-protected-downgrade-without-yes",
    ),
    pytest.param(
        Bad(("db.reset", "movements", "--env", "production"), ("movements", "production", "--yes"), environments(), env=ENV_URLS),
        id="env-protected-reset-without-yes",
    ),
    pytest.param(
        Bad(("db.stamp", "meals", "base", "--env", "production"), ("meals", "production", "--yes"), environments(), env=ENV_URLS),
        id="env-protected-stamp-without-yes",
    ),
    pytest.param(
        Bad(("db.downgrade-all", "--to", "base", "--env", "production"), ("production", "--yes"), environments(), env=ENV_URLS),
        id="env-protected-downgrade-all-without-yes",
    ),
    pytest.param(
        Bad(("db.reset-all",), ("production", "--yes"), environments(), env={**ENV_URLS, "DBTASKS_ENV": "production"}),
        id="env-protected-by-DBTASKS_ENV-reset-all-without-yes",
    ),
    pytest.param(
        Bad(("db.stamp-all", "base", "--env", "production"), ("production", "--yes"), environments(), env=ENV_URLS),
        id="env-protected-stamp-all-without-yes",
    ),
]


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_and_changes_nothing(project: Path, upgraded_url: str, case: Bad) -> None:
    url = upgraded_url
    if case.edit is not None:
        case.edit(project)
    at = line_number(project / CONFIG, case.at) if case.at else None
    environment = {key: value.format(url=url) for key, value in case.env.items()}
    before = snapshot(url)

    result = inv(project, *case.task, url=case.url.format(url=url) if case.url else None, env=environment)

    # A refusal from a service's worker may follow its progress lines; any other is the only stderr line.
    line = assert_failure(result, case.service, case.code) if case.service else assert_bad_input(result, case.code)
    missing = [word for word in case.words if word not in line]
    assert not missing, f"{missing} not in {line!r}\n{show(result)}"
    if at is not None:
        assert f"{CONFIG}:{at}:" in line, line
    assert snapshot(url) == before
    assert not local_database_made(project)  # no local database stood in for the one configured


# == 2. every task with a known password ========================================================================

# '@' and '/' must be percent-encoded in a URL; ':' may stay raw in the password part. The scan looks for the URL's
# spelling, the raw password and the fragment both share, so a plain password's leak would show too (and every task
# test's URL carries a plain one: the fleet, doctor and connection-target tests scan their output for it).
PASSWORDS = [
    pytest.param("p@ss:w0rd/Known-4712", "p%40ss:w0rd%2FKnown-4712", "Known-4712", id="percent-encoded"),
]

# A failing migration that prints the URL it was handed and quotes it in its error.
LEAKY_FAILURE = (
    "import os\n\n"
    "    print('connecting to', os.environ['DATABASE_URL'])\n"
    "    raise RuntimeError('planted failure at ' + os.environ['DATABASE_URL'])"
)
HABITS_CONFIG = Path("services/habits/habits_service/app/config.py")


@dataclass
class Recorder:
    """Runs tasks in a project copy and keeps every result for the final scan."""

    project: Path
    url: str
    results: list[tuple[tuple[str, ...], subprocess.CompletedProcess[str]]] = field(default_factory=list)

    def run(
        self, *task: str, code: int = 0, url: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = inv(self.project, *task, url=url or self.url, env=env)
        self.results.append((task, result))
        assert result.returncode == code, f"inv {' '.join(task)}\n{show(result)}"
        if not (env or {}).get("DBTASKS_DEBUG"):
            assert "Traceback" not in output(result), f"inv {' '.join(task)}\n{show(result)}"
        return result


@pytest.mark.slow
@pytest.mark.parametrize(("password", "in_url", "fragment"), PASSWORDS)
def test_every_task_with_a_known_password_never_shows_it(
    project: Path, pg_server: str, tmp_path: Path, password: str, in_url: str, fragment: str
) -> None:
    spellings = tuple(dict.fromkeys((in_url, password, fragment)))
    out = tmp_path / "out"
    with role_with_password(pg_server, password, in_url) as owner:
        url, admin = owner.database()
        other_url, _ = owner.database()
        closed = with_port(url, 1)  # nothing listens there
        tasks = Recorder(project, url)
        debug = {"DBTASKS_DEBUG": "1"}

        tasks.run("db.status")
        tasks.run("db.status", "--json")
        tasks.run("db.upgrade", "habits")
        tasks.run("db.upgrade-all")
        assert_all_at_head(admin)
        for task in ("db.current", "db.history", "db.heads", "db.check"):
            tasks.run(task, "habits")
        tasks.run("db.check-all")
        tasks.run("db.check-all", "--json")
        tasks.run("db.check-all", "--lint", "--json")
        tasks.run("db.lint", "habits", "--json")
        tasks.run("db.lint-all", "--junit", str(out / "lint-all.xml"))
        tasks.run("db.checksums", "habits")
        tasks.run("db.checksums", "habits", "--json")
        tasks.run("db.checksums", "habits", "--accept", "all")
        tasks.run("db.doctor")
        tasks.run("db.doctor", "--json")
        tasks.run("db.sql", "habits")
        tasks.run("db.sql", "habits", "--output", str(out / "habits.sql"))
        tasks.run("db.sql-all", "--output-dir", str(out / "sql"))
        tasks.run("db.downgrade", "habits", "--yes")
        assert version(admin, "habits") == [revisions_of("habits")[-2]]
        tasks.run("db.upgrade", "habits")
        tasks.run("db.reset", "habits", "--yes")
        tasks.run("db.stamp", "habits", "head", "--yes")
        tasks.run("db.downgrade-all", "--to", "base", "--yes")
        assert all(version(admin, schema_of(service)) == [] for service in ALL)
        tasks.run("db.reset-all", "--yes")
        tasks.run("db.stamp-all", "head", "--yes")
        tasks.run("db.verify", "habits", "--json", "--junit", str(out / "verify-habits.xml"))
        kept = tasks.run("db.verify", "movements", "--keep")
        assert "scratch database kept" in kept.stdout and "***" in kept.stdout, show(kept)
        tasks.run("db.verify-all", "--json", "--junit", str(out / "verify-all.xml"))
        tasks.run("db.generate", "habits", "-m", "nothing changed")
        tasks.run("db.generate", "habits", "--empty", "-m", "safety empty")
        tasks.run("db.merge", "habits", code=1)  # one head: nothing to merge
        tasks.run("db.upgrade", "habits")

        # Failing runs: a migration that prints and raises the URL, a wrong database, a closed port.
        leaky = plant_migration(project, "movements", "1eac0000beef", head_of("movements"), body=LEAKY_FAILURE)
        tasks.run("db.upgrade", "movements", code=1)
        tasks.run("db.upgrade", "movements", code=1, env=debug)
        tasks.run("db.upgrade-all", code=1)
        tasks.run("db.check-all", "--json", code=1)
        tasks.run("db.verify", "movements", "--json", code=1)
        tasks.run("db.lint", "movements", "--json", code=1)  # offline, env.py still gets the configured URL
        tasks.run("db.status", "--json")
        leaky.unlink()
        config = project / HABITS_CONFIG
        original = config.read_text(encoding="utf-8")
        replace_once(
            config,
            'url = os.environ.get("DATABASE_URL")',
            'url = os.environ.get("HABITS_DATABASE_URL") or os.environ.get("DATABASE_URL")',
        )
        tasks.run("db.downgrade", "habits", "--yes")  # something to apply: a service at head may start no worker
        wrong = tasks.run("db.upgrade", "habits", code=1, env={"HABITS_DATABASE_URL": other_url, **debug})
        assert "env.py connected to" in wrong.stderr, show(wrong)
        config.write_text(original, encoding="utf-8")
        tasks.run("db.upgrade", "habits", code=1, url=closed, env=debug)
        tasks.run("db.status", "--json", code=1, url=closed)
        tasks.run("db.doctor", "--json", code=1, url=closed)
        tasks.run("db.local-url", code=1)
        tasks.run("db.local-stop")
        tasks.run("db.local-start", code=2)  # DATABASE_URL is set: the local database is never started
        tasks.run("db.upgrade-all")
        assert_all_at_head(admin, project)

    found = [(" ".join(task), spelling) for task, result in tasks.results for spelling in leaks(output(result), spellings)]
    for path in files_under(project, out):
        found.extend((str(path), spelling) for spelling in leaks(path.read_bytes(), spellings))
    assert not found, f"the password shows up in: {found}"
    assert len(tasks.results) >= 40
    assert {path.name for path in (out / "sql").iterdir()} == {f"{service}.sql" for service in ALL}
    assert (out / "verify-all.xml").is_file() and (out / "verify-habits.xml").is_file() and (out / "lint-all.xml").is_file()
    assert not local_database_made(project)


@pytest.mark.slow
@pytest.mark.parametrize(("password", "in_url", "fragment"), PASSWORDS)
def test_a_known_password_in_a_protected_environment_never_shows(
    project: Path, pg_server: str, password: str, in_url: str, fragment: str
) -> None:
    """The same scan with the URL coming from a protected environment's url_env (DATABASE_URL unset)."""
    spellings = (in_url, password, fragment)
    environments()(project)
    with role_with_password(pg_server, password, in_url) as owner:
        url, admin = owner.database()
        prod = {"PROD_DATABASE_URL": url}
        results = []

        def run(*task: str, code: int = 0, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
            result = inv(project, *task, url=None, env={**prod, **(env or {})})
            results.append(result)
            assert result.returncode == code and "Traceback" not in output(result), show(result)
            return result

        run("db.status", "--json", "--env", "production")
        run("db.upgrade-all", "--env", "production")
        assert_all_at_head(admin)
        refused = run("db.downgrade", "habits", "--env", "production", code=2)
        assert "production" in refused.stderr and "--yes" in refused.stderr, show(refused)
        assert version(admin, "habits") == [head_of("habits")]
        run("db.downgrade", "habits", "--env", "production", "--yes")  # no terminal: --yes is enough
        assert version(admin, "habits") == [revisions_of("habits")[-2]]
        run("db.reset-all", "--yes", env={"DBTASKS_ENV": "production"})
        run("db.sql", "habits", "--env", "production")
        run("db.status", env={"DBTASKS_ENV": "production"})
        run("db.checksums", "habits", "--env", "production", "--accept", "all", "--yes")
        run("db.checksums", "habits", "--env", "production", "--json")
        run("db.downgrade", "habits", "--env", "production", "--to", "feedface9999", "--yes", code=2)
        assert_all_at_head(admin)

    found = [spelling for result in results for spelling in leaks(output(result), spellings)]
    found += [f"{path}: {s}" for path in files_under(project) for s in leaks(path.read_bytes(), spellings)]
    assert not found, found
    assert not local_database_made(project)


# == 3. a failing migration in one of three services ==============================================================

THREE = "users,habits,movements"  # habits depends on users; movements is independent
GOOD, BAD = "5afe000000a1", "5afe000000b2"


def plant_failure_in_users(project: Path) -> None:
    """users: a good migration after its head, then one that creates a table and raises."""
    plant_migration(
        project,
        "users",
        GOOD,
        head_of("users"),
        body="from alembic import op\n\n    op.execute('CREATE TABLE users.safety_ok (id int)')",
    )
    plant_migration(
        project,
        "users",
        BAD,
        GOOD,
        body="from alembic import op\n\n    op.execute('CREATE TABLE users.half_done (id int)')\n"
        "    raise RuntimeError('planted failure in users')",
    )


def assert_users_stopped_before_the_failure(url: str) -> None:
    """The run's earlier users migrations are applied and recorded; the failing one left nothing."""
    assert version(url, "users") == [GOOD]
    present = tables(url, "users")
    assert expected_tables("users") | {"safety_ok"} <= present
    assert "half_done" not in present


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_a_failing_migration_keep_going(project: Path, database_url: str, jobs: str) -> None:
    plant_failure_in_users(project)
    result = inv(project, "db.upgrade-all", "--only", THREE, "--jobs", jobs, url=database_url)

    assert result.returncode == 1, show(result)
    assert "Traceback" not in output(result), show(result)
    states = summary_states(result)
    assert {name: state for name, (state, _) in states.items()} == {"users": "failed", "habits": "skipped", "movements": "ok"}
    assert "users" in states["habits"][1], show(result)
    [full] = [line for line in result.stdout.splitlines() if line.startswith("users: ")] or [states["users"][1]]
    for word in (BAD, "planted failure in users", GOOD):
        assert word in full, show(result)
    assert error_lines(result)[-1].startswith("failed: users"), show(result)

    assert_users_stopped_before_the_failure(database_url)
    assert_untouched(database_url, "habits")
    assert_all_at_head(database_url, services=["movements"])
    for service in set(ALL) - {"users", "habits", "movements"}:
        assert_untouched(database_url, service)


def test_a_failing_migration_with_fail_fast_starts_nothing_after_it(project: Path, database_url: str) -> None:
    plant_failure_in_users(project)
    result = inv(project, "db.upgrade-all", "--only", THREE, "--fail-fast", "--jobs", "1", url=database_url)

    assert result.returncode == 1, show(result)
    assert "Traceback" not in output(result), show(result)
    states = summary_states(result)
    assert states["users"][0] == "failed", show(result)
    assert BAD in result.stdout and "planted failure in users" in result.stdout, show(result)
    assert states["habits"][0] == "skipped", show(result)
    lines = result.stderr.splitlines()
    failed_at = max(index for index, line in enumerate(lines) if line.startswith("users | "))
    started_after = {m[1] for line in lines[failed_at + 1 :] if (m := re.match(r"^([a-z][a-z0-9_-]*) \| ", line))}
    assert not started_after, show(result)
    assert_users_stopped_before_the_failure(database_url)
    assert_untouched(database_url, "habits")
    if states["movements"][0] == "skipped":  # declaration order puts it after users: it must not have started
        assert "fail-fast" in states["movements"][1], show(result)
        assert_untouched(database_url, "movements")
    else:  # ran (and finished) before users failed
        assert states["movements"][0] == "ok", show(result)
        assert_all_at_head(database_url, services=["movements"])


# == 4. concurrent runs on one database ===============================================================================


@pytest.mark.slow
def test_eight_concurrent_upgrade_all_apply_each_migration_once(project: Path, database_url: str, tmp_path: Path) -> None:
    runs: list[Background] = []
    try:
        for _ in range(8):  # all started before any is waited for
            runs.append(start_inv(project, tmp_path / "runs", "db.upgrade-all", url=database_url))
        results = [run.finish(timeout=300) for run in runs]
    finally:
        for run in runs:
            if run.process.poll() is None:
                run.kill_group()

    every = "\n\n".join(show(result) for result in results)
    assert all(result.returncode == 0 for result in results), every
    assert all("Traceback" not in output(result) for result in results), every
    applied = Counter(step for result in results for step in upgrades_logged(result.stderr))
    expected = {(service, revision) for service in ALL for revision in revisions_of(service)}
    assert set(applied) == expected, every
    twice = {step: count for step, count in applied.items() if count != 1}
    assert not twice, f"applied more than once: {twice}"
    assert_all_at_head(database_url)
    for service in ALL:
        assert len(version(database_url, schema_of(service))) == 1
    # Started together, the runs overlap: the ones that waited said who held the lock.
    waits = [line for result in results for line in result.stderr.splitlines() if "waiting for the migration lock" in line]
    assert waits, every
    assert all(re.search(r"held by .*\bpid \d+", line) for line in waits), waits
    assert_password_hidden(database_url, *results)


# == 5. the runner killed during a long migration =========================================================================

SLEEPER = "5afe51ee0001"


def plant_sleeper(project: Path, service: str, seconds: int) -> Path:
    """A migration that creates a table, then sleeps. Its session checks every 500 ms that the client is
    still there, so the server notices a killed client at once instead of when the sleep ends."""
    schema = schema_of(service)
    return plant_migration(
        project,
        service,
        SLEEPER,
        head_of(service),
        body="from alembic import op\n\n"
        f"    op.execute('CREATE TABLE {schema}.planted_sleep (id int)')\n"
        "    op.execute(\"SET LOCAL client_connection_check_interval = '500ms'\")\n"
        f"    op.execute('SELECT pg_sleep({seconds})')",
    )


def sleeping(url: str, seconds: int = 30) -> bool:
    return bool(sessions_running(url, f"SELECT pg_sleep({seconds})%"))


def assert_each_service_at_old_or_new_revision(url: str, project: Path) -> None:
    for service in ALL:
        schema = schema_of(service)
        recorded = version(url, schema)
        assert len(recorded) <= 1 and set(recorded) <= set(revisions_of(service, project)), (service, recorded)
        present = tables(url, schema)
        if not recorded:
            assert present <= {"alembic_version"}, (service, present)
        elif recorded[0] in (head_of(service), SLEEPER):
            assert expected_tables(service) <= present, (service, present)
    # The planted migration's table exists exactly when its revision is recorded.
    assert ("planted_sleep" in tables(url, "movements")) == (version(url, "movements") == [SLEEPER])


@pytest.mark.slow
@pytest.mark.parametrize("target", ["inv-only", "process-group"])
def test_sigkill_during_a_long_migration(project: Path, database_url: str, tmp_path: Path, target: str) -> None:
    planted = plant_sleeper(project, "movements", 30)
    workers: list[int] = []
    try:
        with background(project, tmp_path / "runs", "db.upgrade-all", url=database_url) as run:
            assert wait_for(lambda: sleeping(database_url) or run.process.poll() is not None, 120), show(run.read())
            assert run.process.poll() is None, show(run.read())
            workers = worker_children(run.pid)
            assert workers, "no dbtasks/worker/__main__.py process under the runner"
            if target == "inv-only":
                os.kill(run.pid, signal.SIGKILL)
            else:
                os.killpg(run.pid, signal.SIGKILL)
            run.process.wait(timeout=30)
            killed = run.read()
        wait_for(lambda: not any(is_running_worker(pid) for pid in workers), 15)  # well before the sleep ends
        leftover = [pid for pid in workers if is_running_worker(pid)]
    finally:
        kill_pids(workers)  # so that the rest can be checked even when a worker outlived its runner

    assert killed.returncode == -signal.SIGKILL
    assert_password_hidden(database_url, killed)
    assert wait_for(lambda: not other_sessions(database_url), 60), "sessions of the killed run are still open"
    assert_each_service_at_old_or_new_revision(database_url, project)

    replace_once(planted, "pg_sleep(30)", "pg_sleep(0)")
    rerun = assert_ok(inv(project, "db.upgrade-all", url=database_url))
    assert {state for state, _ in summary_states(rerun).values()} == {"ok"}, show(rerun)
    assert_all_at_head(database_url, project)
    assert "planted_sleep" in tables(database_url, "movements")
    assert_password_hidden(database_url, rerun)
    assert not leftover, f"worker processes {leftover} kept running after their runner was killed ({target})"


# == 6. the database server restarted during a run ===========================================================================


@pytest.mark.slow
@pytest.mark.parametrize("service", ["movements", "habits"])  # psycopg2, asyncpg
def test_server_restarted_during_a_migration(project: Path, tmp_path: Path, service: str) -> None:
    server = LocalDatabase(tmp_path / "pg", fsync=False)
    url = server.start()
    try:
        assert_ok(inv(project, "db.upgrade", service, url=url))
        schema, head = schema_of(service), head_of(service)
        planted = plant_sleeper(project, service, 30)
        with background(project, tmp_path / "runs", "db.upgrade", service, url=url) as run:
            assert wait_for(lambda: sleeping(url) or run.process.poll() is not None, 120), show(run.read())
            assert run.process.poll() is None, show(run.read())
            server.stop()
            # Meant to keep its port; the URL is read back anyway (see localdb._free_port and TIME_WAIT).
            url = server.start()
            result = run.finish(timeout=120)

        line = assert_failure(result, service)
        assert re.search(r"connect|terminat", line, re.I), line
        # The lock's session went down with the server too: the worker's words (not a lost lock's) name the cause.
        assert "lost the connection to the database" in line, line
        assert_password_hidden(url, result)
        assert version(url, schema) == [head]
        assert "planted_sleep" not in tables(url, schema)

        replace_once(planted, "pg_sleep(30)", "pg_sleep(0)")
        rerun = assert_ok(inv(project, "db.upgrade", service, url=url))
        assert f"{service}: upgraded {head} -> {SLEEPER}" in rerun.stdout, show(rerun)
        assert version(url, schema) == [SLEEPER]
        assert "planted_sleep" in tables(url, schema)
    finally:
        server.stop()


# == the lock: a second writer waits, says who holds the lock, and gives up after --lock-wait ==================================


def test_a_second_writer_gives_up_after_lock_wait_naming_the_holder(project: Path, database_url: str, tmp_path: Path) -> None:
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    plant_sleeper(project, "movements", 30)
    with background(project, tmp_path / "runs", "db.upgrade", "movements", url=database_url) as first:
        assert wait_for(lambda: sleeping(database_url) or first.process.poll() is not None, 120), show(first.read())
        holders = advisory_lock_holders(database_url)
        second = inv(project, "db.upgrade", "movements", "--lock-wait", "2", url=database_url)
        assert first.process.poll() is None, show(first.read())
        first.kill_group()

    line = assert_failure(second, "movements")
    assert "--lock-wait" in line, line
    assert holders, "no advisory lock is held while a migration runs"
    assert any(re.search(rf"\b{pid}\b", second.stderr) for pid in holders), show(second)
    assert_password_hidden(database_url, second)
    assert wait_for(lambda: not other_sessions(database_url), 60)
    assert version(database_url, "movements") == [head_of("movements")]
    assert "planted_sleep" not in tables(database_url, "movements")
