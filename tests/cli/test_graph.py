"""inv db.graph: the services' dependencies and a service's revisions (branches, merges, applied and current), as
Mermaid and DOT, with every node and edge present."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from _support import assert_bad_input, assert_ok, head_of, inv, plant_migration, replace_once
from _support.browser import Page
from _support.mermaid import mermaid_js

SVG = "{http://www.w3.org/2000/svg}"


def test_the_services_graph_has_every_dependency_of_a_diamond(project: Path) -> None:
    # journal after habits and meals, which both come after users: a diamond.
    replace_once(
        project / "migrations.yaml",
        "    driver: psycopg2\n    depends_on: [users]\n    env: {ALEMBIC_ENV: local}",
        "    driver: psycopg2\n    depends_on: [habits, meals]\n    env: {ALEMBIC_ENV: local}",
    )
    drawn = assert_ok(inv(project, "db.graph", "--services")).stdout.splitlines()
    assert drawn == [
        "graph LR",
        '  n_users["users"]',
        '  n_habits["habits"]',
        '  n_movements["movements"]',
        '  n_meals["meals"]',
        '  n_practices["practices"]',
        '  n_journal["journal"]',
        "  n_users --> n_habits",
        "  n_users --> n_meals",
        "  n_users --> n_practices",
        "  n_movements --> n_practices",
        "  n_habits --> n_journal",
        "  n_meals --> n_journal",
    ]
    dot = assert_ok(inv(project, "db.graph", "--services", "--format", "dot")).stdout.splitlines()
    assert dot[:3] == ["digraph migrations {", "  rankdir=LR;", "  node [shape=box];"] and dot[-1] == "}"
    assert {line for line in dot if "->" in line} == {
        '  "users" -> "habits";',
        '  "users" -> "meals";',
        '  "users" -> "practices";',
        '  "movements" -> "practices";',
        '  "habits" -> "journal";',
        '  "meals" -> "journal";',
    }


def test_a_branch_and_merge_history_is_drawn_with_the_current_revision_marked(project: Path, database_url: str) -> None:
    first = head_of("movements")
    plant_migration(project, "movements", "0002a", first)
    plant_migration(project, "movements", "0002b", first)
    plant_migration(project, "movements", "0003", ("0002a", "0002b"))  # type: ignore[arg-type]  # a merge
    assert_ok(inv(project, "db.upgrade", "movements", "--to", "0002a", url=database_url))

    drawn = assert_ok(inv(project, "db.graph", "--service", "movements", url=database_url)).stdout.splitlines()
    assert drawn[:5] == ["graph LR", f'  n_{first}["{first}"]', '  n_0002a["0002a"]', '  n_0002b["0002b"]', '  n_0003["0003"]']
    assert set(drawn[5:9]) == {
        f"  n_{first} --> n_0002a",
        f"  n_{first} --> n_0002b",
        "  n_0002a --> n_0003",
        "  n_0002b --> n_0003",
    }
    assert drawn[9:] == [
        "  classDef current fill:#2e7d32,color:#fff",
        "  class n_0002a current",
        "  classDef applied fill:#c8e6c9",
        f"  class n_{first} applied",
        "  classDef pending fill:#fff3e0",
        "  class n_0002b,n_0003 pending",
    ]

    drawing = ElementTree.fromstring(
        assert_ok(inv(project, "db.graph", "--service", "movements", "--format", "svg", url=database_url)).stdout
    )
    nodes = {group.get("data-node"): group.get("data-mark") for group in drawing.iter(f"{SVG}g")}
    assert nodes == {first: "applied", "0002a": "current", "0002b": "pending", "0003": "pending"}
    edges = {(path.get("data-from"), path.get("data-to")) for path in drawing.iter(f"{SVG}path") if path.get("class") == "edge"}
    assert edges == {(first, "0002a"), (first, "0002b"), ("0002a", "0003"), ("0002b", "0003")}

    unmarked = assert_ok(inv(project, "db.graph", "--service", "movements", url="postgresql://x:y@127.0.0.1:1/z"))
    assert unmarked.stdout.splitlines() == drawn[:9]
    assert "movements: its database did not answer; the revisions are drawn without applied/pending marks" in unmarked.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ((), "graph draws one service's revisions (--service NAME) or the services (--services): give one"),
        (
            ("--services", "--service", "meals"),
            "graph draws one service's revisions (--service NAME) or the services (--services): give one",
        ),
        (("--services", "--format", "png"), "--format 'png': expected one of mermaid, dot, svg"),
    ],
)
def test_bad_graph_options_are_one_line(project: Path, args: tuple[str, ...], line: str) -> None:
    assert assert_bad_input(inv(project, "db.graph", *args)) == line


def test_on_an_empty_database_every_revision_is_pending(project: Path, database_url: str) -> None:
    result = assert_ok(inv(project, "db.graph", "--service", "meals", url=database_url))
    assert result.stdout.splitlines()[-2:] == ["  classDef pending fill:#fff3e0", "  class n_0001,n_0002,n_0003 pending"]
    assert "did not answer" not in result.stderr


@pytest.mark.network
def test_the_mermaid_we_write_is_parsed_by_mermaid_itself(project: Path, upgraded_url: str, tmp_path: Path) -> None:
    """Mermaid's own parser (the library the code hosts draw with) in a headless browser takes every Mermaid text we
    write: the services, a revision graph with marks, and the plan's Markdown fence; and refuses a broken one."""
    plant_migration(project, "movements", "0002", head_of("movements"))
    texts = {
        "services": assert_ok(inv(project, "db.graph", "--services", url=upgraded_url)).stdout,
        "revisions": assert_ok(inv(project, "db.graph", "--service", "movements", url=upgraded_url)).stdout,
        "plan": assert_ok(inv(project, "db.plan", "--markdown", url=upgraded_url))
        .stdout.split("```mermaid\n", 1)[1]
        .split("```", 1)[0],
        "broken": "graph LR\n  a --> \n  b[[[",
    }
    assert "class n_0002 pending" in texts["revisions"] and "subgraph wave1" in texts["plan"]
    shutil.copyfile(mermaid_js(), tmp_path / "mermaid.min.js")
    harness = tmp_path / "harness.html"
    harness.write_text('<!DOCTYPE html><html><head><script src="mermaid.min.js"></script></head><body></body></html>')
    page = Page(harness, tmp_path)
    try:
        page.evaluate("mermaid.initialize({startOnLoad: false})")
        parsed = {
            name: page.evaluate(f"mermaid.parse({json.dumps(text)}).then(() => 'ok', (error) => String(error))", wait=True)
            for name, text in texts.items()
        }
    finally:
        page.close()
    assert {name: parsed[name] for name in ("services", "revisions", "plan")} == dict.fromkeys(
        ("services", "revisions", "plan"), "ok"
    )
    assert parsed["broken"] != "ok" and "error" in parsed["broken"].lower(), parsed["broken"]
