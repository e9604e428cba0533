"""env.py files that assemble their URL from POSTGRES_HOST, POSTGRES_PASSWORD, ... instead of reading one variable:
`env:` values name the parts of the service's URL as ${db.host}, ${db.port}, ${db.user}, ${db.password}, ${db.name}."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from _support import PARTS_ENV, assert_bad_input, assert_ok, head_of, inv, output, replace_once, snapshot, version

CONFIG = Path("services/habits/habits_service/app/config.py")
FROM_PARTS = (
    'url = "postgresql://{}:{}@{}:{}/{}".format(*(__import__("urllib.parse").parse.quote(os.environ[name], safe="") '
    'for name in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB")))'
)
PARTS = PARTS_ENV


def habits_from_parts(project: Path, parts: str = PARTS) -> None:
    replace_once(project / CONFIG, 'url = os.environ.get("DATABASE_URL")', FROM_PARTS)
    replace_once(
        project / "migrations.yaml",
        "    depends_on: [users]\n    expect_tables: [habits,",
        "    depends_on: [users]\n" + parts + "    expect_tables: [habits,",
    )


def test_a_service_that_builds_its_url_from_parts_is_handed_them(project: Path, database_url: str) -> None:
    habits_from_parts(project)
    result = assert_ok(inv(project, "db.upgrade-all", "--only", "users,habits", url=database_url))
    assert version(database_url, "habits") == [head_of("habits")]
    assert_ok(inv(project, "db.check", "habits", url=database_url))
    password = urlsplit(database_url).password
    assert password and password not in output(result)
    debug = inv(project, "db.current", "habits", url=database_url, env={"DBTASKS_DEBUG": "1"})
    assert_ok(debug)
    assert password not in output(debug)


def test_an_unknown_placeholder_is_refused_before_anything_runs(project: Path, database_url: str) -> None:
    habits_from_parts(project, PARTS.replace("${db.host}", "${db.hostname}"))
    before = snapshot(database_url)
    line = assert_bad_input(inv(project, "db.upgrade-all", url=database_url))
    assert line.endswith(
        "services.habits.env.POSTGRES_HOST: unknown placeholder ${db.hostname}; "
        "use ${db.host}, ${db.port}, ${db.user}, ${db.password}, ${db.name}, ${db.url}"
    ), line
    assert line.startswith("migrations.yaml:") and snapshot(database_url) == before
