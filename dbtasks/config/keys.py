"""What each key of migrations.yaml accepts, and the rules load() applies across services."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..database.urls import DRIVERS
from ..worker import revisions, sources
from .project import Service

DEFAULT_URL_ENV = "DATABASE_URL"
# ASCII only, anchored with \Z (a `$` also matches before a final newline); PostgreSQL cuts identifiers at 63 bytes.
NAME = re.compile(r"^[a-z][a-z0-9_-]*\Z")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}\Z")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}\Z")
_VERSION_TABLE = re.compile(r"^([A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}\Z")


def own_version_table(service: str, table: str = "alembic_version") -> str:
    """A version table of the service's own that `version_table` accepts: a service name may hold a '-', which a table
    name may not, and PostgreSQL cuts names at 63 bytes."""
    return f"{table}_{re.sub(r'[^A-Za-z0-9_$]', '_', service)}"[:63]


# Each service key: (type check, what to say when it fails).
_ServiceKeys = dict[str, tuple[Callable[[Any], bool], str]]


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)


def _is_identifier_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, str) and IDENTIFIER.match(item) for item in value)


def _is_database(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_DATABASE_NAME.match(value))
    return (
        isinstance(value, dict)
        and list(value) == ["url_env"]
        and isinstance(value["url_env"], str)
        and bool(ENV_NAME.match(value["url_env"]))
    )


def _is_env(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and ENV_NAME.match(k) and isinstance(v, (str, int, float, bool)) and "\0" not in str(v)
        for k, v in value.items()
    )


def is_x(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and bool(X_NAME.match(k)) and isinstance(v, (str, int, float, bool)) and "\0" not in str(v)
        for k, v in value.items()
    )


X_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*\Z")  # an -x name env.py looks up (the part before '=')
EXTENSION = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}\Z")  # CREATE EXTENSION's name (uuid-ossp has a dash)
OBJECT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z")  # module:attribute.path
SECTION = re.compile(r"^[^\[\]\r\n]+\Z")  # what ConfigParser accepts between [ and ]

SERVICE_KEYS: _ServiceKeys = {
    "path": (lambda v: isinstance(v, str) and bool(v), "expected a folder path"),
    "schema": (
        lambda v: isinstance(v, str) and bool(IDENTIFIER.match(v)),
        "expected a schema name (ASCII letters, digits, _ and $; at most 63)",
    ),
    "driver": (lambda v: v in DRIVERS, "expected asyncpg, psycopg2 or psycopg (psycopg 3)"),
    "alembic_ini": (lambda v: isinstance(v, str) and bool(v), "expected a file name (alembic.ini, or pyproject.toml)"),
    "toml_file": (
        lambda v: isinstance(v, str) and v.endswith(".toml"),
        "expected a .toml file holding [tool.alembic], relative to path (what 'alembic --toml-file' takes)",
    ),
    "ini_section": (
        lambda v: isinstance(v, str) and bool(SECTION.match(v)),
        "expected the name of a section of alembic.ini (what 'alembic -n NAME' takes)",
    ),
    "engines": (
        lambda v: (
            isinstance(v, dict)
            and bool(v)
            and all(isinstance(k, str) and bool(X_NAME.match(k)) and _is_database(d) for k, d in v.items())
        ),
        "expected a mapping of engine name (alembic.ini's databases =) to a database name or {url_env: VARIABLE}",
    ),
    "branch": (
        lambda v: isinstance(v, str) and bool(X_NAME.match(v)),
        "expected a branch label of its Alembic environment (branch_labels in its first revision)",
    ),
    "x": (is_x, "expected a mapping of name: value (each passed as Alembic's -x name=value)"),
    "extensions": (
        lambda v: isinstance(v, list) and all(isinstance(item, str) and bool(EXTENSION.match(item)) for item in v),
        "expected a list of extension names (postgis, pg_trgm, ...)",
    ),
    "prepare": (_is_str_list, "expected a list of .sql files, relative to the service's folder"),
    "bootstrap": (
        lambda v: (
            isinstance(v, dict)
            and list(v) == ["metadata"]
            and isinstance(v["metadata"], str)
            and bool(OBJECT_PATH.match(v["metadata"]))
        ),
        "expected {metadata: module:Base.metadata} (where the models' MetaData is)",
    ),
    "url_env": (lambda v: isinstance(v, str) and bool(ENV_NAME.match(v)), "expected an environment variable name"),
    "pythonpath": (_is_str_list, "expected a list of folders"),
    "env": (_is_env, "expected a mapping of VARIABLE: value (no NUL character)"),
    "python": (lambda v: isinstance(v, str) and bool(v), "expected an interpreter path"),
    "depends_on": (_is_str_list, "expected a list of service names"),
    "expect_tables": (_is_str_list, "expected a list of table names"),
    "schemas": (_is_identifier_list, "expected a list of schema names (ASCII letters, digits, _ and $; at most 63 each)"),
    "database": (_is_database, "expected a database name on the default server (at most 63 characters), or {url_env: VARIABLE}"),
    "version_table": (
        lambda v: isinstance(v, str) and bool(_VERSION_TABLE.match(v)),
        "expected a table or schema.table name (at most 63 characters each)",
    ),
    "create_schema": (lambda v: isinstance(v, bool), "expected true or false"),
    "lint": (lambda v: True, ""),  # read by config_lint, with a line per problem
}
REQUIRED = ("path", "driver")
TOP_KEYS = ("version", "database", "environments", "services", "targets", "lint", "bookkeeping_schema")
DATABASE_KEYS = ("url_env", "local")
ENVIRONMENT_KEYS = ("url_env", "protected", "statement_timeout", "lock_timeout", "url_envs", "x")
# A PostgreSQL duration: a number of milliseconds, or a number with one of its time units.
DURATION = re.compile(r"^(?P<number>[0-9]+(\.[0-9]+)?)[ \t]*(?P<unit>us|ms|s|min|h|d)?\Z")
_MILLISECONDS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_TIMEOUT_MS = 2**31 - 1  # statement_timeout and lock_timeout are int milliseconds in PostgreSQL


def duration_problem(text: str) -> str | None:
    """What is wrong with `text` as a statement_timeout / lock_timeout, or None when PostgreSQL takes it as meant."""
    match = DURATION.match(text)
    if match is None:
        return "expected a duration such as 30s, 500ms or 5min"
    milliseconds = float(match["number"]) * _MILLISECONDS[match["unit"] or "ms"]
    if 0 < milliseconds < 1:
        return "below 1ms, which PostgreSQL rounds to 0, no limit at all; use 1ms or more (0 turns the limit off)"
    if milliseconds > MAX_TIMEOUT_MS:
        return f"over PostgreSQL's limit of {MAX_TIMEOUT_MS}ms (about 24 days)"
    return None


def merged(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """The node's pairs with YAML merge keys (`<<: *common`) expanded; explicit keys win over merged ones."""
    own = [(key, value) for key, value in node.value if key.value != "<<"]
    names = {key.value for key, _ in own}
    found: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in node.value:
        if key.value != "<<":
            continue
        for source in value.value if isinstance(value, yaml.SequenceNode) else [value]:
            if isinstance(source, yaml.MappingNode):
                for pair in merged(source):
                    if pair[0].value not in names:
                        names.add(pair[0].value)
                        found.append(pair)
    return own + found


