"""Reading values out of Python source without running it (init's scan of env.py and the service's own modules):
calls, environment reads, -x reads, string expressions, and what a pydantic BaseSettings class reads."""

from __future__ import annotations

import ast

from ..worker import sources

UNKNOWN = sources.UNKNOWN  # a value env.py computes at run time


def called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def reads_x(func: ast.AST) -> bool:
    """`context.get_x_argument(...).get`: a -x name looked up in env.py."""
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call) and called(func.value) == "get_x_argument"


def is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (isinstance(node, ast.Name) and node.id == "environ")


def reads_environment(func: ast.AST) -> bool:
    """os.environ.get, environ.get, os.getenv, getenv."""
    if isinstance(func, ast.Attribute):
        return (func.attr == "get" and is_environ(func.value)) or (func.attr == "getenv")
    return isinstance(func, ast.Name) and func.id == "getenv"


def keyword(keywords: dict[str, ast.expr], name: str, constants: dict[str, str]) -> str | None:
    return string(keywords[name], constants) if name in keywords else None


def string(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    """A string expression's value: a literal, a known constant, an f-string of those; None for None, else UNKNOWN."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None if node.value is None else UNKNOWN
    if isinstance(node, ast.Name):
        return constants.get(node.id, UNKNOWN)
    if isinstance(node, ast.JoinedStr):
        pieces = []
        for value in node.values:
            piece = string(value.value if isinstance(value, ast.FormattedValue) else value, constants)
            if piece is None or piece == UNKNOWN:
                return UNKNOWN
            pieces.append(piece)
        return "".join(pieces)
    return UNKNOWN


def environment_reads(tree: ast.Module, constants: dict[str, str]) -> dict[str, bool]:
    """The environment variables a module reads: os.environ["X"] (required: True), os.environ.get / os.getenv
    (optional: False), and the fields of its pydantic BaseSettings classes (env_prefix + field name, or an alias)."""
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and called(node) in ("get", "getenv") and node.args and reads_environment(node.func):
            name = string(node.args[0], constants)
            if name and name.isidentifier():
                found.setdefault(name, False)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and is_environ(node.value):
            name = string(node.slice, constants)
            if name and name.isidentifier():
                found[name] = True
        elif isinstance(node, ast.ClassDef) and any(_base_name(base) == "BaseSettings" for base in node.bases):
            for name in settings_fields(node, constants):
                found.setdefault(name, False)
    return found


def settings_fields(cls: ast.ClassDef, constants: dict[str, str]) -> list[str]:
    """The variables a BaseSettings class reads: env_prefix (model_config = SettingsConfigDict(env_prefix=...), or an
    inner `class Config: env_prefix = ...`) + each annotated field's name, upper-cased; a field's alias
    (Field(alias=...), validation_alias=..., env=...) as written."""
    prefix = ""
    for node in cls.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "model_config" for t in node.targets):
            if isinstance(node.value, ast.Call):
                prefix = keyword({k.arg: k.value for k in node.value.keywords if k.arg}, "env_prefix", constants) or prefix
        elif isinstance(node, ast.ClassDef) and node.name == "Config":
            for item in node.body:
                if isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "env_prefix" for t in item.targets):
                    prefix = string(item.value, constants) or prefix
    if prefix == UNKNOWN:
        return []
    names: list[str] = []
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)) or node.target.id == "model_config":
            continue
        alias = None
        if isinstance(node.value, ast.Call) and called(node.value) == "Field":
            keywords = {k.arg: k.value for k in node.value.keywords if k.arg}
            alias = next(
                (keyword(keywords, key, constants) for key in ("validation_alias", "alias", "env") if key in keywords), None
            )
        names.append(alias if alias and alias != UNKNOWN else f"{prefix}{node.target.id}".upper())
    return names


def _base_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
