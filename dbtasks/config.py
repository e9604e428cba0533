"""Load and validate migrations.yaml into a Project, before any database is touched: load()."""

from __future__ import annotations

import difflib
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .project import Environment, Project, Service, display_path
from .urls import DRIVERS, PLACEHOLDER, PLACEHOLDER_FIELDS

DEFAULT_URL_ENV = "DATABASE_URL"
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load(file: Path) -> Project:
    """Read and validate `file`; raise ConfigError listing every problem found."""
    return _Loader(file).load()


# Each service key: (type check, what to say when it fails).
_ServiceKeys = dict[str, tuple[Callable[[Any], bool], str]]


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)


def _is_env(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and _ENV_NAME.match(k) and isinstance(v, str | int | float | bool) for k, v in value.items()
    )


_SERVICE_KEYS: _ServiceKeys = {
    "path": (lambda v: isinstance(v, str) and bool(v), "expected a folder path"),
    "schema": (lambda v: isinstance(v, str) and bool(_IDENTIFIER.match(v)), "expected a schema name"),
    "driver": (lambda v: v in DRIVERS, "expected asyncpg, psycopg2 or psycopg (psycopg 3)"),
    "alembic_ini": (lambda v: isinstance(v, str) and bool(v), "expected a file name"),
    "url_env": (lambda v: isinstance(v, str) and bool(_ENV_NAME.match(v)), "expected an environment variable name"),
    "pythonpath": (_is_str_list, "expected a list of folders"),
    "env": (_is_env, "expected a mapping of VARIABLE: value"),
    "python": (lambda v: isinstance(v, str) and bool(v), "expected an interpreter path"),
    "depends_on": (_is_str_list, "expected a list of service names"),
    "expect_tables": (_is_str_list, "expected a list of table names"),
}
_REQUIRED = ("path", "schema", "driver")
_TOP_KEYS = ("version", "database", "environments", "services")
_DATABASE_KEYS = ("url_env", "local")
_ENVIRONMENT_KEYS = ("url_env", "protected", "statement_timeout", "lock_timeout")
# A PostgreSQL duration: a number of milliseconds, or a number with one of its time units.
_DURATION = re.compile(r"^\d+(\.\d+)?\s*(us|ms|s|min|h|d)?$")


