"""lint's pieces without squawk or a worker: the rule layers, silence comments, the op behind a statement."""

from __future__ import annotations

from pathlib import Path

from dbtasks.lint.check import statement_at
from dbtasks.lint.rules import DEFAULT_EXCLUDE, RULES, LintRules, unknown_rule
from dbtasks.lint.source import op_line, silences
from dbtasks.lint.squawk import arguments


def test_the_default_excludes_are_squawk_rules_and_leave_the_lock_rules_on() -> None:
    assert set(DEFAULT_EXCLUDE) <= RULES
    locks = {"adding-required-field", "require-concurrent-index-creation", "changing-column-type"}
    assert not locks & set(LintRules().exclude)
    assert not {"adding-foreign-key-constraint", "renaming-column", "ban-concurrent-index-creation-in-transaction"} & set(
        LintRules().exclude
    )


def test_layers_apply_in_order_and_include_turns_a_default_back_on() -> None:
    top = LintRules().layered(["renaming-column"], ["prefer-identity", "require-table-schema"])
    assert "renaming-column" in top.exclude and "prefer-identity" not in top.exclude
    assert top.include == ("prefer-identity", "require-table-schema")
    service = top.layered(["require-table-schema"], ["renaming-column"])
    assert "renaming-column" not in service.exclude and "require-table-schema" in service.exclude
    assert service.include == ("prefer-identity", "renaming-column")


def test_squawk_gets_the_rules_as_options() -> None:
    rules = LintRules().layered(["renaming-column"], ["require-table-schema"], "13")
    args = arguments(rules)
    assert args[:3] == ["--reporter", "json", "--no-error-on-unmatched-pattern"]
    assert args[3] == "--exclude=" + ",".join([*DEFAULT_EXCLUDE, "renaming-column"])
    assert args[4:] == ["--include=require-table-schema", "--pg-version=13.0"]
    assert rules.layered([], [], None).pg_version == "13" and rules.layered([], [], "16").pg_version == "16"


def test_an_unknown_rule_gets_the_closest_name() -> None:
    assert unknown_rule("renaming-column") is None
    assert unknown_rule("renamng-column") == "unknown squawk rule 'renamng-column'; did you mean 'renaming-column'?"
    assert unknown_rule(3) == "unknown squawk rule 3; see https://squawkhq.com/docs/rules for the rules"


def test_silences_are_comments_with_rules_and_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "r.py"
    path.write_text(
        "def upgrade():\n"
        "    # lint: ignore[renaming-column, changing-column-type] -- no reader left\n"
        "    x = '# lint: ignore[renaming-column]'  # a string, not a comment\n"
        "    # lint: ignore[renaming-column]\n"
        "    # lint: ignore renaming-column\n"
        "    # lint: ignore[] -- why\n",
        encoding="utf-8",
    )
    found = [(s.line, s.rules, s.problem) for s in silences(path)]
    assert found == [
        (2, ("renaming-column", "changing-column-type"), None),
        (
            4,
            ("renaming-column",),
            "the silence of renaming-column gives no reason; add one after ' -- ' (# lint: ignore[RULE] -- why it is safe here)",
        ),
        (5, (), "malformed silence comment; write # lint: ignore[RULE] -- why it is safe here"),
        (6, (), "the silence names no rule; write # lint: ignore[RULE] -- why it is safe here"),
    ]


def test_the_op_of_the_right_kind_naming_the_statement_wins(tmp_path: Path) -> None:
    path = tmp_path / "r.py"
    path.write_text(
        "def upgrade():\n"
        '    op.create_index("ix_t_name", "t", ["name"])\n'
        '    op.alter_column("t", "name", type_=sa.Text())\n'
        '    op.execute("UPDATE t SET name = lower(name) WHERE name IS NOT NULL")\n',
        encoding="utf-8",
    )
    assert op_line(path, "ALTER TABLE t ALTER COLUMN name TYPE TEXT;") == 3
    assert op_line(path, "CREATE INDEX ix_t_name ON t (name);") == 2
    assert op_line(path, "UPDATE t SET name = lower(name) WHERE name IS NOT NULL;") == 4
    assert op_line(path, "DROP TABLE other;") == 1  # nothing matches: upgrade() itself


def test_statement_at_gives_the_whole_statement_around_a_line() -> None:
    text = "BEGIN;\n\nCREATE TABLE t (\n    id INT\n);\n\nALTER TABLE t RENAME a TO b;\n\nCOMMIT;\n"
    assert statement_at(text, 3) == "CREATE TABLE t (\n    id INT\n);"
    assert statement_at(text, 6) == "ALTER TABLE t RENAME a TO b;"
