"""What a service's Python sources say without running them: where env.py keeps its version table, and which
tables its migrations create.

Shared by the parent (migrations.yaml's version-table check, before anything runs) and the worker (the
ownership rule). Standard library only, Python 3.8 at run time.
"""

from __future__ import annotations

import ast
import re
from typing import Iterable

from .revisions import text_of

UNKNOWN = "?"  # a value env.py computes at run time: only the worker can tell
_KEYWORDS = ("version_table", "version_table_schema")
_MENTION = re.compile(r"\bversion_table(?:_schema)?\b")
_LITERAL = re.compile(r"(version_table(?:_schema)?)\s*=\s*(['\"])([A-Za-z_][A-Za-z0-9_$]*)\2")
_CREATE_SQL = re.compile(r'\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"?(\w+)"?\.)?"?(\w+)"?', re.IGNORECASE)


def version_table_of(env_py: str) -> dict[str, str | None]:
    """{"version_table": ..., "version_table_schema": ...} as env.py passes them to context.configure.

    A value is the literal string (or a module-level constant) env.py passes, None when no call passes it,
    UNKNOWN when it is computed, or when the calls disagree.
    """
    found: dict[str, str | None] = {key: None for key in _KEYWORDS}
    try:
        text = text_of(env_py)
        if text is None:
            raise ValueError("not a readable file")
        if "version_table" not in text:
            return found
        quick = _literals(text)
        if quick is not None:
            return quick
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError, RecursionError):
        return {key: UNKNOWN for key in _KEYWORDS}
    constants = _module_constants(tree)
    seen: dict[str, set[str | None]] = {key: set() for key in _KEYWORDS}
    calls = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node) == "configure":
            calls += 1
            passed = {keyword.arg: keyword.value for keyword in node.keywords}
            if any(keyword.arg is None for keyword in node.keywords):  # configure(**options): anything goes
                return {key: UNKNOWN for key in _KEYWORDS}
            for key in _KEYWORDS:
                seen[key].add(_literal(passed[key], constants) if key in passed else None)
    for key in _KEYWORDS:
        values = seen[key]
        found[key] = values.pop() if len(values) == 1 else (UNKNOWN if values else None)
    return found


def _literals(text: str) -> dict[str, str | None] | None:
    """The regex reading of version_table_of, when it is exact: every mention a keyword given a string literal,
    outside comments, no **options; None sends the file to the parser."""
    mentions = list(_MENTION.finditer(text))
    values: dict[str, set[str]] = {key: set() for key in _KEYWORDS}
    for mention in mentions:
        line_start = text.rfind("\n", 0, mention.start()) + 1
        literal = _LITERAL.match(text, mention.start())
        if (
            literal is None
            or text[line_start : mention.start()].lstrip().startswith("#")
            or "#" in text[line_start : mention.start()]
        ):
            return None
        values[literal[1]].add(literal[3])
    if "**" in text:
        return None
    return {key: (found.pop() if len(found) == 1 else UNKNOWN) if found else None for key, found in values.items()}


def created_tables(files: Iterable[str], default_schema: str) -> set[tuple[str, str]]:
    """(schema, table) of every table the migration files create: op.create_table calls and CREATE TABLE in SQL."""
    found: set[tuple[str, str]] = set()
    for path in files:
        try:
            tree = ast.parse(text_of(path) or "")
        except (SyntaxError, ValueError, RecursionError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called(node) == "create_table" and node.args:
                name = _literal(node.args[0], {})
                schemas = [_literal(k.value, {}) for k in node.keywords if k.arg == "schema"]
                schema = schemas[0] if schemas else default_schema
                if name and name != UNKNOWN and schema and schema != UNKNOWN:
                    found.add((schema, name))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "TABLE" in node.value.upper():
                for schema, name in _CREATE_SQL.findall(node.value):
                    found.add((schema or default_schema, name))
    return found


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _literal(node.value, {})
            if value and value != UNKNOWN:
                constants[node.targets[0].id] = value
    return constants


def _literal(node: ast.AST, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None if node.value is None else UNKNOWN
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    return UNKNOWN
