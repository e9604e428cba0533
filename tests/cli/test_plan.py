"""inv db.plan: what upgrade-all would do now, in its order, with each pending revision's SQL and risks; nothing runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from _support import REPO, assert_bad_input, assert_ok, execute, head_of, inv, plant_migration, show, snapshot
from markdown_it import MarkdownIt

DROP = "from alembic import op\n\n    op.drop_column('movements', 'description', schema='movements')"


@pytest.fixture
def pending(project: Path, upgraded_url: str) -> str:
    """Pending revisions in three services: habits one behind, meals two behind, movements with a planted drop_column."""
    assert_ok(inv(project, "db.downgrade", "habits", "--yes", url=upgraded_url))
    assert_ok(inv(project, "db.downgrade", "meals", "--to", "0001", "--yes", url=upgraded_url))
    plant_migration(project, "movements", "0002", head_of("movements"), body=DROP)
    return upgraded_url


def test_plan_shows_the_order_the_pending_revisions_and_a_destructive_one_and_changes_nothing(
    project: Path, pending: str
) -> None:
    before = snapshot(pending)
    result = assert_ok(inv(project, "db.plan", url=pending))
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "6 services in 2 waves (a wave's services run in parallel):",
        "  wave 1: users, movements",
        "  wave 2: habits, meals, practices, journal",
    ]
    summaries = [line for line in lines if not line.startswith(" ")][1:]
    assert summaries == [
        f"users: up to date ({head_of('users')})",
        "movements: 1 pending revision: 0001 -> 0002",
        f"habits: 1 pending revision: 189b1231afd4 -> {head_of('habits')}",
        "meals: 2 pending revisions: 0001 -> 0003",
        f"practices: up to date ({head_of('practices')})",
        f"journal: up to date ({head_of('journal')})",
    ]
    assert "  0002  planted by the tests  services/movements/alembic/versions/0002_planted.py  (no downgrade)" in lines, (
        result.stdout
    )
    assert "    destructive: ALTER TABLE movements.movements DROP COLUMN description" in lines, result.stdout
    assert (
        "    lint: services/movements/alembic/versions/0002_planted.py:12: ban-drop-column: Dropping a column may break "
        "existing clients." in lines
    ), result.stdout
    assert (
        "    | ALTER TABLE meals.meals ADD CONSTRAINT fk_meals_user_id_users FOREIGN KEY(user_id) REFERENCES users.users (id) ON DELETE CASCADE;"
        in lines
    )
    assert sum(line.startswith("    destructive: ") for line in lines) == 1, result.stdout
    assert "    lock: ACCESS EXCLUSIVE on movements.movements (blocks reads and writes)" in lines, result.stdout
    assert "    lock: SHARE ROW EXCLUSIVE on meals.meals (blocks writes)" in lines, result.stdout
    assert snapshot(pending) == before


def test_branches_both_applied_leave_only_their_merge_to_plan(project: Path, upgraded_url: str) -> None:
    first = head_of("movements")
    plant_migration(project, "movements", "0002a", first)
    plant_migration(project, "movements", "0002b", first)
    plant_migration(project, "movements", "0003", ("0002a", "0002b"))  # type: ignore[arg-type]  # the merge
    for branch in ("0002a", "0002b"):
        assert_ok(inv(project, "db.upgrade", "movements", "--to", branch, url=upgraded_url))
    before = snapshot(upgraded_url)
    result = assert_ok(inv(project, "db.plan", "--only", "movements", url=upgraded_url))
    summaries = [line for line in result.stdout.splitlines() if line.startswith("movements: ")]
    assert summaries == ["movements: 1 pending revision: 0002a,0002b -> 0003"], show(result)
    document = json.loads(assert_ok(inv(project, "db.plan", "--only", "movements", "--json", url=upgraded_url)).stdout)
    assert [revision["revision"] for revision in document["services"][0]["revisions"]] == ["0003"]
    assert snapshot(upgraded_url) == before


def test_fail_on_destructive_fails_and_json_and_markdown_say_the_same(project: Path, pending: str) -> None:
    before = snapshot(pending)
    failed = inv(project, "db.plan", "--fail-on", "destructive", url=pending)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stderr.splitlines()[-1] == "the plan has what --fail-on destructive refuses: movements: 1 destructive"
    linted = inv(project, "db.plan", "--fail-on", "lint,destructive", url=pending)
    assert linted.returncode == 1, show(linted)
    assert (
        linted.stderr.splitlines()[-1] == "the plan has what --fail-on lint,destructive refuses: movements: 1 lint, 1 destructive"
    )
    assert_ok(inv(project, "db.plan", "--fail-on", "edited", url=pending))  # no applied file was edited

    document = json.loads(assert_ok(inv(project, "db.plan", "--json", url=pending)).stdout)
    jsonschema.validate(document, json.loads((REPO / "docs" / "plan.schema.json").read_text(encoding="utf-8")))
    assert document["waves"] == [["users", "movements"], ["habits", "meals", "practices", "journal"]]
    assert [entry["service"] for entry in document["services"]] == [name for wave in document["waves"] for name in wave]
    pending_ids = {entry["service"]: [r["revision"] for r in entry["revisions"]] for entry in document["services"]}
    assert pending_ids == {
        "users": [],
        "movements": ["0002"],
        "habits": [head_of("habits")],
        "meals": ["0002", "0003"],
        "practices": [],
        "journal": [],
    }
    planted = document["services"][1]["revisions"][0]
    assert (planted["destructive"], planted["downgrade"]) == (["ALTER TABLE movements.movements DROP COLUMN description"], False)
    assert planted["locks"] == [
        {
            "statement": "ALTER TABLE movements.movements DROP COLUMN description",
            "table": "movements.movements",
            "lock": "ACCESS EXCLUSIVE",
            "blocks": "reads and writes",
        }
    ]

    markdown = assert_ok(inv(project, "db.plan", "--markdown", url=pending)).stdout
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)  # as a code host reads it: CommonMark, tables
    fences = [(token.info, token.content) for token in tokens if token.type == "fence"]
    assert [info for info, _ in fences] == ["mermaid", "sql", "sql", "sql", "sql"]
    assert fences[0][1].splitlines()[:3] == ["graph LR", '  subgraph wave1["wave 1"]', "    users"]
    assert "ALTER TABLE movements.movements DROP COLUMN description;" in fences[1][1]
    assert sum(token.type == "table_open" for token in tokens) == 1
    assert [token.content.strip() for token in tokens if token.type == "html_block" and "</details>" in token.content] == [
        "</details>"
    ] * 4
    assert markdown.startswith(
        '## Migration plan\n\n```mermaid\ngraph LR\n  subgraph wave1["wave 1"]\n    users\n    movements\n  end\n'
    )
    assert "  wave1 --> wave2\n```" in markdown
    assert "| movements | 0001 | 1 | 1 | 1 | 0 |" in markdown.splitlines()
    assert markdown.count("<details>") == 4 and markdown.count("</details>") == 4
    assert (
        "<summary>movements 0002: planted by the tests, services/movements/alembic/versions/0002_planted.py (destructive, 1 "
        "lint, no downgrade)</summary>" in markdown
    )
    assert snapshot(pending) == before


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("--fail-on", "nope"), "--fail-on 'nope': expected a comma-separated list of lint, destructive, edited"),
        (("--json", "--markdown"), "--json and --markdown: choose one"),
    ],
)
def test_bad_plan_options_are_one_line(project: Path, upgraded_url: str, args: tuple[str, ...], line: str) -> None:
    assert assert_bad_input(inv(project, "db.plan", *args, url=upgraded_url)) == line


def test_a_fleet_is_planned_once_per_group_of_members_at_the_same_revisions(tmp_path: Path, database_url: str) -> None:
    tenants = Path(
        shutil.copytree(REPO / "examples" / "tenants", tmp_path / "tenants", ignore=shutil.ignore_patterns("__pycache__"))
    )
    (tenants / "tenants.txt").write_text("acme\nglobex\ninitech\numbrella\nwayne\n", encoding="utf-8")
    assert_ok(inv(tenants, "db.upgrade-all", "--targets", "tenants", "--target", "globex", url=database_url))
    execute(  # umbrella's version table names a revision no file has
        database_url,
        "CREATE SCHEMA umbrella",
        "CREATE TABLE umbrella.alembic_version (version_num varchar(32) PRIMARY KEY)",
        "INSERT INTO umbrella.alembic_version VALUES ('0badc0ffee00')",
    )
    before = snapshot(database_url)
    execute(database_url, "CREATE SCHEMA wayne", "CREATE TABLE wayne.alembic_version (revision int)")  # unreadable
    result = inv(tenants, "db.plan", "--targets", "tenants", url=database_url)
    assert result.returncode == 1, show(result)  # a member left out: no all-clear
    assert result.stderr.splitlines()[-1] == "tenants: 1 member could not be planned (wayne); see 'not planned' above"
    lines = result.stdout.splitlines()
    assert [line for line in lines if not line.startswith("    ")] == [
        "tenants: 3 groups of members at the same revisions",
        "group 1, 2 members: acme, initech",
        "  1 service in 1 wave (a wave's services run in parallel):",
        "  notes: 1 pending revision: base -> 5b1e0c7a9d24",
        "group 2, 1 member: globex",
        "  1 service in 1 wave (a wave's services run in parallel):",
        "  notes: up to date (5b1e0c7a9d24)",
        "group 3, 1 member: umbrella",
        "  1 service in 1 wave (a wave's services run in parallel):",
        "  notes: unknown revision (0badc0ffee00)",
        lines[-1],
    ]
    assert lines[-1].startswith("not planned: wayne: notes: error: status failed: ProgrammingError: "), lines[-1]
    # the group's plan, read on its first member
    assert (
        "      | INSERT INTO acme.alembic_version (version_num) VALUES ('5b1e0c7a9d24') RETURNING acme.alembic_version.version_num;"
        in lines
    )

    document = json.loads(inv(tenants, "db.plan", "--targets", "tenants", "--json", url=database_url).stdout)
    jsonschema.validate(document, json.loads((REPO / "docs" / "plan.schema.json").read_text(encoding="utf-8")))
    assert [group["members"] for group in document["groups"]] == [["acme", "initech"], ["globex"], ["umbrella"]]
    assert [entry["target"] for entry in document["failed"]] == ["wayne"]
    markdown = inv(tenants, "db.plan", "--targets", "tenants", "--markdown", url=database_url).stdout
    headings = [
        token.content
        for token in MarkdownIt("commonmark").parse(markdown)
        if token.type == "inline" and token.content.startswith(("Migration plan", "Group", "Not"))
    ]
    assert headings == [
        "Migration plan: fleet tenants",
        "Group 1, 2 members: acme, initech",
        "Group 2, 1 member: globex",
        "Group 3, 1 member: umbrella",
        "Not planned",
    ]
    execute(database_url, "DROP SCHEMA wayne CASCADE")
    assert snapshot(database_url) == before
