"""`inv db.lint` and `db.lint-all`: squawk on each revision's offline upgrade SQL, findings mapped to the revision file.

Planted revisions in a copy of the project carry the five lock risks of issue 12; lint needs no database (the
revisions are rendered offline), except where check-all and verify are combined with it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from _support import (
    REPO,
    assert_bad_input,
    assert_failure,
    assert_ok,
    head_of,
    inv,
    inv_process,
    plant_migration,
    replace_once,
    show,
    summary_states,
    version,
)

SERVICES = ("users", "habits", "movements", "meals", "practices", "journal")
HINT = "fix the migration, or silence a finding in its revision file with '# lint: ignore[RULE] -- why it is safe'"
IMPORTS = "import sqlalchemy as sa\n    from alembic import op\n    "
OP_LINE = 12  # plant_migration's upgrade() starts at line 10: two import lines, then the op
# The five risks of the issue: the op, and the squawk rule that must catch it.
RISKS = {
    "adding-required-field": 'op.add_column("habits", sa.Column("color", sa.Text(), nullable=False), schema="habits")',
    "require-concurrent-index-creation": 'op.create_index("ix_habits_name", "habits", ["name"], schema="habits")',
    "changing-column-type": 'op.alter_column("habits", "name", type_=sa.Text(), schema="habits")',
    "adding-foreign-key-constraint": (
        'op.create_foreign_key("fk_habits_template", "habits", "program_templates", ["program_template_id"], ["id"], '
        'source_schema="habits", referent_schema="habits")'
    ),
    "renaming-column": 'op.alter_column("habits", "name", new_column_name="title", schema="habits")',
}
# No lock risk: a new table, and an index on it built in the same revision (the table is empty).
CLEAN = (
    'op.create_table("notes", sa.Column("id", sa.BigInteger(), primary_key=True), sa.Column("body", sa.Text()), '
    'schema="habits")\n    op.create_index("ix_notes_body", "notes", ["body"], schema="habits")'
)


def plant(project: Path, body: str, revision: str = "a1b2c3d4e5f6", service: str = "habits") -> Path:
    return plant_migration(project, service, revision, head_of(service, project), IMPORTS + body)


def linted(project: Path, *args: str, code: int = 1) -> dict[str, object]:
    """`inv db.lint ARGS --json`: its exit code and its JSON document."""
    result = inv(project, "db.lint", *args, "--json")
    assert result.returncode == code, show(result)
    assert "Traceback" not in result.stderr, show(result)
    return dict(json.loads(result.stdout))


def rules_of(document: dict[str, object]) -> list[tuple[str, str, int, str]]:
    return [(f["revision"], f["file"], f["line"], f["rule"]) for f in document["findings"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("rule", sorted(RISKS))
def test_each_planted_risk_is_caught_with_its_revision_file_and_line(project: Path, rule: str) -> None:
    path = plant(project, RISKS[rule])
    document = linted(project, "habits")
    assert document["ok"] is False and document["revisions"] == 3, document
    file = path.relative_to(project).as_posix()
    assert ("a1b2c3d4e5f6", file, OP_LINE, rule) in rules_of(document), document
    assert {finding[0] for finding in rules_of(document)} == {"a1b2c3d4e5f6"}  # the examples' own revisions stay clean


def test_concurrently_is_clean_in_an_autocommit_block_and_caught_in_the_transaction(project: Path) -> None:
    index = 'op.create_index("ix_habits_{0}", "habits", ["{0}"], schema="habits", postgresql_concurrently=True)'
    plant(
        project, "with op.get_context().autocommit_block():\n        " + index.format("name") + "\n    " + index.format("user_id")
    )
    findings = rules_of(linted(project, "habits"))
    assert [(line, rule) for _, _, line, rule in findings] == [(OP_LINE + 2, "ban-concurrent-index-creation-in-transaction")]


def test_a_clean_revision_gives_no_finding(project: Path) -> None:
    plant(project, CLEAN)
    result = assert_ok(inv(project, "db.lint", "habits"))
    assert result.stdout == "habits: no findings in 3 revisions\n"


def test_lint_prints_each_finding_at_its_op_and_fails_with_one_verdict(project: Path) -> None:
    path = plant(project, RISKS["renaming-column"])
    result = inv_process(project, "db.lint", "habits")
    assert result.returncode == 1, show(result)
    assert result.stdout.splitlines() == [
        f"{path.relative_to(project)}:{OP_LINE}: habits a1b2c3d4e5f6: renaming-column: Renaming a column may break existing clients.",
        "    ALTER TABLE habits.habits RENAME name TO title;",
    ]
    assert result.stderr.splitlines() == [f"habits: 1 finding in 3 revisions; {HINT}; see the findings above"]


def test_from_lints_only_the_revisions_after_it(project: Path) -> None:
    plant(project, RISKS["renaming-column"])
    document = linted(project, "habits", "--from", head_of("habits", REPO))
    assert document["revisions"] == 1 and [f[3] for f in rules_of(document)] == ["renaming-column"]


def test_branches_and_their_merge_are_linted_revision_by_revision(project: Path) -> None:
    base = head_of("habits", project)
    plant_migration(project, "habits", "b1", base, IMPORTS + RISKS["renaming-column"])
    plant_migration(project, "habits", "b2", base, IMPORTS + RISKS["require-concurrent-index-creation"])
    plant_migration(project, "habits", "b3", ("b1", "b2"), "pass")  # type: ignore[arg-type]  # a merge
    document = linted(project, "habits")
    assert document["revisions"] == 5
    assert sorted((f[0], f[3]) for f in rules_of(document)) == [
        ("b1", "renaming-column"),
        ("b2", "require-concurrent-index-creation"),
    ]


def test_lint_all_on_the_examples_is_clean(project: Path) -> None:
    result = assert_ok(inv(project, "db.lint-all"))
    counts = {"users": 1, "habits": 2, "movements": 1, "meals": 3, "practices": 1, "journal": 1}
    assert summary_states(result) == {
        name: ("ok", f"no findings in {n} revision{'s' if n > 1 else ''}") for name, n in counts.items()
    }
    assert result.stdout.splitlines()[-1] == "6 ok, 0 failed, 0 skipped"


def test_lint_all_flags_the_planted_risk_in_json_and_junit(project: Path, tmp_path: Path) -> None:
    plant(project, RISKS["changing-column-type"])
    report = tmp_path / "lint.xml"
    result = inv(project, "db.lint-all", "--json", "--junit", str(report))
    assert result.returncode == 1, show(result)
    assert result.stderr.splitlines()[-1] == "lint failed for habits"  # --json: no findings or table to point at
    documents = {entry["service"]: entry for entry in json.loads(result.stdout)["services"]}
    assert set(documents) == set(SERVICES)
    assert [f["rule"] for f in documents["habits"]["findings"]] == ["changing-column-type"]
    assert documents["habits"]["findings"][0]["statement"] == "ALTER TABLE habits.habits ALTER COLUMN name TYPE TEXT;"
    assert all(documents[name]["ok"] for name in SERVICES if name != "habits")
    suites = {suite.get("name"): suite for suite in ElementTree.parse(report).getroot()}
    assert suites["habits"].get("failures") == "1" and suites["users"].get("failures") == "0"
    (failure,) = suites["habits"].iter("failure")
    assert failure.get("message", "").endswith(
        f"_planted.py:{OP_LINE}: changing-column-type: " + documents["habits"]["findings"][0]["message"]
    )


def test_a_revision_that_cannot_render_offline_is_one_line(project: Path) -> None:
    plant(project, 'sa.inspect(op.get_bind()).has_table("habits", schema="habits")')
    line = assert_failure(inv(project, "db.lint", "habits"), "habits")
    assert line.startswith("habits: migration a1b2c3d4e5f6 failed: "), line
    assert line.endswith(
        " while rendering its SQL offline (lint reads each revision's SQL without a database); "
        "make it check context.is_offline_mode() before it reads the database"
    ), line


# -- rules and silences ------------------------------------------------------------------------------------------


def test_exclude_in_migrations_yaml_turns_a_rule_off_for_that_service(project: Path) -> None:
    plant(project, RISKS["renaming-column"])
    replace_once(
        project / "migrations.yaml",
        "    path: services/habits\n",
        "    path: services/habits\n    lint: {exclude: [renaming-column]}\n",
    )
    assert assert_ok(inv(project, "db.lint", "habits")).stdout == "habits: no findings in 3 revisions\n"


def test_include_at_the_top_level_turns_a_default_excluded_rule_back_on(project: Path) -> None:
    plant(project, CLEAN)
    replace_once(project / "migrations.yaml", "services:\n", "lint:\n  include: [prefer-identity]\nservices:\n")
    document = linted(project, "habits")
    assert {f[3] for f in rules_of(document)} == {"prefer-identity"}  # BigInteger primary keys render as BIGSERIAL


def test_pg_version_tells_squawk_which_postgresql_runs_the_migrations(project: Path) -> None:
    """A column with a constant default needs no table rewrite since PostgreSQL 11; before, it did."""
    plant(
        project, 'op.add_column("habits", sa.Column("score", sa.Integer(), server_default="0", nullable=False), schema="habits")'
    )
    assert assert_ok(inv(project, "db.lint", "habits")).stdout == "habits: no findings in 3 revisions\n"
    replace_once(
        project / "migrations.yaml", "    path: services/habits\n", "    path: services/habits\n    lint: {pg_version: 10}\n"
    )
    assert [f[3] for f in rules_of(linted(project, "habits"))] == ["adding-field-with-default"]


def test_a_silence_with_a_reason_silences_its_rule(project: Path) -> None:
    reason = "# lint: ignore[require-concurrent-index-creation] -- habits is empty until the import job runs\n    "
    plant(project, reason + RISKS["require-concurrent-index-creation"])
    assert assert_ok(inv(project, "db.lint", "habits")).stdout == "habits: no findings in 3 revisions\n"


def test_a_silence_without_a_reason_is_refused_and_silences_nothing(project: Path) -> None:
    plant(project, "# lint: ignore[require-concurrent-index-creation]\n    " + RISKS["require-concurrent-index-creation"])
    findings = rules_of(linted(project, "habits"))
    assert [(line, rule) for _, _, line, rule in findings] == [(12, "lint-silence"), (13, "require-concurrent-index-creation")]
    document = linted(project, "habits")
    assert document["findings"][0]["message"] == (  # type: ignore[index]
        "the silence of require-concurrent-index-creation gives no reason; add one after ' -- ' "
        "(# lint: ignore[RULE] -- why it is safe here)"
    )


def test_an_unused_or_unknown_silence_is_a_finding(project: Path) -> None:
    plant(project, "# lint: ignore[renaming-column] -- not any more\n    # lint: ignore[renaming-colum] -- typo\n    pass")
    document = linted(project, "habits")
    assert [f["message"] for f in document["findings"]] == [  # type: ignore[attr-defined]
        "the silence of renaming-column silences nothing in this revision; remove it",
        "the silence names an unknown squawk rule 'renaming-colum'; did you mean 'renaming-column'?",
    ]


@pytest.mark.parametrize(
    ("lint", "line", "message"),
    [
        (
            "{exclude: [renaming-colum]}",
            4,
            "services.habits.lint.exclude: unknown squawk rule 'renaming-colum'; did you mean 'renaming-column'?",
        ),
        ("{exlude: [renaming-column]}", 4, "services.habits.lint.exlude: unknown key; did you mean 'exclude'?"),
        (
            "[renaming-column]",
            4,
            "services.habits.lint: expected a mapping (exclude: [rule, ...], include: [rule, ...], pg_version: 16), got ['renaming-column']",
        ),
        (
            "{pg_version: sixteen}",
            4,
            "services.habits.lint.pg_version: expected a PostgreSQL major version such as 16 or 13.4, got 'sixteen'",
        ),
        (
            "{exclude: [renaming-column], include: [renaming-column]}",
            4,
            "services.habits.lint: 'renaming-column' is both excluded and included; keep it in one list",
        ),
    ],
)
def test_a_bad_lint_setting_is_one_line_with_its_line_number(project: Path, lint: str, line: int, message: str) -> None:
    text = (
        "version: 1\nservices:\n  habits:\n    lint: "
        + lint
        + "\n    path: services/habits\n    schema: habits\n    driver: asyncpg\n"
    )
    (project / "migrations.yaml").write_text(text, encoding="utf-8")
    assert assert_bad_input(inv(project, "db.lint", "habits")) == f"migrations.yaml:{line}: {message}"


def test_squawk_missing_is_one_line_naming_the_fix(project: Path, tmp_path: Path) -> None:
    """An interpreter whose scripts folder has no squawk, and no squawk on PATH: one line, exit 2, no worker started."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO}:{site}", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "invoke", "db.lint", "habits"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = assert_bad_input(result)
    assert line == (
        f"squawk: not found next to {venv / 'bin' / 'python'} nor on PATH; pip install squawk-cli "
        "(dbtasks depends on it: reinstall dbtasks into this venv)"
    )


