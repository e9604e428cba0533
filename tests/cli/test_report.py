"""inv db.report --html: one self-contained HTML file, opened in a real headless Chromium: no console error, no
request, the services, revisions and states in the DOM; a 200-member fleet as a matrix; nothing changed."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _support import REPO, assert_bad_input, assert_ok, execute, head_of, inv, plant_migration, replace_once, show, snapshot
from _support.browser import Page

DROP = "from alembic import op\n\n    op.drop_column('movements', 'description', schema='movements')"
# Set to write the README's screenshot (docs/images/report.png) from the example monorepo's report.
SCREENSHOT_TO_DOCS = "DBTASKS_TEST_SCREENSHOT_DOCS"


@pytest.fixture
def page(tmp_path: Path) -> Iterator[list[Page]]:
    """The pages a test opens, each closed afterwards."""
    opened: list[Page] = []
    yield opened
    for one in opened:
        one.close()


def opened(pages: list[Page], path: Path, folder: Path) -> Page:
    pages.append(Page(path, folder))
    return pages[-1]


def dom(page: Page, selector: str, *attributes: str) -> list[list[str]]:
    """Each element `selector` matches, as its `attributes` (data-* names without the prefix, or "text")."""
    picks = ", ".join("e.textContent.trim()" if name == "text" else f"e.dataset[{name!r}]" for name in attributes)
    return list(page.evaluate(f"[...document.querySelectorAll({selector!r})].map(e => [{picks}])"))


def test_the_report_of_the_example_monorepo_shows_status_graphs_and_plan_in_a_browser(
    project: Path, upgraded_url: str, tmp_path: Path, page: list[Page]
) -> None:
    # journal after habits and meals, both after users (a diamond); movements branched and merged, at one branch;
    # habits one revision behind; the branch not applied drops a column.
    replace_once(
        project / "migrations.yaml",
        "    driver: psycopg2\n    depends_on: [users]\n    env: {ALEMBIC_ENV: local}",
        "    driver: psycopg2\n    depends_on: [habits, meals]\n    env: {ALEMBIC_ENV: local}",
    )
    first = head_of("movements")
    plant_migration(project, "movements", "0002a", first, body=DROP)
    plant_migration(project, "movements", "0002b", first)
    plant_migration(project, "movements", "0003", ("0002a", "0002b"))  # type: ignore[arg-type]  # the merge
    assert_ok(inv(project, "db.upgrade", "movements", "--to", "0002b", url=upgraded_url))
    assert_ok(inv(project, "db.downgrade", "habits", "--yes", url=upgraded_url))
    before = snapshot(upgraded_url)

    written = tmp_path / "out" / "report.html"
    result = assert_ok(inv(project, "db.report", "--html", str(written), url=upgraded_url))
    assert result.stderr.splitlines()[-1] == f"report: wrote {written}", show(result)
    assert snapshot(upgraded_url) == before
    text = written.read_text(encoding="utf-8")
    password = urlsplit(upgraded_url).password
    assert password and password not in text
    # nothing that would make a browser fetch: no script, no source or link, no URL but the SVG namespace and #anchors
    outside = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert re.findall(r"<script|<link|<img|<iframe|\bsrc=|\bhref=|url\((?!#)|@import|//[a-z]", outside) == []

    browser = opened(page, written, tmp_path)
    assert browser.errors() == []
    assert browser.requests() == []
    assert dom(browser, "#status tr[data-service]", "service", "state") == [
        ["users", "up to date"],
        ["habits", "behind"],
        ["movements", "behind"],
        ["meals", "up to date"],
        ["practices", "up to date"],
        ["journal", "up to date"],
    ]
    services = "#services-graph"
    assert {node for node, in dom(browser, f"{services} g.node", "node")} == {
        "users", "habits", "movements", "meals", "practices", "journal"
    }  # fmt: skip
    assert sorted(map(tuple, dom(browser, f"{services} path.edge", "from", "to"))) == [
        ("habits", "journal"),
        ("meals", "journal"),
        ("movements", "practices"),
        ("users", "habits"),
        ("users", "meals"),
        ("users", "practices"),
    ]
    assert dict(map(tuple, dom(browser, "#revisions-movements g.node", "node", "mark"))) == {
        first: "applied",
        "0002b": "current",
        "0002a": "pending",
        "0003": "pending",
    }
    assert sorted(map(tuple, dom(browser, "#revisions-movements path.edge", "from", "to"))) == sorted(
        [(first, "0002a"), (first, "0002b"), ("0002a", "0003"), ("0002b", "0003")]
    )
    assert dom(browser, "[data-plan]", "plan") == [["users"], ["movements"], ["habits"], ["meals"], ["practices"], ["journal"]]
    assert dom(browser, "details[data-revision]", "revision", "text")[0][0] == "0002a"
    summaries = [text for _, text in dom(browser, "details[data-revision]", "revision", "text")]
    assert summaries[0].startswith(
        "0002a planted by the tests services/movements/alembic/versions/0002a_planted.py destructive, 1 lint, no downgrade"
    )
    assert "ALTER TABLE movements.movements DROP COLUMN description" in summaries[0]
    assert [revision for revision, _ in dom(browser, "details[data-revision]", "revision", "text")] == [
        "0002a", "0003", head_of("habits")
    ]  # fmt: skip

    shot = browser.screenshot(tmp_path / "report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get(SCREENSHOT_TO_DOCS):
        shutil.copyfile(shot, REPO / "docs" / "images" / "report.png")


def test_verify_results_are_in_the_report(project: Path, upgraded_url: str, tmp_path: Path, page: list[Page]) -> None:
    written = tmp_path / "report.html"
    assert_ok(inv(project, "db.report", "--html", str(written), "--verify", "--only", "users", url=upgraded_url))
    browser = opened(page, written, tmp_path)
    assert browser.errors() == [] and browser.requests() == []
    assert dom(browser, "#status tr[data-service]", "service") == [["users"]]
    checks = dom(browser, "#verify tr[data-check]", "service", "check", "result")
    assert {service for service, _, _ in checks} == {"users"}
    assert {check for _, check, _ in checks} >= {"single-head", "stairway", "drift", "no-trace"}, checks
    assert {result for _, _, result in checks} == {"passed"}, checks


@pytest.mark.slow
def test_a_200_member_fleet_is_one_matrix(database_url: str, tmp_path: Path, page: list[Page]) -> None:
    tenants = Path(
        shutil.copytree(REPO / "examples" / "tenants", tmp_path / "tenants", ignore=shutil.ignore_patterns("__pycache__"))
    )
    names = [f"tenant_{number:03d}" for number in range(200)]
    (tenants / "tenants.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    for name in names[:3]:
        assert_ok(inv(tenants, "db.upgrade-all", "--targets", "tenants", "--target", name, url=database_url))
    execute(  # a member whose version table names a revision no file has
        database_url,
        "CREATE SCHEMA tenant_150",
        "CREATE TABLE tenant_150.alembic_version (version_num varchar(32) PRIMARY KEY)",
        "INSERT INTO tenant_150.alembic_version VALUES ('0badc0ffee00')",
    )
    written = tmp_path / "fleet.html"
    assert_ok(inv(tenants, "db.report", "--html", str(written), "--targets", "tenants", url=database_url))
    assert written.stat().st_size < 2_000_000

    browser = opened(page, written, tmp_path)
    assert browser.errors() == [] and browser.requests() == []
    members = dom(browser, "#fleet tr[data-member]", "member", "state")
    assert [member for member, _ in members] == names
    states = {member: state for member, state in members}
    assert [member for member in names if states[member] == "up to date"] == names[:3]
    cells = [state for (state,) in dom(browser, "#fleet td[data-service='notes']", "state")]
    assert len(cells) == 200
    assert (cells[:3], cells[150], set(cells[3:150] + cells[151:])) == (
        ["up to date"] * 3,
        "unknown revision",
        {"not initialized"},
    )
    squares = dom(browser, "#fleet-overview .strip[data-service='notes'] span", "member", "state")  # at a glance
    assert squares == [[member, state] for member, state in zip(names, cells)]
    browser.screenshot(tmp_path / "fleet.png")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ((), "report writes one HTML file: give it with --html FILE (for example --html migrations.html)"),
        (
            ("--html", "r.html", "--verify", "--targets", "tenants"),
            "--verify and --targets: a fleet is verified with 'inv db.verify-all --targets NAME --sample N'",
        ),
    ],
)
def test_report_options_are_checked_before_any_database(project: Path, args: tuple[str, ...], line: str) -> None:
    result = inv(project, "db.report", *args, url="postgresql://x:y@127.0.0.1:1/z")
    assert assert_bad_input(result) == line
    assert not (project / "r.html").exists()


def test_a_database_the_server_lacks_is_a_row_not_a_failed_report(
    project: Path, upgraded_url: str, tmp_path: Path, page: list[Page]
) -> None:
    replace_once(
        project / "migrations.yaml", "    path: services/journal\n", "    path: services/journal\n    database: journal_gone\n"
    )
    written = tmp_path / "report.html"
    assert_ok(inv(project, "db.report", "--html", str(written), url=upgraded_url))
    browser = opened(page, written, tmp_path)
    assert browser.errors() == [] and browser.requests() == []
    states = dict(map(tuple, dom(browser, "#status tr[data-service]", "service", "state")))
    server = urlsplit(upgraded_url).netloc.rpartition("@")[2]
    missing = (
        f"database 'journal_gone' does not exist on {server}: create it (CREATE DATABASE \"journal_gone\"), or fix the "
        "database name in DATABASE_URL (database journal_gone)"
    )
    assert states.pop("journal") == f"error: {missing}"
    assert states == dict.fromkeys(("users", "habits", "movements", "meals", "practices"), "up to date")
    assert dom(browser, "[data-plan='journal']", "text") == [[f"journal: {missing}"]]