class _Loader:
    """Walks the YAML node tree so that every problem is reported with its line number."""

    def __init__(self, file: Path) -> None:
        self.file = file.resolve()
        self.label = display_path(file)
        self.problems: list[str] = []
        self.suggested: set[tuple[str, str]] = set()  # (where, key) a misspelled key was matched to
        self.value_nodes: dict[tuple[str, str], yaml.Node] = {}  # (service, key) -> its value, for line numbers

    def at(self, name: str, key: str, fallback: yaml.Node) -> yaml.Node:
        """The node of services.<name>.<key>, so a problem points at that key's line."""
        return self.value_nodes.get((name, key), fallback)

    def problem(self, node: yaml.Node | None, where: str, message: str) -> None:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        subject = f" {where}:" if where else ""
        self.problems.append(f"{self.label}{line}:{subject} {message}")

    def load(self) -> Project:
        if not self.file.is_file():
            raise ConfigError([f"{self.label}: not found; create it (see README, 'migrations.yaml')"])
        try:
            root = yaml.compose(self.file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            reason = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ConfigError([f"{self.label}{line}: invalid YAML: {reason}; fix the syntax"]) from None
        if not isinstance(root, yaml.MappingNode):
            raise ConfigError([f"{self.label}: expected a mapping with version, database and services"])
        top = self.mapping(root, "", _TOP_KEYS)
        self.check_version(top.get("version"))
        url_env, local = self.database(top.get("database"))
        environments = self.environments(top.get("environments"), url_env)
        services = self.services(top.get("services"))
        if self.problems:
            raise ConfigError(self.problems)
        return Project(file=self.file, url_env=url_env, services=services, local=local, environments=environments)

    def mapping(self, node: yaml.MappingNode, where: str, allowed: tuple[str, ...]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Keys of `node` to (key node, value node); unknown keys are reported with a suggestion."""
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in _merged(node):
            key = key_node.value
            path = f"{where}.{key}" if where else key
            if key in entries:
                self.problem(key_node, path, "duplicate key; keep one")
            elif not where and key.startswith("x-"):
                continue  # extension fields hold YAML anchors (`x-common: &common`), as in docker-compose
            elif allowed and key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
                if close:
                    self.suggested.add((where, close[0]))
                self.problem(key_node, path, f"unknown key; {hint}")
            entries[key] = (key_node, value_node)
        return entries

    def check_version(self, entry: tuple[yaml.Node, yaml.Node] | None) -> None:
        if entry is None:
            if ("", "version") not in self.suggested:
                self.problem(None, "version", "missing; add 'version: 1'")
        elif type(self.value(entry[1])) is not int or self.value(entry[1]) != 1:
            self.problem(entry[1], "version", f"expected 1, got {self.value(entry[1])!r}")

    def database(self, entry: tuple[yaml.Node, yaml.Node] | None) -> tuple[str, bool]:
        if entry is None:
            return DEFAULT_URL_ENV, True
        node = entry[1]
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "database", "expected a mapping (url_env: DATABASE_URL)")
            return DEFAULT_URL_ENV, True
        keys = self.mapping(node, "database", _DATABASE_KEYS)
        url_env, local = DEFAULT_URL_ENV, True
        if "url_env" in keys:
            value = self.value(keys["url_env"][1])
            if isinstance(value, str) and _ENV_NAME.match(value):
                url_env = value
            else:
                self.problem(keys["url_env"][1], "database.url_env", f"expected an environment variable name, got {value!r}")
        if "local" in keys:
            value = self.value(keys["local"][1])
            if isinstance(value, bool):
                local = value
            else:
                self.problem(keys["local"][1], "database.local", f"expected true or false, got {value!r}")
        return url_env, local

    def environments(self, entry: tuple[yaml.Node, yaml.Node] | None, default_url_env: str) -> dict[str, Environment]:
        if entry is None:
            return {}
        node = entry[1]
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "environments", "expected a mapping of environment name to settings")
            return {}
        found: dict[str, Environment] = {}
        for name, (key_node, value_node) in self.mapping(node, "environments", ()).items():
            where = f"environments.{name}"
            if not _NAME.match(name):
                self.problem(key_node, where, "environment names use lowercase letters, digits, - and _")
            elif not isinstance(value_node, yaml.MappingNode):
                self.problem(value_node, where, "expected a mapping (protected, url_env, statement_timeout, lock_timeout)")
            else:
                values = {key: (self.value(v), v) for key, (_, v) in self.mapping(value_node, where, _ENVIRONMENT_KEYS).items()}
                environment = self.environment(name, values, default_url_env)
                if environment is not None:
                    found[name] = environment
        return found

    def environment(self, name: str, values: dict[str, tuple[Any, yaml.Node]], default_url_env: str) -> Environment | None:
        where, before = f"environments.{name}", len(self.problems)
        url_env, node = values.get("url_env", (default_url_env, None))
        if not (isinstance(url_env, str) and _ENV_NAME.match(url_env)):
            self.problem(node, f"{where}.url_env", f"expected an environment variable name, got {url_env!r}")
        protected, node = values.get("protected", (False, None))
        if not isinstance(protected, bool):
            self.problem(node, f"{where}.protected", f"expected true or false, got {protected!r}")
        timeouts: dict[str, str | None] = {}
        for key in ("statement_timeout", "lock_timeout"):
            value, node = values.get(key, (None, None))
            text = None if value is None else str(value).strip()
            if text is not None and (isinstance(value, bool) or not _DURATION.match(text)):
                self.problem(node, f"{where}.{key}", f"expected a duration such as 30s, 500ms or 5min, got {value!r}")
            timeouts[key] = text + "ms" if text and text.isdigit() else text
        if len(self.problems) > before:
            return None
        return Environment(name, url_env, protected, timeouts["statement_timeout"], timeouts["lock_timeout"])

    def services(self, entry: tuple[yaml.Node, yaml.Node] | None) -> dict[str, Service]:
        if entry is None:
            if ("", "services") not in self.suggested:
                self.problem(None, "services", "missing; declare at least one service")
            return {}
        node = entry[1]
        if not isinstance(node, yaml.MappingNode) or not node.value:
            self.problem(node, "services", "expected a mapping of service name to settings")
            return {}
        services: dict[str, Service] = {}
        nodes: dict[str, yaml.Node] = {}
        declared = self.mapping(node, "services", ())
        for name, (key_node, value_node) in declared.items():
            service = self.service(name, key_node, value_node)
            if service is not None:
                services[name] = service
                nodes[name] = value_node
        self.check_dependencies(services, nodes, list(declared))
        self.check_schemas(services, nodes)
        return services

    def service(self, name: str, key_node: yaml.Node, node: yaml.Node) -> Service | None:
        where = f"services.{name}"
        if not _NAME.match(name):
            self.problem(key_node, where, "service names use lowercase letters, digits, - and _")
            return None
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, "expected a mapping with path, schema and driver")
            return None
        raw: dict[str, Any] = {}
        before = len(self.problems)
        for key, (_, value_node) in self.mapping(node, where, tuple(_SERVICE_KEYS)).items():
            self.value_nodes[(name, key)] = value_node
            if key not in _SERVICE_KEYS:
                continue
            value = self.value(value_node)
            check, expected = _SERVICE_KEYS[key]
            if not check(value):
                self.problem(value_node, f"{where}.{key}", f"{expected}, got {value!r}")
            raw[key] = value
        for key in _REQUIRED:
            if key not in raw and (where, key) not in self.suggested:
                self.problem(key_node, where, f"missing {key!r}")
        if len(self.problems) > before:
            return None
        return self.build_service(name, raw, node)

    def build_service(self, name: str, raw: dict[str, Any], node: yaml.Node) -> Service | None:
        where = f"services.{name}"
        path = (self.file.parent / raw["path"]).resolve()
        ini = path / raw.get("alembic_ini", "alembic.ini")
        python = os.path.expanduser(raw["python"]) if "python" in raw else None
        if not path.is_dir():
            self.problem(
                self.at(name, "path", node), f"{where}.path", f"folder {display_path(path)} does not exist; fix the path"
            )
            return None
        if not ini.is_file():
            self.problem(
                self.at(name, "alembic_ini", self.at(name, "path", node)),
                f"{where}.alembic_ini",
                f"{display_path(ini)} does not exist; run 'alembic init' there or fix alembic_ini",
            )
            return None
        if python is not None:
            resolved = (path / python) if "/" in python else shutil.which(python)
            resolved = Path(resolved) if resolved else path / python
            if not os.access(resolved, os.X_OK):
                self.problem(
                    self.at(name, "python", node),
                    f"{where}.python",
                    f"{display_path(resolved)} is not an executable interpreter; create the venv or fix python",
                )
                return None
            python = str(resolved)
        for variable, value in raw.get("env", {}).items():
            unknown = [field for field in PLACEHOLDER.findall(str(value)) if field not in PLACEHOLDER_FIELDS]
            if unknown:
                known = ", ".join(f"${{db.{field}}}" for field in PLACEHOLDER_FIELDS)
                self.problem(
                    self.at(name, "env", node),
                    f"{where}.env.{variable}",
                    f"unknown placeholder ${{db.{unknown[0]}}}; use {known}",
                )
                return None
        return Service(
            name=name,
            path=path,
            schema=raw["schema"],
            driver=raw["driver"],
            alembic_ini=ini,
            url_env=raw.get("url_env", DEFAULT_URL_ENV),
            pythonpath=tuple((path / item).resolve() for item in raw.get("pythonpath", [])),
            env={key: _env_text(value) for key, value in raw.get("env", {}).items()},
            python=python,
            depends_on=tuple(raw.get("depends_on", [])),
            expect_tables=tuple(raw.get("expect_tables", [])),
        )

    def check_dependencies(self, services: dict[str, Service], nodes: dict[str, yaml.Node], declared: list[str]) -> None:
        """Unknown names are checked against every declared service, so one broken entry does not cascade."""
        for name, service in services.items():
            where = self.at(name, "depends_on", nodes[name])
            for dep in service.depends_on:
                if dep == name:
                    self.problem(where, f"services.{name}.depends_on", "a service cannot depend on itself")
                elif dep not in declared:
                    close = difflib.get_close_matches(dep, declared, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(declared)}"
                    self.problem(where, f"services.{name}.depends_on", f"unknown service {dep!r}{hint}")
        cycle = _find_cycle(services)
        if cycle:
            first = cycle[0]
            self.problem(
                self.at(first, "depends_on", nodes[first]),
                f"services.{first}.depends_on",
                f"dependency cycle {' -> '.join(cycle)}; remove one of these dependencies",
            )

    def check_schemas(self, services: dict[str, Service], nodes: dict[str, yaml.Node]) -> None:
        owners: dict[str, str] = {}
        for name, service in services.items():
            if service.schema in owners:
                self.problem(
                    self.at(name, "schema", nodes[name]),
                    f"services.{name}.schema",
                    f"schema {service.schema!r} is already owned by {owners[service.schema]!r}; give each service its own schema",
                )
            else:
                owners[service.schema] = name

    @staticmethod
    def value(node: yaml.Node) -> Any:
        return yaml.SafeLoader(yaml.safe_dump(None)).construct_object(node, deep=True)


def _merged(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """The node's pairs with YAML merge keys (`<<: *common`) expanded; explicit keys win over merged ones."""
    own = [(key, value) for key, value in node.value if key.value != "<<"]
    names = {key.value for key, _ in own}
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in node.value:
        if key.value != "<<":
            continue
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        for source in sources:
            if isinstance(source, yaml.MappingNode):
                for pair in _merged(source):
                    if pair[0].value not in names:
                        names.add(pair[0].value)
                        merged.append(pair)
    return own + merged


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _find_cycle(services: Mapping[str, Service]) -> list[str]:
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