# -- check-all --lint and verify ---------------------------------------------------------------------------------

# Changes the column's type to the type it has: the models still match, and squawk still sees ALTER COLUMN TYPE.
SAME_TYPE = 'op.execute("ALTER TABLE habits.habits ALTER COLUMN name TYPE varchar(120)")'


def test_check_all_lint_fails_on_a_planted_risk_and_passes_without(project: Path, upgraded_url: str) -> None:
    database_url = upgraded_url  # every service at head
    assert_ok(inv(project, "db.check-all", "--lint", url=database_url))
    plant(project, SAME_TYPE)
    assert_ok(inv(project, "db.upgrade", "habits", url=database_url))
    assert version(database_url, "habits") == ["a1b2c3d4e5f6"]
    assert_ok(inv(project, "db.check-all", url=database_url))  # check alone: the models match
    result = inv(project, "db.check-all", "--lint", url=database_url)
    assert result.returncode == 1, show(result)
    assert result.stderr.splitlines()[-1] == "check failed for habits; see the table above"
    assert summary_states(result)["habits"][0] == "failed"
    assert "habits a1b2c3d4e5f6: changing-column-type: " in result.stdout
    document = json.loads(inv(project, "db.check-all", "--lint", "--json", url=database_url).stdout)
    habits = next(entry for entry in document["services"] if entry["service"] == "habits")
    assert habits["ok"] is False and habits["differences"] == []
    assert [finding["rule"] for finding in habits["lint"]] == ["changing-column-type"]


def test_verify_includes_lint_as_a_check(project: Path, database_url: str, tmp_path: Path) -> None:
    plant(project, SAME_TYPE)
    report = tmp_path / "verify.xml"
    result = inv(project, "db.verify", "habits", "--json", "--junit", str(report), url=database_url, env={"DBTASKS_DEBUG": "1"})
    assert result.returncode == 1, show(result)
    # lint reads the SQL the checks' worker rendered for its offline-sql check: no worker of its own
    assert re.findall(r"^(\w+) \| worker: (\w+) ", result.stderr, re.M) == [("users", "upgrade"), ("habits", "verify")]
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["lint"]["ok"] is False
    assert checks["lint"]["detail"].startswith("1 finding in 3 revisions; first: services/habits/alembic/versions/")
    assert all(check["ok"] is not False for name, check in checks.items() if name != "lint"), checks
    cases = {case.get("name"): case for case in ElementTree.parse(report).getroot().iter("testcase")}
    assert cases["lint"].find("failure") is not None
    assert version(database_url, "habits") == []  # verify works in a scratch database: the real one is untouched