def version_table(
    declared: str | None, schema: str, ini: Path, path: Path, section: str = "alembic", pyproject: Path | None = None
) -> tuple[str, str] | None:
    """(schema, table) of the service's version table: as declared, else as its env.py passes it literally.

    Without a literal version_table_schema (none, or a computed one) it is taken to be in the service's schema:
    the worker checks what env.py really does before anything is written, and says what to declare otherwise.
    """
    if declared:
        in_schema, _, declared_table = declared.rpartition(".")
        return (in_schema or schema, declared_table)
    env_py = revisions.environment_file(str(ini), str(path), section, str(pyproject) if pyproject else None)
    passed = (
        sources.version_table_of(env_py)
        if env_py
        else {"version_table": sources.UNKNOWN, "version_table_schema": sources.UNKNOWN}
    )
    table, found = passed["version_table"], passed["version_table_schema"]
    if table == sources.UNKNOWN:
        return None  # a computed name: declare it (the worker says so when it differs from alembic_version)
    return (schema if found is None or found == sources.UNKNOWN else found, table or "alembic_version")


def env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def find_cycle(services: Mapping[str, Service]) -> list[str]:
    """One dependency cycle as a path that ends where it starts, or []."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> list[str]:
        state[name] = 1
        for dep in services[name].depends_on:
            if dep not in services or dep == name:
                continue
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep] if dep in path else [name, dep]
            if dep not in state:
                found = visit(dep, [*path, dep])
                if found:
                    return found
        state[name] = 2
        return []

    for name in services:
        if name not in state:
            found = visit(name, [name])
            if found:
                return found
    return []


def bookkeeping_problem(name: object, services: Iterable[Any]) -> str | None:
    """Why `name` cannot be dbtasks' own schema (bookkeeping_schema), or None: a schema name no service owns."""
    if not isinstance(name, str) or not IDENTIFIER.match(name) or name == "public" or name.startswith("pg_"):
        return f"expected a schema of dbtasks' own (ASCII letters, digits, _ and $; not public, not pg_...), got {name!r}"
    owners = [service.name for service in services if name in service.owned_schemas]
    if owners:
        return f"{name} is a schema of {', '.join(owners)}; give dbtasks a schema no service owns"
    return None
