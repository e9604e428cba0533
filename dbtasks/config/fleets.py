"""migrations.yaml's `targets:`: named fleets of databases for a set of services, validated with the rest of the file.

Only the declaration is checked here (keys, types, service names, the names written in the file); the members of a
fleet are found at run time (dbtasks.fleet.members), where a query's or a file's names are checked the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

import yaml

from .keys import ENV_NAME, NAME
from .project import Fleet, Service

KEYS = ("services", "query", "databases", "url_envs", "file", "x")
SOURCES = ("query", "databases", "url_envs", "file")
# A member's name becomes a URL's database part (or, with x, a schema's name): plain names only, never SQL text.
DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}\Z")
SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}\Z")
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
MEMBER = "${target}"


class Loader(Protocol):
    """What config._Loader offers: its problems list (with line numbers), key checking and values."""

    def problem(self, node: yaml.Node | None, where: str, message: str) -> None: ...

    def mapping(self, node: yaml.MappingNode, where: str, allowed: tuple[str, ...]) -> dict[str, tuple[yaml.Node, yaml.Node]]: ...

    @staticmethod
    def value(node: yaml.Node) -> Any: ...


def fleets(loader: Loader, entry: tuple[yaml.Node, yaml.Node] | None, services: Mapping[str, Service]) -> dict[str, Fleet]:
    """Every valid fleet of `targets:`, by name; each problem is reported to `loader` with its line."""
    if entry is None:
        return {}
    node = entry[1]
    if not isinstance(node, yaml.MappingNode):
        loader.problem(node, "targets", "expected a mapping of target name to settings (services, query, ...)")
        return {}
    found: dict[str, Fleet] = {}
    for name, (key_node, value_node) in loader.mapping(node, "targets", ()).items():
        where = f"targets.{name}"
        if not NAME.match(name):
            loader.problem(key_node, where, "target names use lowercase letters, digits, - and _")
        elif not isinstance(value_node, yaml.MappingNode):
            loader.problem(value_node, where, f"expected a mapping ({', '.join(KEYS)})")
        else:
            fleet = _fleet(loader, name, key_node, loader.mapping(value_node, where, KEYS), services)
            if fleet is not None:
                found[name] = fleet
    return found


def _fleet(
    loader: Loader, name: str, key_node: yaml.Node, keys: dict[str, tuple[yaml.Node, yaml.Node]], services: Mapping[str, Service]
) -> Fleet | None:
    where = f"targets.{name}"
    values = {key: (loader.value(node), node) for key, (_, node) in keys.items() if key in KEYS}
    chosen = [key for key in SOURCES if key in values]
    if len(chosen) != 1:
        found = f"got {' and '.join(chosen)}" if chosen else "got none"
        loader.problem(key_node, where, f"give exactly one of query, databases, url_envs or file ({found})")
        return None
    kind = chosen[0]
    value, node = values[kind]
    names = _services(loader, where, key_node, values.get("services"), services)
    x = _x(loader, where, values.get("x"))
    source = _source(loader, f"{where}.{kind}", kind, value, node, with_x=x is not None and bool(x))
    if names is None or source is None or x is None:
        return None
    if x and kind == "url_envs":
        loader.problem(values["x"][1], f"{where}.x", "x names a schema per tenant in one database; use databases, query or file")
        return None
    return Fleet(name, names, kind, source, x)


def _services(
    loader: Loader, where: str, key_node: yaml.Node, entry: tuple[Any, yaml.Node] | None, services: Mapping[str, Service]
) -> tuple[str, ...] | None:
    if entry is None:
        chosen = list(services)
    else:
        value, node = entry
        if not (isinstance(value, list) and value and all(isinstance(item, str) for item in value)):
            loader.problem(node, f"{where}.services", f"expected a list of service names, got {value!r}")
            return None
        unknown = [item for item in value if item not in services]
        if unknown:
            loader.problem(node, f"{where}.services", f"unknown service {unknown[0]!r}; known: {', '.join(services)}")
            return None
        chosen = [item for item in services if item in value]
    own = [item for item in chosen if services[item].database_key != ("default", "")]
    if own and entry is not None:
        loader.problem(
            entry[1],
            f"{where}.services",
            f"{own[0]!r} has a database of its own; a target's services live in each member database: leave it out",
        )
        return None
    found = tuple(item for item in chosen if item not in own)
    if not found:
        loader.problem(key_node, where, "every service has a database of its own; a target runs services of the default database")
    return found or None


def _source(loader: Loader, where: str, kind: str, value: Any, node: yaml.Node, *, with_x: bool) -> str | tuple[str, ...] | None:
    if kind in ("query", "file"):
        if isinstance(value, str) and value.strip() and "\0" not in value:
            return value.strip()
        loader.problem(
            node, where, f"expected {'a SELECT returning one name a row' if kind == 'query' else 'a file name'}, got {value!r}"
        )
        return None
    if not (isinstance(value, list) and value and all(isinstance(item, str) for item in value)):
        loader.problem(node, where, f"expected a list of {'variable' if kind == 'url_envs' else 'database'} names, got {value!r}")
        return None
    for item in value:
        problem = ENV_NAME.match(item) is None if kind == "url_envs" else member_problem(item, with_x=with_x)
        if problem:
            reason = "an environment variable name" if kind == "url_envs" else problem
            loader.problem(node, where, f"{item!r} is not {reason}")
            return None
    if len(set(value)) != len(value):
        loader.problem(node, where, f"{next(item for item in value if value.count(item) > 1)!r} is listed twice; keep one")
        return None
    return tuple(value)


def _x(loader: Loader, where: str, entry: tuple[Any, yaml.Node] | None) -> dict[str, str] | None:
    if entry is None:
        return {}
    value, node = entry
    if not (isinstance(value, dict) and value and all(isinstance(k, str) and ENV_NAME.match(k) for k in value)):
        loader.problem(node, f"{where}.x", f"expected a mapping of name: value (Alembic's -x name=value), got {value!r}")
        return None
    x = {key: str(item) for key, item in value.items()}
    for key, text in x.items():
        unknown = [field for field in PLACEHOLDER.findall(text) if field != "target"]
        if unknown or "\0" in text:
            loader.problem(node, f"{where}.x.{key}", f"unknown placeholder ${{{unknown[0] if unknown else ''}}}; use {MEMBER}")
            return None
    return x


def member_problem(name: str, *, with_x: bool) -> str | None:
    """Why `name` cannot be a member (a database name, or with x a schema name), or None."""
    if with_x:
        ok = SCHEMA_NAME.match(name) is not None
        return None if ok else "a schema name (ASCII letters, digits, _ and $; at most 63)"
    ok = DATABASE_NAME.match(name) is not None
    return None if ok else "a plain database name (ASCII letters, digits, _, $ and -; at most 63)"
