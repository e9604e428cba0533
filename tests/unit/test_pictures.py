"""The plan's destructive statements, and the graphs' layout and SVG: every node and edge present, nothing on top of
anything, each edge drawn downwards from its start's box to its end's."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ElementTree

import pytest

from dbtasks.lint.locks import lock_of, locks
from dbtasks.lint.sql import split
from dbtasks.preview import destructive
from dbtasks.report.layout import place
from dbtasks.report.page import html
from dbtasks.report.svg import svg

SVG = "{http://www.w3.org/2000/svg}"
DIAMOND = (
    ["users", "habits", "meals", "journal", "movements"],
    [("users", "habits"), ("users", "meals"), ("habits", "journal"), ("meals", "journal")],
)
# a branch and its merge, and a long edge that passes a layer
BRANCHED = (
    ["0001", "0002a", "0002b", "0003", "0004"],
    [("0001", "0002a"), ("0001", "0002b"), ("0002a", "0003"), ("0002b", "0003"), ("0003", "0004"), ("0001", "0004")],
)


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("ALTER TABLE m.t DROP COLUMN c;\n", ["ALTER TABLE m.t DROP COLUMN c"]),
        ("ALTER TABLE m.t ALTER COLUMN c TYPE bigint;\n", ["ALTER TABLE m.t ALTER COLUMN c TYPE bigint"]),
        ("-- a comment\nDROP TABLE m.t;\n\nCREATE TABLE m.u (id int);\n", ["DROP TABLE m.t"]),
        ("DELETE FROM m.t WHERE id > 3;\n", ["DELETE FROM m.t WHERE id > 3"]),
        ("TRUNCATE m.t;\n", ["TRUNCATE m.t"]),
        ("ALTER TABLE m.t ADD COLUMN c int;\n", []),
        # COLUMN is optional in ALTER TABLE; dropping a constraint, a default or NOT NULL loses no data
        ("ALTER TABLE m.t DROP c;\n", ["ALTER TABLE m.t DROP c"]),
        ("ALTER TABLE m.t ALTER c TYPE text;\n", ["ALTER TABLE m.t ALTER c TYPE text"]),
        ("ALTER TABLE m.t DROP CONSTRAINT k, ALTER COLUMN c DROP DEFAULT, ALTER c DROP NOT NULL;\n", []),
        # a merge's bookkeeping: Alembic deletes one branch's row from the version table
        ("DELETE FROM m.alembic_version WHERE m.alembic_version.version_num = '0002a';\n", []),
        ("DELETE FROM \"M\".alembic_version WHERE version_num = '0002a';\n", []),
        ("DELETE FROM m.alembic_version_archive WHERE true;\n", ["DELETE FROM m.alembic_version_archive WHERE true"]),
    ],
)
def test_destructive_statements(sql: str, found: list[str]) -> None:
    assert destructive(sql) == found


def test_a_version_table_of_another_name_is_bookkeeping_too() -> None:
    assert destructive("DELETE FROM m.versions WHERE version_num = 'x';\n", "versions") == []
    assert destructive("DELETE FROM m.versions WHERE version_num = 'x';\n") == ["DELETE FROM m.versions WHERE version_num = 'x'"]


@pytest.mark.parametrize("graph", [DIAMOND, BRANCHED], ids=["diamond", "branch-and-merge"])
def test_the_layout_places_every_node_apart_and_routes_every_edge_downwards(
    graph: tuple[list[str], list[tuple[str, str]]],
) -> None:
    nodes, edges = graph
    placed = place(nodes, edges, lambda node: 10.0 * len(node), 24.0)
    assert set(placed.boxes) == set(nodes)
    for (one, a), (other, b) in itertools.combinations(placed.boxes.items(), 2):
        apart = a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]
        assert apart, (one, other, a, b)
    assert sorted((start, end) for start, end, _ in placed.edges) == sorted(edges)
    for start, end, points in placed.edges:
        top = placed.boxes[start]
        bottom = placed.boxes[end]
        assert points[0] == (top[0] + top[2] / 2, top[1] + top[3]), (start, end)
        assert points[-1] == (bottom[0] + bottom[2] / 2, bottom[1]), (start, end)
        assert all(later[1] > earlier[1] for earlier, later in zip(points, points[1:])), (start, end, points)
    assert all(
        box[0] >= 0 and box[0] + box[2] <= placed.width and box[1] + box[3] <= placed.height for box in placed.boxes.values()
    )
    bends = {(start, end): len(points) - 2 for start, end, points in placed.edges if len(points) > 2}
    assert bends == ({("0001", "0004"): 2} if graph is BRANCHED else {})  # the long edge bends in each layer it passes


def test_the_svg_has_every_node_with_its_mark_and_every_edge() -> None:
    nodes, edges = BRANCHED
    marks = {"0001": "applied", "0002b": "current", "0002a": "pending", "0003": "pending", "0004": "pending"}
    drawing = ElementTree.fromstring(svg(nodes, edges, marks, title="movements <revisions>", prefix="m"))
    assert drawing.find(f"{SVG}title").text == "movements <revisions>"  # type: ignore[union-attr]
    groups = drawing.findall(f"{SVG}g")
    assert {group.get("data-node"): group.get("data-mark") for group in groups} == marks
    assert {group.find(f"{SVG}text").text for group in groups} == set(nodes)  # type: ignore[union-attr]
    paths = drawing.findall(f"{SVG}path[@class='edge']")
    assert sorted((path.get("data-from"), path.get("data-to")) for path in paths) == sorted(edges)
    assert {path.get("marker-end") for path in paths} == {"url(#m-arrow)"}
    fills = {group.get("data-node"): group.find(f"{SVG}rect").get("fill") for group in groups}  # type: ignore[union-attr]
    assert len({fills["0002b"], fills["0001"], fills["0002a"]}) == 3  # current, applied, pending: three colours


@pytest.mark.parametrize(
    ("statement", "taken"),
    [
        ("ALTER TABLE movements.movements DROP COLUMN description", [("movements.movements", "ACCESS EXCLUSIVE")]),
        ("alter table x add column y int default 0", [("x", "ACCESS EXCLUSIVE")]),
        ("ALTER TABLE ONLY a.b VALIDATE CONSTRAINT c", [("a.b", "SHARE UPDATE EXCLUSIVE")]),
        # several subcommands: the strongest lock, whatever the first one takes
        ("ALTER TABLE t VALIDATE CONSTRAINT c, ADD COLUMN x int", [("t", "ACCESS EXCLUSIVE")]),
        ("ALTER TABLE t ALTER COLUMN a SET STATISTICS 100, ALTER COLUMN b TYPE bigint", [("t", "ACCESS EXCLUSIVE")]),
        (
            'ALTER TABLE meals.meals ADD CONSTRAINT "my fk" FOREIGN KEY (user_id, kind) REFERENCES users.users (id, kind)',
            [("meals.meals", "SHARE ROW EXCLUSIVE"), ("users.users", "SHARE ROW EXCLUSIVE")],  # and the referenced table
        ),
        ("CREATE INDEX ix_a ON meals.meals (user_id)", [("meals.meals", "SHARE")]),
        ('CREATE INDEX "ix on x" ON users (a)', [("users", "SHARE")]),
        ('CREATE UNIQUE INDEX CONCURRENTLY ix ON "M".t (a)', [('"M".t', "SHARE UPDATE EXCLUSIVE")]),
        ("create index concurrently if not exists ix on only t (a)", [("t", "SHARE UPDATE EXCLUSIVE")]),
        ('ALTER TABLE "a""b" ADD COLUMN c int', [('"a""b"', "ACCESS EXCLUSIVE")]),
        ("DROP TABLE a, b CASCADE", [("a", "ACCESS EXCLUSIVE"), ("b", "ACCESS EXCLUSIVE")]),
        ("TRUNCATE TABLE t", [("t", "ACCESS EXCLUSIVE")]),
        ("LOCK TABLE a IN SHARE MODE", [("a", "SHARE")]),
        ("LOCK a, b", [("a", "ACCESS EXCLUSIVE"), ("b", "ACCESS EXCLUSIVE")]),
        ("REINDEX (VERBOSE) TABLE t", [("t", "SHARE")]),
        ("UPDATE habits.habits SET color = 'red'", [("habits.habits", "ROW EXCLUSIVE")]),
        ("CLUSTER users USING ix", [("users", "ACCESS EXCLUSIVE")]),
        ("CLUSTER (VERBOSE) users", [("users", "ACCESS EXCLUSIVE")]),
        ("VACUUM FULL ANALYZE t", [("t", "ACCESS EXCLUSIVE")]),
        ("VACUUM (FULL, ANALYZE) t", [("t", "ACCESS EXCLUSIVE")]),
        ("VACUUM (ANALYZE) t", []),
        ('DROP TABLE "a,b", c', [('"a,b"', "ACCESS EXCLUSIVE"), ("c", "ACCESS EXCLUSIVE")]),
        ("ALTER TABLE t ADD COLUMN u_id int REFERENCES u (id)", [("t", "ACCESS EXCLUSIVE"), ("u", "SHARE ROW EXCLUSIVE")]),
        ("CREATE TABLE t (id int, u_id int REFERENCES s.u (id))", [("s.u", "SHARE ROW EXCLUSIVE")]),
        ("DROP INDEX meals.ix_a", []),  # it names the index, not its table: left out, not guessed
        ("CREATE TABLE t (id int)", []),
        ("SELECT pg_sleep(1)", []),
    ],
)
def test_the_locks_a_statement_takes(statement: str, taken: list[tuple[str, str]]) -> None:
    assert lock_of(statement) == taken


@pytest.mark.parametrize(
    ("sql", "statements"),
    [
        ("UPDATE t SET a = 1; DROP TABLE b;", ["UPDATE t SET a = 1", "DROP TABLE b"]),
        ("/* a note; with a ; */ DROP TABLE b", ["DROP TABLE b"]),
        ("/* nested /* twice */ still */ DROP TABLE b;\n-- the end; really\n", ["DROP TABLE b"]),
        ("INSERT INTO t VALUES ('a -- b; c', 'it''s; here');", ["INSERT INTO t VALUES ('a -- b; c', 'it''s; here')"]),
        ('CREATE TABLE "x;y" (id int);', ['CREATE TABLE "x;y" (id int)']),
        ("DO $$ BEGIN DELETE FROM audit; END $$;\nSELECT 1", ["DO $$ BEGIN DELETE FROM audit; END $$", "SELECT 1"]),
        ("CREATE FUNCTION f() AS $body$ select 1; $body$;", ["CREATE FUNCTION f() AS $body$ select 1; $body$"]),
        ("SELECT a$b FROM t; SELECT $1", ["SELECT a$b FROM t", "SELECT $1"]),
        ("SELECT foo$$bar$$; DROP TABLE v;", ["SELECT foo$$bar$$", "DROP TABLE v"]),  # $ inside a name
        ("UPDATE t SET n = E'it\\'s';\nDROP TABLE a;", ["UPDATE t SET n = E'it\\'s'", "DROP TABLE a"]),  # E'' escapes
        ("INSERT INTO t VALUES (E'x\\'; DROP TABLE y; --');", ["INSERT INTO t VALUES (E'x\\'; DROP TABLE y; --')"]),
        ("SELECT 'a\\'; DROP TABLE z;", ["SELECT 'a\\'", "DROP TABLE z"]),  # a plain string: the backslash is a character
        ("CREATE TABLE t (\n    id int,\n    name text\n);\n", ["CREATE TABLE t ( id int, name text )"]),
    ],
)
def test_sql_is_split_where_postgresql_ends_a_statement(sql: str, statements: list[str]) -> None:
    assert split(sql) == statements


def test_a_destructive_statement_on_a_line_with_another_is_found() -> None:
    assert destructive("UPDATE t SET a = 1; DROP TABLE b;\n/* x */ TRUNCATE c;") == ["DROP TABLE b", "TRUNCATE c"]
    assert destructive("DO $$ BEGIN DELETE FROM audit; END $$;") == []  # inside a body: not a statement of its own


def test_locks_leave_out_the_version_table_and_say_what_they_block() -> None:
    found = locks(["UPDATE m.alembic_version SET version_num='2'", "CREATE INDEX i ON m.t (a)", "INSERT INTO m.t VALUES (1)"])
    assert found == [
        {"statement": "CREATE INDEX i ON m.t (a)", "table": "m.t", "lock": "SHARE", "blocks": "writes"},
        {"statement": "INSERT INTO m.t VALUES (1)", "table": "m.t", "lock": "ROW EXCLUSIVE", "blocks": ""},
    ]


def test_the_page_escapes_what_it_shows() -> None:
    """Names, messages, SQL and errors come from files and databases: none of them becomes markup."""
    hostile = "<script>alert(1)</script>"
    revision = {
        "revision": "0002",
        "message": hostile,
        "file": "versions/0002.py",
        "sql": f"SELECT '{hostile}';",
        "destructive": [],
        "locks": [],
        "findings": [],
        "downgrade": True,
    }
    document = {
        "project": "p<b>",
        "environment": "default",
        "generated": "now",
        "services": [
            {
                "service": "s",
                "database": "d",
                "schema": "x",
                "state": f"error: {hostile}",
                "current": None,
                "head": None,
                "pending": None,
            }
        ],
        "graph": {"nodes": ["s"], "edges": [], "marks": {"s": "failed"}},
        "revisions": {
            "s": {"nodes": ["0002"], "edges": [], "marks": {}},
            "t": {"nodes": [], "edges": [], "marks": {}, "error": hostile},
        },
        "plan": {
            "waves": [["s"]],
            "services": [{"service": "s", "current": None, "head": "0002", "state": "behind", "revisions": [revision]}],
        },
        "verify": [{"service": "s", "ok": False, "error": hostile, "checks": []}],
    }
    text = html(document)
    assert "<script" not in text and "<b>" not in text
    # the state (its data- attribute and its cell), the message, the SQL, the graph's error, verify's error
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 6
