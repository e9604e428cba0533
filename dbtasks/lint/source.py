"""What lint reads in a revision's .py file, without importing it: its silence comments, and the line of the op
that renders a statement (the best match of the op call's string literals with the statement's names)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from .rules import unknown_rule

# `# lint: ignore[rule-a, rule-b] -- the reason it is safe here`
SILENCE = re.compile(r"#\s*lint\s*:\s*ignore\b(?P<rest>.*)\Z")
_WELL_FORMED = re.compile(r"\[(?P<rules>[^\]]*)\]\s*(?:--\s*(?P<reason>.*))?\Z")
FORM = "# lint: ignore[RULE] -- why it is safe here"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
# Which op renders which statement: of calls naming the same table and column, the one of the right kind wins.
_KINDS = (
    (re.compile(r"\bADD COLUMN\b", re.I), ("add_column",)),
    (re.compile(r"^CREATE (UNIQUE )?INDEX\b", re.I), ("create_index",)),
    (re.compile(r"\bFOREIGN KEY\b", re.I), ("create_foreign_key",)),
    (re.compile(r"\bADD CONSTRAINT\b", re.I), ("create_unique_constraint", "create_check_constraint", "create_primary_key")),
    (re.compile(r"\bALTER COLUMN\b|^ALTER TABLE \S+ RENAME\b", re.I), ("alter_column",)),
    (re.compile(r"^CREATE TABLE\b", re.I), ("create_table",)),
    (re.compile(r"^DROP INDEX\b", re.I), ("drop_index",)),
    (re.compile(r"\bDROP COLUMN\b", re.I), ("drop_column",)),
    (re.compile(r"\bDROP CONSTRAINT\b", re.I), ("drop_constraint",)),
    (re.compile(r"^DROP TABLE\b", re.I), ("drop_table",)),
    (re.compile(r"^ALTER TABLE \S+ RENAME TO\b", re.I), ("rename_table",)),
)


@dataclass
class Silence:
    """One silence comment: the rules it names, its line, and the problem with it (None when it is well formed)."""

    line: int
    rules: tuple[str, ...]
    problem: str | None = None
    used: set[str] = field(default_factory=set)


def silences(path: Path) -> list[Silence]:
    """The silence comments of a revision file (comments only: a string that looks like one is not)."""
    found: list[Silence] = []
    for line, text in _comments(path):
        match = SILENCE.match(text.strip())
        if match is None:
            continue
        form = _WELL_FORMED.match(match["rest"].strip())
        if form is None:
            found.append(Silence(line, (), f"malformed silence comment; write {FORM}"))
            continue
        rules = tuple(rule.strip() for rule in form["rules"].split(",") if rule.strip())
        unknown = [problem for problem in map(unknown_rule, rules) if problem]
        if not rules:
            problem: str | None = f"the silence names no rule; write {FORM}"
        elif unknown:
            problem = f"the silence names an {unknown[0]}"
        elif not (form["reason"] or "").strip():
            problem = f"the silence of {', '.join(rules)} gives no reason; add one after ' -- ' ({FORM})"
        else:
            problem = None
        found.append(Silence(line, rules, problem))
    return found


def _comments(path: Path) -> list[tuple[int, str]]:
    try:
        source = path.read_bytes()
        tokens = list(tokenize.tokenize(io.BytesIO(source).readline))
    except (OSError, SyntaxError, tokenize.TokenError):
        return []
    return [(token.start[0], token.string) for token in tokens if token.type == tokenize.COMMENT]


def op_line(path: Path, statement: str) -> int | None:
    """The line of the call in upgrade() whose string literals best match `statement` (its names, or its whole text
    for op.execute), else upgrade()'s own line; None when the file has no upgrade()."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    upgrade = next((node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "upgrade"), None)
    if upgrade is None:
        return None
    names = set(_NAME.findall(statement))
    kinds = {method for pattern, methods in _KINDS if pattern.search(statement.strip()) for method in methods}
    text = _normalized(statement)
    best, best_score = upgrade.lineno, 0.0
    calls = [node.value for node in ast.walk(upgrade) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)]
    for node in sorted(calls, key=lambda call: call.lineno):  # of equal matches, the first op wins
        literals = {sub.value for sub in ast.walk(node) if isinstance(sub, ast.Constant) and isinstance(sub.value, str)}
        score = sum(1.0 for literal in literals if literal in names)
        if score and isinstance(node.func, ast.Attribute) and node.func.attr in kinds:
            score += 1.5
        if any(text and text in _normalized(literal) for literal in literals if len(literal) > 20):
            score += 100  # op.execute("...") holding the statement itself
        if score > best_score:
            best, best_score = node.lineno, score
    return best


def _normalized(sql: str) -> str:
    return " ".join(sql.replace('"', "").split()).rstrip(";").strip().lower()
